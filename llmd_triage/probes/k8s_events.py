"""Events about one object, newest last: the kubelet's record of kills, probe failures and pulls."""

from __future__ import annotations

from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef
from llmd_triage.probes.base import Probe, ProbeFailure, ProbeResult, RbacNeed, target_namespace


def _when(ev: dict[str, Any]) -> str:
    return str(ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp") or "")


class Events(Probe):
    name = "k8s.events"
    description = "Events whose involvedObject is the target (or the named object); binds {items, count, warnings}."
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "kind": {"type": "string"},
            "name": {"type": "string"},
            "namespace": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
        },
    }
    rbac = (RbacNeed(("list",), "events"),)

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Cluster) -> ProbeResult:
        kind = params.get("kind", target.resource_kind)
        name = params.get("name", target.name)
        namespace = target_namespace(params, target, cluster) if kind != "Node" else None
        selector = f"involvedObject.name={name},involvedObject.kind={kind}"
        ns_flag = f"-n {namespace}" if namespace else "-A"
        cmd = f"kubectl get events {ns_flag} --field-selector {selector}"
        try:
            raw = await cluster.list("v1", "Event", namespace, field_selector=selector)
        except ClusterError as exc:
            raise ProbeFailure.from_cluster(exc, cmd) from None
        items = [
            {
                "type": ev.get("type", ""),
                "reason": ev.get("reason", ""),
                "message": str(ev.get("message", "")),
                "count": int(ev.get("count") or 1),
                "last_seen": _when(ev),
                "source": (ev.get("source") or {}).get("component", ""),
            }
            for ev in sorted(raw, key=_when)
        ][-int(params.get("limit", 200)) :]
        warnings = sum(1 for e in items if e["type"] == "Warning")
        evidence = [f"{e['type']} {e['reason']} (x{e['count']}): {e['message']}" for e in items[-10:]]
        summary = f"{len(items)} events, {warnings} warnings"
        return ProbeResult({"items": items, "count": len(items), "warnings": warnings}, summary, evidence, cmd)
