"""Least-privilege RBAC for running the chosen trees in the cluster, computed from what the probes declare.

Every probe node of the chosen trees says what it reads (`Probe.needs`); to that come the reads the
engine itself makes (the walk target, scan's discovery of pods and GPU nodes, run's access review),
and, only when asked, reads of workloads for `run --target deploy/...` and the writes of confirmed
remediations. Namespaced needs go into a Role when a namespace is given; needs across namespaces and
cluster-scoped resources into a ClusterRole. Verbs are get and list, plus create on pods/exec for the
probes that run diagnostics in pods (and create on selfsubjectaccessreviews for run's preflight).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from llmd_triage.cluster.base import TargetRef
from llmd_triage.engine.preflight import CLUSTER_SCOPED
from llmd_triage.probes.base import RbacNeed
from llmd_triage.probes.registry import Registry, default_registry
from llmd_triage.tree.model import ProbeNode, Tree

#: (apiGroup, resource[/subresource], verb)
Grant = tuple[str, str, str]

PLACEHOLDER_NS = "TARGET-NAMESPACE"
WORKLOAD_KINDS = (
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("leaderworkerset.x-k8s.io", "leaderworkersets"),
)


@dataclass
class RbacPlan:
    """What to grant and why: cluster-wide grants, and namespaced grants per namespace."""

    cluster: dict[Grant, set[str]] = field(default_factory=dict)
    namespaced: dict[str, dict[Grant, set[str]]] = field(default_factory=dict)
    #: probes whose permission could not be planned (a kind computed during the walk)
    unplanned: list[str] = field(default_factory=list)

    def add(self, need: RbacNeed, why: str, namespace: str | None) -> None:
        resource = need.resource + (f"/{need.subresource}" if need.subresource else "")
        where: str | None
        if need.resource in CLUSTER_SCOPED or need.scope == "*":
            where = None
        elif need.scope == "target":
            where = namespace
        else:
            where = need.scope
        bucket = self.cluster if where is None else self.namespaced.setdefault(where, {})
        for verb in need.verbs:
            bucket.setdefault((need.group, resource, verb), set()).add(why)

    def finish(self) -> RbacPlan:
        """Drop namespaced grants a cluster-wide grant already covers, and empty namespaces."""
        for ns in list(self.namespaced):
            grants = self.namespaced[ns]
            for key in [k for k in grants if k in self.cluster]:
                self.cluster[key] |= grants.pop(key)
            if not grants:
                del self.namespaced[ns]
        return self


def plan_rbac(
    trees: Iterable[Tree],
    *,
    namespace: str | None = None,
    workloads: bool = False,
    remediation: bool = False,
    debug_pods: str | None = None,
    registry: Registry | None = None,
) -> RbacPlan:
    registry = registry or default_registry()
    plan = RbacPlan()
    trees = list(trees)
    for tree in trees:
        for kind in tree.applies_to:
            if kind == "workload":
                continue  # a workload target is walked as its pods (see --workloads)
            target = TargetRef(kind, "-", None if kind == "node" else (namespace or PLACEHOLDER_NS))
            plan.add(RbacNeed(("get",), "pods" if kind == "pod" else "nodes"), "walk target", namespace)
            for node in tree.nodes.values():
                if not isinstance(node, ProbeNode):
                    continue
                probe = registry.get(node.probe)
                if probe is None:
                    continue
                needs = probe.needs(dict(node.params), target)
                if not needs and probe.rbac:
                    plan.unplanned.append(f"{tree.id}/{node.id} ({node.probe})")
                for need in needs:
                    plan.add(need, node.probe + (" (optional)" if need.optional else ""), namespace)
    scan_scope = "target" if namespace else "*"
    plan.add(RbacNeed(("list",), "pods", scope=scan_scope), "scan discovery", namespace)
    plan.add(RbacNeed(("list",), "nodes"), "scan discovery", namespace)
    plan.add(
        RbacNeed(("create",), "selfsubjectaccessreviews", "authorization.k8s.io"),
        "run's preflight",
        namespace,
    )
    if workloads:
        for group, resource in WORKLOAD_KINDS:
            plan.add(RbacNeed(("get",), resource, group), "run on workloads", namespace)
        plan.add(RbacNeed(("list",), "pods"), "run on workloads", namespace)
    if remediation:
        for need, why in remediation_needs(trees):
            plan.add(need, why, namespace)
    if debug_pods:
        # --allow-debug-pods: a privileged pod made, exec'd into and deleted in this one namespace
        why = "debug pods (--allow-debug-pods)"
        plan.add(RbacNeed(("create", "get", "delete"), "pods", scope=debug_pods), why, namespace)
        plan.add(RbacNeed(("create",), "pods", subresource="exec", scope=debug_pods), why, namespace)
    return plan.finish()


#: what each action kind writes; the kinds a tree set declares decide what `rbac --with-remediation` grants
_ACTION_NEEDS: dict[str, list[RbacNeed]] = {
    "cordon": [RbacNeed(("get", "patch"), "nodes")],
    "uncordon": [RbacNeed(("get", "patch"), "nodes")],
    "drain": [
        RbacNeed(("get", "patch"), "nodes"),
        RbacNeed(("list",), "pods", scope="*"),
        RbacNeed(("create",), "pods", subresource="eviction", scope="*"),
    ],
    "delete-pod": [RbacNeed(("delete",), "pods")],
    "rollout-restart": [RbacNeed(("patch",), r, "apps") for r in ("deployments", "statefulsets", "daemonsets")],
    "scale": [
        *(RbacNeed(("patch",), r, "apps") for r in ("deployments", "statefulsets", "replicasets")),
        RbacNeed(("patch",), "leaderworkersets", "leaderworkerset.x-k8s.io"),
    ],
}
_ANNOTATE: dict[str, RbacNeed] = {
    "pod": RbacNeed(("patch",), "pods"),
    "node": RbacNeed(("patch",), "nodes"),
    "deploy": RbacNeed(("patch",), "deployments", "apps"),
    "sts": RbacNeed(("patch",), "statefulsets", "apps"),
    "ds": RbacNeed(("patch",), "daemonsets", "apps"),
    "lws": RbacNeed(("patch",), "leaderworkersets", "leaderworkerset.x-k8s.io"),
}


def remediation_needs(trees: Iterable[Tree]) -> list[tuple[RbacNeed, str]]:
    """The writes of the actions these trees declare, nothing more (an annotate names its kind literally)."""
    from llmd_triage.tree.model import Leaf

    out: list[tuple[RbacNeed, str]] = []
    for tree in trees:
        for leaf in (n for n in tree.nodes.values() if isinstance(n, Leaf)):
            for action in leaf.actions:
                why = f"remediation: {action.kind} ({tree.id}/{leaf.id})"
                if action.kind == "annotate":
                    prefix = action.target.source.split("/", 1)[0].strip().lower()
                    needs = [_ANNOTATE[prefix]] if prefix in _ANNOTATE else list(_ANNOTATE.values())
                else:
                    needs = _ACTION_NEEDS.get(action.kind, [])
                out.extend((n, why) for n in needs)
    return out


# ---------------------------------------------------------------------------------------------- YAML


def _q(s: str) -> str:
    return '""' if s == "" else s


def _rules(grants: dict[Grant, set[str]]) -> list[str]:
    """PolicyRules as YAML lines: one rule per (apiGroup, set of verbs), resources listed, each commented with
    who needs which verb."""
    verbs_of: dict[tuple[str, str], dict[str, set[str]]] = {}
    for (group, resource, verb), reasons in grants.items():
        verbs_of.setdefault((group, resource), {}).setdefault(verb, set()).update(reasons)
    rules: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for (group, resource), verbs in verbs_of.items():
        rules.setdefault((group, tuple(sorted(verbs))), []).append(resource)
    out: list[str] = []
    for (group, verbs), resources in sorted(rules.items(), key=lambda kv: (kv[0][0], kv[0][1], sorted(kv[1]))):
        resources.sort()
        if any(r.endswith("/exec") for r in resources):
            out += [
                "  # create on pods/exec is not a read: Kubernetes models running a command in a pod as creating",
                "  # its exec subresource. The probes run read-only diagnostics (ls, dmesg, nvidia-smi -q,",
                "  # ibv_devinfo, lspci...) in the model server pods and in the GPU / network operators' node pods.",
            ]
        for r in resources:
            who = "; ".join(f"{v} by {', '.join(sorted(verbs_of[(group, r)][v]))}" for v in verbs)
            out.append(f"  # {r}{'.' + group if group else ''}: {who}")
        out += [
            f"  - apiGroups: [{_q(group)}]",
            f"    resources: [{', '.join(resources)}]",
            f"    verbs: [{', '.join(verbs)}]",
        ]
    return out


def render_rbac(
    plan: RbacPlan,
    *,
    trees: Iterable[str],
    service_account: str = "llmd-triage",
    sa_namespace: str = "llmd-triage",
    version: str = "",
    remediation: bool = False,
) -> str:
    """The ServiceAccount, ClusterRole (+ binding) and per-namespace Roles (+ bindings) as one YAML stream."""
    name = service_account
    labels = "  labels:\n    app.kubernetes.io/name: llmd-triage\n    app.kubernetes.io/component: rbac"
    subject = f"subjects:\n  - kind: ServiceAccount\n    name: {name}\n    namespace: {sa_namespace}"
    head = [
        f"# Least privilege for llmd-triage {version} `scan` and `run` in the cluster, computed from the",
        f"# probes of the trees: {', '.join(sorted(trees))}.",
        "# Read-only but for create on pods/exec (diagnostics) and on selfsubjectaccessreviews (preflight)"
        + (
            ",\n# plus the writes of confirmed remediations (patch nodes, create pods/eviction, delete pods)."
            if remediation
            else "."
        ),
        f"# Apply with: kubectl create namespace {sa_namespace}; llmd-triage rbac ... | kubectl apply -f -",
    ]
    docs = [
        "\n".join(
            [
                "apiVersion: v1",
                "kind: ServiceAccount",
                "metadata:",
                f"  name: {name}",
                f"  namespace: {sa_namespace}",
                labels,
            ]
        )
    ]
    if plan.cluster:
        docs.append(
            "\n".join(
                [
                    "apiVersion: rbac.authorization.k8s.io/v1",
                    "kind: ClusterRole",
                    "metadata:",
                    f"  name: {name}",
                    labels,
                    "rules:",
                    *_rules(plan.cluster),
                ]
            )
        )
        docs.append(
            "\n".join(
                [
                    "apiVersion: rbac.authorization.k8s.io/v1",
                    "kind: ClusterRoleBinding",
                    "metadata:",
                    f"  name: {name}",
                    labels,
                    "roleRef:",
                    "  apiGroup: rbac.authorization.k8s.io",
                    "  kind: ClusterRole",
                    f"  name: {name}",
                    subject,
                ]
            )
        )
    for ns in sorted(plan.namespaced):
        docs.append(
            "\n".join(
                [
                    "apiVersion: rbac.authorization.k8s.io/v1",
                    "kind: Role",
                    "metadata:",
                    f"  name: {name}",
                    f"  namespace: {ns}",
                    labels,
                    "rules:",
                    *_rules(plan.namespaced[ns]),
                ]
            )
        )
        docs.append(
            "\n".join(
                [
                    "apiVersion: rbac.authorization.k8s.io/v1",
                    "kind: RoleBinding",
                    "metadata:",
                    f"  name: {name}",
                    f"  namespace: {ns}",
                    labels,
                    "roleRef:",
                    "  apiGroup: rbac.authorization.k8s.io",
                    "  kind: Role",
                    f"  name: {name}",
                    subject,
                ]
            )
        )
    return "\n".join(head) + "\n---\n" + "\n---\n".join(docs) + "\n"
