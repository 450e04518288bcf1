"""A pod's own Prometheus endpoint (vLLM's /metrics) read through the API server's proxy.

Useful when no Prometheus scrapes the pod, or to see the value right now rather than at the last
scrape. Needs `get pods/proxy`, which some clusters do not grant: then the step is unknown and says so.
"""

from __future__ import annotations

from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef
from llmd_triage.parsers import safe_parse
from llmd_triage.parsers.prometheus import format_labels
from llmd_triage.probes.base import Probe, ProbeFailure, ProbeResult, RbacNeed, target_namespace, target_pod


class PodMetrics(Probe):
    name = "pod.metrics"
    description = (
        "GET /metrics (or `path`) on a pod's port through the API server proxy, parsed as Prometheus text; "
        "binds {samples, families, errors, value} where value maps each sample name to its first value."
    )
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "pod": {"type": "string"},
            "namespace": {"type": "string"},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "description": "default 8000 (vLLM)"},
            "path": {"type": "string", "pattern": "^/", "description": "default /metrics"},
        },
    }
    rbac = (RbacNeed(("get",), "pods", subresource="proxy"),)
    parser = "prom_text"

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Cluster) -> ProbeResult:
        ns, pod = target_namespace(params, target, cluster), target_pod(params, target)
        port, path = int(params.get("port", 8000)), str(params.get("path", "/metrics"))
        cmd = f"kubectl get --raw /api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy{path}"
        try:
            text = await cluster.pod_proxy(ns, pod, port, path)
        except ClusterError as exc:
            raise ProbeFailure.from_cluster(exc, cmd) from None
        data = safe_parse("prom_text", text)
        samples = data.get("samples") or []
        if not samples and text.strip():
            raise ProbeFailure(
                "garbage", f"{pod}:{port}{path} did not answer Prometheus text", f"look at the answer by hand: {cmd}"
            )
        first: dict[str, Any] = {}
        for s in samples:
            first.setdefault(s["name"], s["value"])
        data["value"] = first
        evidence = [f"{s['name']}{format_labels(s.get('labels') or {})} {s['value']}" for s in samples[:10]]
        return ProbeResult(data, f"{len(samples)} samples from {pod}:{port}{path}", evidence, cmd)
