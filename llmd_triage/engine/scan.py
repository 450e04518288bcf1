"""Whole-cluster scan: find the llm-d targets, pick the trees whose entry condition matches, walk them.

Discovery reads one LIST of pods and one of nodes per scope (the cluster's per-run cache shares them
with every walk), so a scan of a healthy install costs a couple of requests, not one per node.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef
from llmd_triage.engine.record import Walk
from llmd_triage.engine.walk import build_context, walk
from llmd_triage.parsers.quantity import parse_quantity
from llmd_triage.tree.conditions import Bindings, ConditionUnknown
from llmd_triage.tree.model import Tree

LLMD_LABELS = ("llm-d.ai/inferenceServing", "llm-d.ai/inference-serving", "llm-d.ai/role", "llm-d.ai/model")
MODEL_CONTAINERS = ("vllm", "model-server")


def is_llmd_pod(pod: dict[str, Any]) -> bool:
    """llm-d model-server pods by label, by a vLLM container, by a LeaderWorkerSet owner, or by GPU requests."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    if any(k in labels for k in LLMD_LABELS) or "leaderworkerset.sigs.k8s.io/name" in labels:
        return True
    if any((o.get("kind") == "LeaderWorkerSet") for o in meta.get("ownerReferences") or []):
        return True
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") in MODEL_CONTAINERS:
            return True
        limits = (c.get("resources") or {}).get("limits") or {}
        if (parse_quantity(limits.get("nvidia.com/gpu")) or 0) > 0:
            return True
    return False


def is_gpu_node(node: dict[str, Any]) -> bool:
    status = node.get("status") or {}
    for key in ("capacity", "allocatable"):
        if (parse_quantity((status.get(key) or {}).get("nvidia.com/gpu")) or 0) > 0:
            return True
    return (node.get("metadata") or {}).get("labels", {}).get("nvidia.com/gpu.present") == "true"


@dataclass
class ScanResult:
    walks: list[Walk] = field(default_factory=list)
    targets: int = 0
    skipped: list[str] = field(default_factory=list)  # why a tree could not be considered for a target


async def discover(
    cluster: Cluster, namespace: str | None, label_selector: str | None = None
) -> list[tuple[TargetRef, dict[str, Any]]]:
    out: list[tuple[TargetRef, dict[str, Any]]] = []
    for pod in await cluster.list("v1", "Pod", namespace, label_selector):
        if is_llmd_pod(pod):
            meta = pod.get("metadata") or {}
            out.append((TargetRef("pod", meta.get("name", ""), meta.get("namespace")), pod))
    try:
        nodes = await cluster.list("v1", "Node")
    except ClusterError as exc:
        if exc.kind != "forbidden":
            raise
        nodes = []  # namespace-scoped credentials: scan the pods, say nothing of nodes
    for node in nodes:
        if is_gpu_node(node):
            out.append((TargetRef("node", (node.get("metadata") or {}).get("name", "")), node))
    return out


#: targets whose entry conditions are tested between two chances for started walks to go on
ENTRY_BATCH = 16


async def scan(
    trees: Iterable[Tree],
    cluster: Cluster,
    *,
    namespace: str | None,
    label_selector: str | None = None,
    concurrency: int = 8,
    on_walk: Callable[[Walk], None] | None = None,
    on_plan: Callable[[ScanResult, int], None] | None = None,
    **walk_kwargs: Any,
) -> ScanResult:
    """Walk every tree whose entry condition matches a discovered target.

    A walk starts as soon as its target is picked, while the entry conditions of the rest are still
    being tested (CPU work on this thread, a few batches at a time): on a large install the walks'
    reads overlap that work instead of following it. `result.walks` keeps the order of the targets and
    trees, whatever order the walks end in. `on_plan(result, jobs)` is called once every walk is known (for
    a progress bar); `on_walk` as each one finishes, so a caller keeps what finished if the scan is
    interrupted.
    """
    trees = [t for t in trees if t.entry is not None]
    targets = await discover(cluster, namespace, label_selector)
    result = ScanResult(targets=len(targets))
    sem = asyncio.Semaphore(concurrency)

    async def one(tree: Tree, target: TargetRef) -> Walk:
        async with sem:
            w = await walk(tree, target, cluster, **walk_kwargs)
        if on_walk:
            on_walk(w)
        return w

    tasks: list[asyncio.Task[Walk]] = []
    try:
        for n, (target, obj) in enumerate(targets, 1):
            ctx = None  # the target converted to CEL once, for every tree's entry condition
            for tree in trees:
                if target.kind not in tree.applies_to or tree.entry is None:
                    continue
                ctx = ctx or Bindings(build_context(target, obj))
                try:
                    if tree.entry.test(ctx):
                        tasks.append(asyncio.ensure_future(one(tree, target)))
                except ConditionUnknown as exc:
                    result.skipped.append(f"{tree.id} on {target.ref}: entry condition could not be evaluated ({exc})")
            if n % ENTRY_BATCH == 0 and tasks:
                await asyncio.sleep(0)  # let the started walks read and decide
        if on_plan:
            on_plan(result, len(tasks))
        result.walks = list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
    return result
