"""List objects of any kind (CRDs included) with label and field selectors.

A kind the cluster does not serve is a clean `not installed` result, not an error: "is there an
InferencePool at all?" is a question trees ask.
"""

from __future__ import annotations

from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef
from llmd_triage.probes.base import Probe, ProbeFailure, ProbeResult, RbacNeed, is_template, namespace_scope
from llmd_triage.probes.k8s_get import plural_guess


def _ref(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name', '?')}" if ns else str(meta.get("name", "?"))


class ListObjects(Probe):
    name = "k8s.list"
    description = (
        "List objects; binds {installed, items, count}. `installed` is false (and items empty) when the "
        "cluster does not serve the kind. namespace '*' means all namespaces."
    )
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["kind"],
        "properties": {
            "apiVersion": {"type": "string", "description": "e.g. v1, inference.networking.k8s.io/v1"},
            "kind": {"type": "string"},
            "namespace": {"type": "string", "description": "default: the target's; '*' for all"},
            "labelSelector": {"type": "string"},
            "fieldSelector": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100000},
        },
    }
    rbac = (RbacNeed(("list",), "*"),)

    def needs(self, params: dict[str, Any], target: TargetRef) -> tuple[RbacNeed, ...]:
        api_version, kind = str(params.get("apiVersion", "v1")), str(params.get("kind", ""))
        if is_template(api_version) or is_template(kind):
            return ()  # a kind known only during the walk: no permission can be planned for it
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        return (RbacNeed(("list",), plural_guess(kind), group, scope=namespace_scope(params)),)

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Cluster) -> ProbeResult:
        api_version, kind = params.get("apiVersion", "v1"), params["kind"]
        ns_param = params.get("namespace")
        namespace = None if ns_param == "*" else (ns_param or target.namespace or cluster.default_namespace)
        sel = [f"-l {params['labelSelector']}"] if params.get("labelSelector") else []
        sel += [f"--field-selector {params['fieldSelector']}"] if params.get("fieldSelector") else []
        ns_flag = "-A" if namespace is None else f"-n {namespace}"
        group = api_version.rpartition("/")[0]
        cmd = " ".join(["kubectl get", plural_guess(kind) + (f".{group}" if group else ""), ns_flag, *sel])
        try:
            items = await cluster.list(
                api_version, kind, namespace, params.get("labelSelector"), params.get("fieldSelector")
            )
        except ClusterError as exc:
            if exc.kind == "not_installed":
                return ProbeResult(
                    {"installed": False, "items": [], "count": 0},
                    f"{kind} is not installed in this cluster",
                    [exc.message],
                    cmd,
                )
            raise ProbeFailure.from_cluster(exc, cmd) from None
        items = items[: int(params.get("limit", 10000))]
        names = [_ref(i) for i in items[:20]]
        return ProbeResult({"installed": True, "items": items, "count": len(items)}, f"{len(items)} {kind}", names, cmd)
