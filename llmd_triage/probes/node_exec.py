"""Run a read-only node-level diagnostic (dmesg, lspci, ibstat, nvidia-smi topo...) on a node.

Node-level commands need a pod already on that node that can see the host. We look for one in a
fixed order, so a run is predictable and `preflight` can say what it found: a pod matching the
configured selector, the llmd-triage toolbox DaemonSet, the NVIDIA GPU operator's driver or DCGM
pods, then the NVIDIA network operator's pods. Creating a debug pod would be a mutation and is
never done here.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef
from llmd_triage.parsers import parser_names, safe_parse
from llmd_triage.probes.allowlist import current_policy, refusal_hint
from llmd_triage.probes.base import Probe, ProbeFailure, ProbeResult, RbacNeed

#: (label selector, container or None, what it is), in the order they are tried
NODE_POD_SOURCES: tuple[tuple[str, str | None, str], ...] = (
    ("app.kubernetes.io/name=llmd-triage-toolbox", None, "llmd-triage toolbox"),
    ("app=nvidia-driver-daemonset", "nvidia-driver-ctr", "GPU operator driver pod"),
    ("app=nvidia-dcgm-exporter", None, "DCGM exporter pod"),
    ("app=mofed-ubuntu22.04-ds", None, "network operator MOFED pod"),
    ("nvidia.com/ofed-driver", None, "network operator OFED pod"),
)


async def find_node_pods(
    cluster: Cluster, node: str, selector: str | None = None
) -> list[tuple[dict[str, Any], str | None, str]]:
    """Running pods on `node` that can run node-level commands, in the order they are tried: the operator's own
    selector (LLMD_TRIAGE_NODE_POD_SELECTOR or the tree's), the toolbox, the GPU operator, the network operator."""
    selector = selector or os.environ.get("LLMD_TRIAGE_NODE_POD_SELECTOR") or None
    sources = ([(selector, None, f"configured selector {selector}")] if selector else []) + list(NODE_POD_SOURCES)
    found: list[tuple[dict[str, Any], str | None, str]] = []
    seen: set[str] = set()
    for label_selector, container, what in sources:
        pods = await cluster.list("v1", "Pod", None, label_selector, f"spec.nodeName={node}")
        for p in pods:
            meta = p.get("metadata") or {}
            key = f"{meta.get('namespace')}/{meta.get('name')}"
            if (p.get("status") or {}).get("phase") == "Running" and key not in seen:
                seen.add(key)
                found.append((p, container, what))
    if not found:
        tried = ", ".join(s[0] for s in sources)
        raise ClusterError(
            "not_found",
            f"no pod on node {node} can run node-level commands (looked for: {tried})",
            "deploy the llmd-triage toolbox DaemonSet, or run the command with `kubectl debug node/"
            f"{node} -it --image=IMAGE -- chroot /host ...`",
        )
    return found


async def find_node_pod(
    cluster: Cluster, node: str, selector: str | None = None
) -> tuple[dict[str, Any], str | None, str]:
    """The first pod `find_node_pods` would try."""
    return (await find_node_pods(cluster, node, selector))[0]


def _evidence(parsed: Any, stdout: str) -> list[str]:
    """The lines that matter: what the parser matched when it says, else the start of the output."""
    if isinstance(parsed, dict):
        if isinstance(parsed.get("evidence"), list) and parsed["evidence"]:
            return [str(e.get("text", e)) if isinstance(e, dict) else str(e) for e in parsed["evidence"][:15]]
        if isinstance(parsed.get("events"), list) and parsed["events"]:
            return [
                f"Xid {e['xid']} ({e.get('pci')}): {e.get('message')}" if isinstance(e, dict) and "xid" in e else str(e)
                for e in parsed["events"][-15:]
            ]
    return stdout.splitlines()[:15]


def _result(res: Any, parser: str | None, node: str, where: dict[str, Any]) -> dict[str, Any]:
    return {
        "exit_code": res.exit_code,
        "stdout": res.stdout,
        "stderr": res.stderr,
        "truncated": res.truncated,
        "parsed": safe_parse(parser, res.stdout if res.stdout.strip() else res.stderr) if parser else None,
        "node": node,
        **where,
    }


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
    #: node pods live in the operators' namespaces (gpu-operator, nvidia-network-operator...): every namespace
    rbac = (RbacNeed(("list",), "pods", scope="*"), RbacNeed(("create",), "pods", subresource="exec", scope="*"))

    def policy_problems(self, params: dict[str, Any]) -> list[str]:
        problem = current_policy().check([str(a) for a in params.get("argv") or []])
        return [problem] if problem else []

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Cluster) -> ProbeResult:
        argv = [str(a) for a in params["argv"]]
        if problem := current_policy().check(argv):
            raise ProbeFailure("refused", f"not run: {problem}", refusal_hint(argv))
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
            candidates = await find_node_pods(cluster, node, params.get("pod_selector"))
        except ClusterError as exc:
            if getattr(cluster, "debug_pods", None) is None:
                raise ProbeFailure.from_cluster(exc) from None
            return await self._via_debug_pod(cluster, node, argv, params)
        missing: list[str] = []
        for pod, container, source in candidates:
            meta = pod.get("metadata") or {}
            ns, name = meta.get("namespace", ""), meta.get("name", "")
            c_flag = f" -c {container}" if container else ""
            cmd = f"kubectl exec -n {ns} {name}{c_flag} -- {shlex.join(argv)}"
            try:
                res = await cluster.exec(ns, name, container, argv, limit_bytes=params.get("limit_bytes", 1_048_576))
            except ClusterError as exc:
                raise ProbeFailure.from_cluster(exc, cmd) from None
            if res.exit_code in (126, 127):  # this image lacks the tool: try the next node pod
                missing.append(f"{source} {ns}/{name}")
                continue
            where = {
                "pod": f"{ns}/{name}",
                "pod_namespace": ns,
                "pod_name": name,
                "container": container,
                "source": source,
            }
            data = _result(res, parser, node, where)
            summary = f"`{shlex.join(argv)}` on {node} (via {source} {ns}/{name}) exited {res.exit_code}"
            return ProbeResult(data, summary, _evidence(data["parsed"], res.stdout), cmd)
        raise ProbeFailure(
            "exec_failed",
            f"no node pod on {node} could run `{shlex.join(argv)}` (not found in: {', '.join(missing)})",
            f"deploy the llmd-triage toolbox (it carries {argv[0]}), or run it from a node debug pod",
        )

    async def _via_debug_pod(self, cluster: Any, node: str, argv: list[str], params: dict[str, Any]) -> ProbeResult:
        """Only reached when the operator passed --allow-debug-pods: a mutation, created and deleted here."""
        cmd = f"kubectl debug node/{node} -it --image=IMAGE -- chroot /host {shlex.join(argv)}"
        try:
            res = await cluster.debug_exec(node, argv)
        except ClusterError as exc:
            raise ProbeFailure.from_cluster(exc, cmd) from None
        where = {
            "pod": None,
            "pod_namespace": None,
            "pod_name": None,
            "container": None,
            "source": "debug pod (created and deleted by llmd-triage)",
        }
        data = _result(res, params.get("parser"), node, where)
        summary = f"`{shlex.join(argv)}` on {node} (via a debug pod) exited {res.exit_code}"
        return ProbeResult(data, summary, _evidence(data["parsed"], res.stdout), cmd)
