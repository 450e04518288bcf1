"""Which GPU nodes have a pod that can run the node-level probes, and which tools each one lacks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError
from llmd_triage.engine.scan import is_gpu_node
from llmd_triage.probes.node_exec import NODE_POD_SOURCES, find_node_pods


@dataclass
class NodeToolbox:
    node: str
    pod: str | None = None  # namespace/name of the first node pod that would be used
    source: str | None = None  # what it is: toolbox, GPU operator driver pod ...
    missing: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def usable(self) -> bool:
        return self.pod is not None and not self.error


def search_order(selector: str | None = None) -> list[str]:
    """The node-pod sources in the order the probes try them, for `preflight` and `toolbox status`."""
    head = [f"configured selector {selector}"] if selector else []
    return head + [f"{what} ({sel})" for sel, _, what in NODE_POD_SOURCES]


async def toolbox_status(cluster: Cluster, tools: list[str], selector: str | None = None) -> list[NodeToolbox]:
    nodes = [n for n in await cluster.list("v1", "Node") if is_gpu_node(n)]

    async def one(node: dict[str, Any]) -> NodeToolbox:
        name = (node.get("metadata") or {}).get("name", "")
        out = NodeToolbox(name)
        try:
            pod, container, source = (await find_node_pods(cluster, name, selector))[0]
        except ClusterError as exc:
            out.error = exc.message
            out.missing = list(tools)
            return out
        meta = pod.get("metadata") or {}
        out.pod, out.source = f"{meta.get('namespace')}/{meta.get('name')}", source
        try:
            res = await cluster.exec(meta.get("namespace", ""), meta.get("name", ""), container, ["which", *tools])
        except ClusterError as exc:
            out.error = f"cannot exec in {out.pod}: {exc.message}"
            return out
        found = {line.strip().rsplit("/", 1)[-1] for line in res.stdout.splitlines() if line.strip()}
        out.missing = [t for t in tools if t not in found]
        return out

    return sorted(await asyncio.gather(*(one(n) for n in nodes)), key=lambda r: r.node)
