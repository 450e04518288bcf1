"""Remediation actions: rendered from a leaf, shown as their kubectl equivalent, run only when a person says so.

An action is data (kind + rendered target) until `apply` runs it through a `ClusterWriter`. Every run starts with a
server-side dry run, so an action that RBAC, admission or a PodDisruptionBudget would refuse is refused before
anything changes, and every attempt, refused or not, is appended to the audit log.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llmd_triage.cluster.base import ClusterError, ClusterWriter

#: set on a node this tool cordoned; uncordon only ever undoes a cordon that carries it
CORDON_ANNOTATION = "llmd-triage.llm-d.ai/cordoned-by"
#: kinds whose effect reaches beyond one object: the operator must type the target's name back
DANGEROUS = frozenset({"drain", "delete-pod", "rollout-restart", "scale"})
NODE_KINDS = frozenset({"cordon", "uncordon", "drain"})
#: kinds whose target is KIND/NAME of a workload (or any object, for annotate)
OBJECT_KINDS = frozenset({"rollout-restart", "scale", "annotate"})
_RESTARTABLE = {"Deployment", "StatefulSet", "DaemonSet"}
_SCALABLE = {"Deployment", "StatefulSet", "LeaderWorkerSet", "ReplicaSet"}


@dataclass
class ActionPlan:
    kind: str
    name: str
    namespace: str | None
    title: str
    command: str
    dangerous: bool
    api_version: str = "v1"
    resource_kind: str = ""
    value: str | None = None

    @property
    def target(self) -> str:
        if self.kind in NODE_KINDS:
            return f"node/{self.name}"
        if self.kind in OBJECT_KINDS:
            return f"{self.resource_kind.lower()}/{self.namespace or ''}/{self.name}".replace("//", "/")
        return f"pod/{self.namespace}/{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _object_ref(ref: str) -> tuple[str, str, str]:
    """`deploy/NAME`, `lws/NAME`, `pod/NAME`, `node/NAME` -> (apiVersion, Kind, NAME)."""
    from llmd_triage.cluster.base import WORKLOAD_KINDS

    short, sep, name = ref.partition("/")
    short = short.strip().lower()
    if not sep or not name or "/" in name:
        raise ValueError(f"action target {ref!r}: use KIND/NAME (deploy/NAME, sts/NAME, lws/NAME ...)")
    if short in ("pod", "pods", "po"):
        return "v1", "Pod", name
    if short in ("node", "nodes", "no"):
        return "v1", "Node", name
    if short not in WORKLOAD_KINDS:
        raise ValueError(f"action target {ref!r}: unknown kind {short!r}")
    api, kind = WORKLOAD_KINDS[short]
    return api, kind, name


def kubectl_equivalent(
    kind: str, name: str, namespace: str | None, resource_kind: str = "", value: str | None = None
) -> str:
    q = shlex.quote
    ns = f" -n {q(namespace)}" if namespace else ""
    ref = f"{resource_kind.lower()}/{name}"
    if kind == "rollout-restart":
        return f"kubectl rollout restart {q(ref)}{ns}"
    if kind == "scale":
        return f"kubectl scale {q(ref)}{ns} --replicas={q(str(value))}"
    if kind == "annotate":
        return f"kubectl annotate {q(ref)}{ns} {q(str(value))} --overwrite"
    if kind == "cordon":
        return f"kubectl cordon {q(name)}"
    if kind == "uncordon":
        return f"kubectl uncordon {q(name)}"
    if kind == "drain":
        return f"kubectl drain {q(name)} --ignore-daemonsets --delete-emptydir-data --timeout=15m"
    if kind == "delete-pod":
        return f"kubectl delete pod {q(name)} -n {q(namespace or 'default')}"
    raise ValueError(f"unknown action kind {kind!r}")


def make_plan(kind: str, name: str, namespace: str | None, title: str | None, value: str | None = None) -> ActionPlan:
    """A plan from rendered fields; ValueError when the target or value cannot be what the kind needs."""
    api, rkind, obj = "v1", "", name
    if kind in OBJECT_KINDS:
        api, rkind, obj = _object_ref(name)
        if kind == "rollout-restart" and rkind not in _RESTARTABLE:
            raise ValueError(f"rollout-restart: {rkind} cannot be restarted this way")
        if kind == "scale":
            if rkind not in _SCALABLE:
                raise ValueError(f"scale: {rkind} has no replicas")
            if not (value or "").isdigit() or int(value or 0) > 10_000:
                raise ValueError(f"scale: replicas {value!r} is not a count")
        if kind == "annotate" and not re.fullmatch(r"[A-Za-z0-9./_-]{1,253}=[^\n]{0,1024}", value or ""):
            raise ValueError(f"annotate: {value!r} is not KEY=VALUE")
    ns = None if kind in NODE_KINDS or rkind == "Node" else namespace
    default_titles = {
        "cordon": f"Cordon node {obj}: nothing new is scheduled on it",
        "uncordon": f"Uncordon node {obj}: it takes new pods again",
        "drain": f"Drain node {obj}: cordon it and evict every pod but DaemonSet pods",
        "delete-pod": f"Delete pod {ns}/{obj}: its controller recreates it",
        "rollout-restart": f"Restart every pod of {rkind} {ns}/{obj}, one by one as its update strategy says",
        "scale": f"Scale {rkind} {ns}/{obj} to {value} replica(s)",
        "annotate": f"Annotate {rkind} {obj} with {value}",
    }
    return ActionPlan(
        kind=kind,
        name=obj,
        namespace=ns,
        title=title or default_titles[kind],
        command=kubectl_equivalent(kind, obj, ns, rkind, value),
        dangerous=kind in DANGEROUS,
        api_version=api,
        resource_kind=rkind,
        value=value if kind in OBJECT_KINDS else None,
    )


@dataclass
class ActionOutcome:
    ok: bool
    dry_run: str
    result: str
    details: list[str] = field(default_factory=list)


async def apply(plan: ActionPlan, writer: ClusterWriter) -> ActionOutcome:
    """Dry run, then the real write. A refused dry run stops there: nothing was changed. A node is read fresh
    first (not from the run's cache): cordon and uncordon decide on its state as it is now."""
    user = getattr(writer, "user", "unknown")
    node: dict[str, Any] | None = None
    if plan.kind in NODE_KINDS:
        try:
            node = await writer.read_fresh("v1", "Node", plan.name)
        except ClusterError as exc:
            return ActionOutcome(False, "not run", f"refused: cannot read node {plan.name}: {exc.message}")
    if plan.kind == "uncordon":
        mine = ((node or {}).get("metadata") or {}).get("annotations", {}).get(CORDON_ANNOTATION)
        if not mine:
            return ActionOutcome(
                False,
                "not run",
                f"refused: node {plan.name} was not cordoned by llmd-triage (no {CORDON_ANNOTATION} annotation); "
                "whoever cordoned it may have a reason: uncordon it by hand if you mean to",
            )
    try:
        await _run(plan, writer, dry_run=True, node=node, user=user)
    except ClusterError as exc:
        return ActionOutcome(False, f"refused: {exc.message}", "not run")
    try:
        details = await _run(plan, writer, dry_run=False, node=node, user=user)
    except ClusterError as exc:
        return ActionOutcome(False, "ok", f"failed: {exc.message}")
    return ActionOutcome(True, "ok", "done", details)


def _cordon_patch(node: dict[str, Any] | None, user: str) -> dict[str, Any]:
    """Cordon, and say so on the node, unless someone else had cordoned it already (then it stays theirs)."""
    patch: dict[str, Any] = {"spec": {"unschedulable": True}}
    already = bool(((node or {}).get("spec") or {}).get("unschedulable"))
    if not already:
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        patch["metadata"] = {"annotations": {CORDON_ANNOTATION: f"{user} {stamp}"}}
    return patch


async def _run(
    plan: ActionPlan,
    writer: ClusterWriter,
    *,
    dry_run: bool,
    node: dict[str, Any] | None = None,
    user: str = "unknown",
) -> list[str]:
    if plan.kind == "cordon":
        await writer.patch("v1", "Node", plan.name, None, _cordon_patch(node, user), dry_run=dry_run)
        return [f"node/{plan.name} cordoned"]
    if plan.kind == "uncordon":
        patch = {"spec": {"unschedulable": False}, "metadata": {"annotations": {CORDON_ANNOTATION: None}}}
        await writer.patch("v1", "Node", plan.name, None, patch, dry_run=dry_run)
        return [f"node/{plan.name} uncordoned"]
    if plan.kind == "delete-pod":
        await writer.delete("v1", "Pod", plan.name, plan.namespace, dry_run=dry_run)
        return [f"pod/{plan.name} deleted"]
    if plan.kind in OBJECT_KINDS:
        if plan.kind == "rollout-restart":
            stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            patch: dict[str, Any] = {
                "spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}
            }
        elif plan.kind == "scale":
            patch = {"spec": {"replicas": int(plan.value or 0)}}
        else:
            key, _, val = (plan.value or "").partition("=")
            patch = {"metadata": {"annotations": {key: val}}}
        await writer.patch(plan.api_version, plan.resource_kind, plan.name, plan.namespace, patch, dry_run=dry_run)
        return [f"{plan.target}: {plan.kind} done"]
    if plan.kind == "drain":
        await writer.patch("v1", "Node", plan.name, None, _cordon_patch(node, user), dry_run=dry_run)
        out = [f"node/{plan.name} cordoned"]
        for pod in await writer.list("v1", "Pod", None, field_selector=f"spec.nodeName={plan.name}"):
            meta = pod.get("metadata") or {}
            owners = meta.get("ownerReferences") or []
            if any(o.get("kind") == "DaemonSet" for o in owners):
                continue
            if "kubernetes.io/config.mirror" in (meta.get("annotations") or {}):
                continue
            await writer.evict(meta.get("namespace", "default"), meta.get("name", ""), dry_run=dry_run)
            out.append(f"pod/{meta.get('namespace')}/{meta.get('name')} evicted")
        return out
    raise ClusterError("error", f"unknown action kind {plan.kind!r}")


async def apply_and_audit(
    plan: ActionPlan, writer: ClusterWriter, *, log: Path, context: str, walk_target: str
) -> ActionOutcome:
    """`apply`, then one audit line whatever came of it: the one way the TUI and --apply-remediation act."""
    outcome = await apply(plan, writer)
    user = getattr(writer, "user", "unknown")
    audit(log, plan=plan, user=user, context=context, outcome=outcome, walk_target=walk_target)
    return outcome


def default_audit_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "llmd-triage" / "audit.jsonl"


def audit(
    path: Path, *, plan: ActionPlan, user: str, context: str, outcome: ActionOutcome | None, walk_target: str
) -> None:
    """One JSON line per attempt, appended and flushed before returning: the log survives a crash after it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "user": user,
        "context": context,
        "target": plan.target,
        "walk_target": walk_target,
        "action": plan.kind,
        "command": plan.command,
        "dry_run": outcome.dry_run if outcome else "not run",
        "result": outcome.result if outcome else "cancelled by the operator",
    }
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
