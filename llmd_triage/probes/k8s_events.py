"""Events about one object, newest last: the kubelet's record of kills, probe failures and pulls."""

from __future__ import annotations

from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef
from llmd_triage.probes.base import (
    Probe,
    ProbeFailure,
    ProbeResult,
    RbacNeed,
    is_template,
    namespace_scope,
    target_namespace,
)


def _when(ev: dict[str, Any]) -> str:
    series = ev.get("series") or {}
    return str(
        ev.get("lastTimestamp")
        or series.get("lastObservedTime")
        or ev.get("eventTime")
        or ev.get("deprecatedLastTimestamp")
        or ev.get("firstTimestamp")
        or ""
    )


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
            "api": {"enum": ["v1", "events.k8s.io/v1"], "description": "which Event API to read (default v1)"},
        },
    }
    rbac = (RbacNeed(("list",), "events"),)

    def needs(self, params: dict[str, Any], target: TargetRef) -> tuple[RbacNeed, ...]:
        # a Node's events are listed across namespaces (they land in `default`, or wherever the reporter puts them)
        kind = params.get("kind", target.resource_kind)
        scope = "*" if kind == "Node" or is_template(kind) else namespace_scope(params)
        group = "events.k8s.io" if params.get("api") == "events.k8s.io/v1" else ""
        return (RbacNeed(("list",), "events", group, scope=scope),)

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Cluster) -> ProbeResult:
        kind = params.get("kind", target.resource_kind)
        name = params.get("name", target.name)
        namespace = target_namespace(params, target, cluster) if kind != "Node" else None
        api = params.get("api", "v1")
        if api == "events.k8s.io/v1":
            selector = f"regarding.name={name},regarding.kind={kind}"
        else:
            selector = f"involvedObject.name={name},involvedObject.kind={kind}"
        ns_flag = f"-n {namespace}" if namespace else "-A"
        resource = "events" if api == "v1" else "events.events.k8s.io"
        cmd = f"kubectl get {resource} {ns_flag} --field-selector {selector}"
        try:
            raw = await cluster.list(api, "Event", namespace, field_selector=selector)
        except ClusterError as exc:
            raise ProbeFailure.from_cluster(exc, cmd) from None
        items = [_normalise(ev) for ev in sorted(raw, key=_when)][-int(params.get("limit", 200)) :]
        warnings = sum(1 for e in items if e["type"] == "Warning")
        evidence = [f"{e['type']} {e['reason']} (x{e['count']}): {e['message']}" for e in items[-10:]]
        summary = f"{len(items)} events, {warnings} warnings"
        return ProbeResult({"items": items, "count": len(items), "warnings": warnings}, summary, evidence, cmd)


def _normalise(ev: dict[str, Any]) -> dict[str, Any]:
    """core/v1 and events.k8s.io/v1 events in one shape (the latter says `note`, `regarding`, `series`)."""
    series = ev.get("series") or {}
    count = ev.get("count") or series.get("count") or ev.get("deprecatedCount") or 1
    source = (ev.get("source") or {}).get("component") or ev.get("reportingController") or ""
    return {
        "type": ev.get("type", ""),
        "reason": ev.get("reason", ""),
        "message": str(ev.get("message") or ev.get("note") or ""),
        "count": int(count),
        "last_seen": _when(ev),
        "source": source,
    }
