"""Run a read-only node-level diagnostic (dmesg, lspci, ibstat, nvidia-smi topo...) on a node.

Node-level commands need a pod already on that node that can see the host. We look for one in a
fixed order, so a run is predictable and `preflight` can say what it found: a pod matching the
configured selector, the llmd-triage toolbox DaemonSet, the NVIDIA GPU operator's driver or DCGM
pods, then the NVIDIA network operator's pods. Creating a debug pod would be a mutation and is
never done here.
"""

from __future__ import annotations

import shlex
from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef
from llmd_triage.parsers import parser_names, safe_parse
from llmd_triage.probes.base import Probe, ProbeFailure, ProbeResult, RbacNeed

#: (label selector, container or None, what it is), in the order they are tried
NODE_POD_SOURCES: tuple[tuple[str, str | None, str], ...] = (
    ("app.kubernetes.io/name=llmd-triage-toolbox", None, "llmd-triage toolbox"),
    ("app=nvidia-driver-daemonset", "nvidia-driver-ctr", "GPU operator driver pod"),
    ("app=nvidia-dcgm-exporter", None, "DCGM exporter pod"),
    ("app=mofed-ubuntu22.04-ds", None, "network operator MOFED pod"),
    ("nvidia.com/ofed-driver", None, "network operator OFED pod"),
)


async def find_node_pod(
    cluster: Cluster, node: str, selector: str | None = None
) -> tuple[dict[str, Any], str | None, str]:
    """The first running pod on `node` that can run node-level commands: (pod, container, source)."""
    sources = ([(selector, None, f"configured selector {selector}")] if selector else []) + list(NODE_POD_SOURCES)
    for label_selector, container, what in sources:
        pods = await cluster.list("v1", "Pod", None, label_selector, f"spec.nodeName={node}")
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        if running:
            return running[0], container, what
    tried = ", ".join(s[0] for s in sources)
    raise ClusterError(
        "not_found",
        f"no pod on node {node} can run node-level commands (looked for: {tried})",
        "deploy the llmd-triage toolbox DaemonSet, or run the command with `kubectl debug node/"
        f"{node} -it --image=IMAGE -- chroot /host ...`",
    )


class NodeExec(Probe):
    name = "node.exec"
    description = (
        "Run argv in a pod on the node that can see the host (toolbox, GPU operator driver/DCGM, network "
        "operator); binds {exit_code, stdout, stderr, parsed, pod, source}."
    )
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["argv"],
        "properties": {
            "node": {"type": "string", "description": "default: the target node, or the target pod's node"},
            "argv": {"type": "array", "minItems": 1, "items": {"type": "string"}},
            "parser": {"type": "string"},
            "pod_selector": {"type": "string", "description": "label selector of a node pod to prefer"},
            "limit_bytes": {"type": "integer", "minimum": 1024, "maximum": 67108864},
        },
    }
    rbac = (RbacNeed(("list",), "pods"), RbacNeed(("create",), "pods", subresource="exec"))

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Cluster) -> ProbeResult:
        argv = [str(a) for a in params["argv"]]
        parser = params.get("parser")
        if parser and parser not in parser_names():
            raise ProbeFailure("error", f"no parser named {parser!r}", f"known parsers: {', '.join(parser_names())}")
        node = params.get("node") or (target.name if target.kind == "node" else None)
        if not node and target.kind == "pod":
            try:
                pod = await cluster.get("v1", "Pod", target.name, target.namespace)
            except ClusterError as exc:
                raise ProbeFailure.from_cluster(exc) from None
            node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            raise ProbeFailure("error", "no node to run on: the target is not a node and no node was given")
        try:
            pod, container, source = await find_node_pod(cluster, node, params.get("pod_selector"))
        except ClusterError as exc:
            if getattr(cluster, "debug_pods", None) is None:
                raise ProbeFailure.from_cluster(exc) from None
            return await self._via_debug_pod(cluster, node, argv, params)
        meta = pod.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        cmd = f"kubectl exec -n {ns} {name}" + (f" -c {container}" if container else "") + " -- " + shlex.join(argv)
        try:
            res = await cluster.exec(ns, name, container, argv, limit_bytes=params.get("limit_bytes", 1_048_576))
        except ClusterError as exc:
            raise ProbeFailure.from_cluster(exc, cmd) from None
        if res.exit_code in (126, 127):
            raise ProbeFailure(
                "exec_failed",
                f"`{argv[0]}` is not in the {source} {ns}/{name} on {node} (exit {res.exit_code})",
                f"use a node pod whose image has {argv[0]} (the llmd-triage toolbox has it): {cmd}",
            )
        data = {
            "exit_code": res.exit_code,
            "stdout": res.stdout,
            "stderr": res.stderr,
            "truncated": res.truncated,
            "parsed": safe_parse(parser, res.stdout if res.stdout.strip() else res.stderr) if parser else None,
            "node": node,
            "pod": f"{ns}/{name}",
            "pod_namespace": ns,
            "pod_name": name,
            "container": container,
            "source": source,
        }
        lines = res.stdout.splitlines()
        summary = f"`{shlex.join(argv)}` on {node} (via {source} {ns}/{name}) exited {res.exit_code}"
        return ProbeResult(data, summary, lines[:15], cmd)

    async def _via_debug_pod(self, cluster: Any, node: str, argv: list[str], params: dict[str, Any]) -> ProbeResult:
        """Only reached when the operator passed --allow-debug-pods: a mutation, created and deleted here."""
        cmd = f"kubectl debug node/{node} -it --image=IMAGE -- chroot /host {shlex.join(argv)}"
        try:
            res = await cluster.debug_exec(node, argv)
        except ClusterError as exc:
            raise ProbeFailure.from_cluster(exc, cmd) from None
        parser = params.get("parser")
        data = {
            "exit_code": res.exit_code,
            "stdout": res.stdout,
            "stderr": res.stderr,
            "truncated": res.truncated,
            "parsed": safe_parse(parser, res.stdout if res.stdout.strip() else res.stderr) if parser else None,
            "node": node,
            "pod": None,
            "pod_namespace": None,
            "pod_name": None,
            "container": None,
            "source": "debug pod (created and deleted by llmd-triage)",
        }
        summary = f"`{shlex.join(argv)}` on {node} (via a debug pod) exited {res.exit_code}"
        return ProbeResult(data, summary, res.stdout.splitlines()[:15], cmd)
