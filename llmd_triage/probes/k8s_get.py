"""Read one Kubernetes object (any group/version/kind, CRDs included)."""

from __future__ import annotations

from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef
from llmd_triage.probes.base import Probe, ProbeFailure, ProbeResult, RbacNeed, is_template, namespace_scope

#: kinds whose resource name is not Kubernetes' default plural
IRREGULAR_PLURALS = {
    "endpoints": "endpoints",
    "networkattachmentdefinition": "network-attachment-definitions",
    "podmetrics": "pods",
    "nodemetrics": "nodes",
}


def plural_guess(kind: str) -> str:
    """Kubernetes' default plural (lowercase + s/es/ies), good enough to name a permission."""
    k = kind.lower()
    if k in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[k]
    if k.endswith(("s", "x", "ch", "sh")):
        return k + "es"
    if k.endswith("y") and k[-2:-1] not in "aeiou":
        return k[:-1] + "ies"
    return k + "s"


class GetObject(Probe):
    name = "k8s.get"
    description = "Read one object; binds it as-is. Defaults to the walk's target."
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"type": "string", "description": "e.g. v1, apps/v1, leaderworkerset.x-k8s.io/v1"},
            "kind": {"type": "string", "description": "e.g. Pod, Node, LeaderWorkerSet"},
            "name": {"type": "string"},
            "namespace": {"type": "string"},
        },
    }
    rbac = (RbacNeed(("get",), "*"),)

    def needs(self, params: dict[str, Any], target: TargetRef) -> tuple[RbacNeed, ...]:
        api_version = str(params.get("apiVersion", target.api_version))
        kind = str(params.get("kind", target.resource_kind))
        if is_template(api_version) or is_template(kind):
            return ()  # a kind known only during the walk: no permission can be planned for it
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        return (RbacNeed(("get",), plural_guess(kind), group, scope=namespace_scope(params)),)

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Cluster) -> ProbeResult:
        api_version = params.get("apiVersion", target.api_version)
        kind = params.get("kind", target.resource_kind)
        name = params.get("name", target.name)
        namespace = params.get("namespace", target.namespace if kind == target.resource_kind else None)
        cmd = f"kubectl get {kind.lower()} {name}{f' -n {namespace}' if namespace else ''} -o yaml"
        try:
            obj = await cluster.get(api_version, kind, name, namespace)
        except ClusterError as exc:
            raise ProbeFailure.from_cluster(exc, cmd) from None
        return ProbeResult(obj, f"read {kind} {name}", [], cmd)
