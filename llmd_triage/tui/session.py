"""What the TUI works with, free of Textual: the cluster, the trees, scans, walks, exports and actions.

The screens only call this and render what comes back, so everything here is testable without a terminal and
the app stays a thin view (the shape harlequin keeps between its core and its Textual app).
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, ClusterWriter, TargetRef
from llmd_triage.engine.actions import ActionOutcome, ActionPlan, apply_and_audit, audit, default_audit_path
from llmd_triage.engine.record import StepRecord, Walk
from llmd_triage.engine.scan import ScanResult, is_gpu_node, is_llmd_pod, scan
from llmd_triage.engine.walk import Recorded, StartCallback, walk
from llmd_triage.files import write_atomic
from llmd_triage.tree.model import Tree, severity_rank

#: llm-d and Gateway API Inference Extension kinds the picker lists besides pods and nodes
PICKABLE_RESOURCES: tuple[tuple[str, str, str], ...] = (
    ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", "lws"),
    ("apps/v1", "Deployment", "deploy"),
    ("inference.networking.k8s.io/v1", "InferencePool", "inferencepool"),
)

#: Grafana dashboards by tree, as a search so no dashboard UID has to be known (llm-d ships its dashboards
#: in llm-d-infra; DCGM's is NVIDIA's "NVIDIA DCGM Exporter Dashboard")
DASHBOARD_SEARCH: dict[str, str] = {
    "oom-kill": "llm-d",
    "slow-model-load": "llm-d",
    "p2p-disabled": "llm-d",
    "rdma-link-down": "llm-d",
    "gpu-xid": "DCGM",
}


@dataclass
class Candidate:
    """One row of the target picker."""

    ref: str  # pod/NAME, node/NAME, lws/NAME ...
    namespace: str | None
    detail: str
    target: TargetRef | None  # None for kinds that are listed but not walked (an InferencePool)

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.ref}" if self.namespace else self.ref


@dataclass
class Session:
    cluster: Cluster
    trees: dict[str, Tree]
    #: kubeconfig context name, or snapshot:NAME
    context: str
    namespace: str | None
    is_snapshot: bool
    grafana_url: str | None = None
    audit_path: Path = field(default_factory=default_audit_path)
    export_dir: Path = field(default_factory=Path.cwd)
    probe_timeout: float = 20.0
    deadline: float = 120.0
    walk_fn: Callable[..., Any] = walk

    @property
    def server(self) -> str:
        return str(getattr(self.cluster, "server", "") or self.cluster.name)

    @property
    def can_remediate(self) -> bool:
        """Actions are offered on a live cluster only: a snapshot is the past, and nobody can change it."""
        return not self.is_snapshot and isinstance(self.cluster, ClusterWriter)

    def trees_for(self, target: TargetRef) -> list[Tree]:
        return [t for t in self.trees.values() if target.kind in t.applies_to]

    async def scan(self, on_walk: Callable[[Walk], None] | None = None) -> ScanResult:
        result = await scan(
            list(self.trees.values()),
            self.cluster,
            namespace=self.namespace,
            on_walk=on_walk,
            probe_timeout=self.probe_timeout,
            deadline=self.deadline,
        )
        result.walks.sort(key=_worst_first)
        return result

    async def candidates(self) -> list[Candidate]:
        """Pods (llm-d ones first), GPU nodes, then llm-d resources; a kind the cluster lacks is left out."""
        out: list[Candidate] = []
        pods = await self.cluster.list("v1", "Pod", self.namespace)
        pods.sort(key=lambda p: (not is_llmd_pod(p), (p.get("metadata") or {}).get("name", "")))
        for p in pods:
            meta, status = p.get("metadata") or {}, p.get("status") or {}
            restarts = sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or [])
            role = (meta.get("labels") or {}).get("llm-d.ai/role", "")
            detail = " ".join(
                x for x in (status.get("phase", ""), role, f"restarts={restarts}" if restarts else "") if x
            )
            out.append(
                Candidate(
                    f"pod/{meta.get('name')}",
                    meta.get("namespace"),
                    detail,
                    TargetRef("pod", meta.get("name", ""), meta.get("namespace")),
                )
            )
        try:
            nodes = await self.cluster.list("v1", "Node")
        except ClusterError:
            nodes = []
        for n in nodes:
            name = (n.get("metadata") or {}).get("name", "")
            cap = ((n.get("status") or {}).get("capacity") or {}).get("nvidia.com/gpu")
            detail = f"{cap} GPU" if is_gpu_node(n) else "no GPU"
            out.append(Candidate(f"node/{name}", None, detail, TargetRef("node", name)))
        for api, kind, short in PICKABLE_RESOURCES:
            try:
                items = await self.cluster.list(api, kind, self.namespace)
            except ClusterError:
                continue
            for it in items:
                meta = it.get("metadata") or {}
                target = (
                    TargetRef("workload", meta.get("name", ""), meta.get("namespace"), api, kind)
                    if kind != "InferencePool"
                    else None
                )
                out.append(Candidate(f"{short}/{meta.get('name')}", meta.get("namespace"), kind, target))
        return out

    async def walk(
        self,
        tree: Tree,
        target: TargetRef,
        *,
        on_step: Callable[[StepRecord], None] | None = None,
        on_start: StartCallback | None = None,
        choices: dict[str, str] | None = None,
        recorded: dict[str, Recorded] | None = None,
        results: dict[str, Recorded] | None = None,
    ) -> Walk:
        return await self.walk_fn(
            tree,
            target,
            self.cluster,
            choices=choices,
            recorded=recorded,
            results=results,
            on_step=on_step,
            on_start=on_start,
            probe_timeout=self.probe_timeout,
            deadline=self.deadline,
        )

    def dashboard_url(self, w: Walk) -> str | None:
        if not self.grafana_url:
            return None
        query = {"query": DASHBOARD_SEARCH.get(w.tree, "llm-d")}
        if w.target.get("namespace"):
            query["var-namespace"] = w.target["namespace"]
        return f"{self.grafana_url.rstrip('/')}/dashboards?{urllib.parse.urlencode(query)}"

    def export(self, walks: list[Walk]) -> tuple[Path, Path]:
        """Markdown and JSON reports side by side, each written atomically (temp file + rename)."""
        from llmd_triage.report.json_report import render_json
        from llmd_triage.report.markdown import render_markdown

        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        first = walks[0].target.get("name", "walk") if walks else "walk"
        stem = f"llmd-triage-{re.sub(r'[^A-Za-z0-9_.-]+', '-', first)}-{stamp}"
        self.export_dir.mkdir(parents=True, exist_ok=True)
        md = self.export_dir / f"{stem}.md"
        js = self.export_dir / f"{stem}.json"
        write_atomic(md, render_markdown(walks))
        write_atomic(js, render_json(walks))
        return md, js

    def node_pod_command(self, w: Walk, tool: str) -> list[str] | None:
        """`kubectl exec -it` into the pod that ran the walk's node-level commands (nvtop, dmon or a shell)."""
        for step in w.steps:
            if step.probe != "node.exec" or not (step.command or "").startswith("kubectl exec "):
                continue
            words = shlex.split(step.command or "")
            cut = words.index("--") if "--" in words else len(words)
            head = words[2:cut]  # -n NS NAME [-c CONTAINER]
            if "-n" not in head or head.index("-n") + 2 > len(head):
                continue
            ns, pod = head[head.index("-n") + 1], head[head.index("-n") + 2]
            container = head[head.index("-c") + 1] if "-c" in head else None
            return self._exec_it(ns, pod, container, tool)
        return None

    async def find_node_pod_command(self, w: Walk, tool: str) -> list[str] | None:
        """The walk's own node pod, else the first node pod on the target's node (a pod walk that ran nothing
        on the node, such as an OOM walk): the same search order the probes use."""
        from llmd_triage.probes.node_exec import find_node_pods

        argv = self.node_pod_command(w, tool)
        if argv is not None:
            return argv
        t = w.target
        try:
            if t.get("kind") == "node":
                node = t["name"]
            else:
                pod = await self.cluster.get("v1", "Pod", t["name"], t.get("namespace"))
                node = (pod.get("spec") or {}).get("nodeName")
            if not node:
                return None
            found, container, _ = (await find_node_pods(self.cluster, node))[0]
        except (ClusterError, KeyError, IndexError):
            return None
        meta = found.get("metadata") or {}
        return self._exec_it(meta.get("namespace", ""), meta.get("name", ""), container, tool)

    def _exec_it(self, ns: str, pod: str, container: str | None, tool: str) -> list[str]:
        tool_argv = {
            "nvtop": ["sh", "-c", "command -v nvtop >/dev/null && exec nvtop || exec nvidia-smi dmon"],
            "dmon": ["nvidia-smi", "dmon"],
            "shell": ["sh", "-c", "command -v bash >/dev/null && exec bash || exec sh"],
        }[tool]
        ctx = [] if self.is_snapshot else ["--context", self.context]
        c = ["-c", container] if container else []
        return ["kubectl", *ctx, "exec", "-it", "-n", ns, pod, *c, "--", *tool_argv]

    async def run_action(self, plan: ActionPlan, walk_target: str) -> ActionOutcome:
        """Run a confirmed action (dry run first) and log the attempt; never on a snapshot."""
        if not self.can_remediate:
            raise ClusterError("forbidden", "actions are never run on a snapshot")
        writer: Any = self.cluster
        return await apply_and_audit(plan, writer, log=self.audit_path, context=self.context, walk_target=walk_target)

    def cancelled_action(self, plan: ActionPlan, walk_target: str) -> None:
        audit(
            self.audit_path,
            plan=plan,
            user=getattr(self.cluster, "user", "unknown"),
            context=self.context,
            outcome=None,
            walk_target=walk_target,
        )


def _worst_first(w: Walk) -> tuple[int, int, str]:
    leaf = w.leaf
    finding = 1 if leaf and leaf.is_finding else 0
    return (-finding, -severity_rank(leaf.severity) if leaf else 0, f"{w.target.get('name')}/{w.tree}")


def fuzzy_score(query: str, text: str) -> int | None:
    """fzf-like subsequence match: None when the letters are not all there in order; lower is better.

    Consecutive letters and matches at word starts score better, so `dec7x` finds `qwen3-32b-decode-...-7xk2p`.
    """
    if not query:
        return 0
    q, t = query.lower(), text.lower()
    pos, score, last = 0, 0, -2
    for ch in q:
        idx = t.find(ch, pos)
        if idx < 0:
            return None
        gap = idx - last - 1
        score += 0 if gap == 0 else 1 + min(gap, 10)
        if idx > 0 and t[idx - 1] in "-/._ " and gap:
            score -= 1
        last, pos = idx, idx + 1
    return score + len(t) // 20
