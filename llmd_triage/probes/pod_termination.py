"""How the target pod's container last ended, and the memory facts that explain it."""

from __future__ import annotations

from typing import Any

from llmd_triage.cluster.base import Cluster, TargetRef
from llmd_triage.parsers.pod_status import termination
from llmd_triage.probes.base import Probe, ProbeResult, RbacNeed, read_pod


class PodTermination(Probe):
    name = "pod.termination"
    description = (
        "Reads the pod; binds {container, reason, exit_code, signal, restart_count, status_reason, status_message, "
        "memory_limit_bytes, shm, node, args...} for the chosen container (default: the model server)."
    )
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "pod": {"type": "string"},
            "namespace": {"type": "string"},
            "container": {"type": ["string", "null"]},
        },
    }
    rbac = (RbacNeed(("get",), "pods"),)

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Cluster) -> ProbeResult:
        obj, cmd = await read_pod(params, target, cluster)
        t = termination(obj, params.get("container"))
        if t["reason"]:
            summary = (
                f"container {t['container']} last ended {t['reason']} (exit {t['exit_code']}), "
                f"{t['restart_count']} restarts"
            )
        elif t["status_reason"]:
            summary = f"pod {t['status_reason']}: {t['status_message']}"
        else:
            summary = f"container {t['container']} has not terminated"
        evidence = [
            f"lastState.terminated.reason: {t['reason']}",
            f"lastState.terminated.exitCode: {t['exit_code']}",
            f"restartCount: {t['restart_count']}",
            f"status.reason: {t['status_reason']}",
            f"resources.limits.memory: {t['memory_limit']}",
        ]
        if t["shm"]:
            evidence.append(
                f"/dev/shm: emptyDir medium={'Memory' if t['shm']['medium_memory'] else 'disk'} "
                f"sizeLimit={t['shm']['size_limit']}"
            )
        return ProbeResult(t, summary, evidence, cmd)
