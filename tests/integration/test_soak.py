"""Faults cannot break a walk: scans under random API faults, and cancellation that leaves nothing behind.

Bounded and seeded (SOAK_ITERATIONS, default 12) so CI runs it in seconds; every iteration prints nothing unless
it fails, and the failure names the seed and the faults of that iteration.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import resource
from pathlib import Path
from typing import Any

import pytest

from llmd_triage.cli.main import load_tree_set
from llmd_triage.cluster.base import TargetRef
from llmd_triage.cluster.live import DebugPods, KubeContext, LiveCluster
from llmd_triage.cluster.snapshot import load_snapshot
from llmd_triage.engine.scan import scan
from llmd_triage.engine.walk import walk
from tests.integration.apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "trees" / "snapshots" / "demo"
TREES = load_tree_set(ROOT / "trees")
ITERATIONS = int(os.environ.get("SOAK_ITERATIONS", "12"))
PATHS = [
    r"/api/v1/namespaces/llm-d-demo/pods$",
    r"/api/v1/pods$",
    r"/api/v1/nodes",
    r"/log$",
    r"/exec$",
    r"/api/v1/namespaces/llm-d-demo/events",
    r"/apis/",
    r"/api/v1/namespaces/gpu-operator/pods",
    r".*",
]


def _random_faults(rng: random.Random) -> list[dict[str, Any]]:
    faults = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["status", "stall", "drop", "garbage"])
        fault: dict[str, Any] = {"path": rng.choice(PATHS), "times": rng.choice([None, 1, 3])}
        if kind == "status":
            fault["status"] = rng.choice([403, 404, 409, 429, 500, 503])
        elif kind == "stall":
            fault["stall_s"] = rng.choice([0.2, 1.5])  # 1.5 s is past the probe deadline below
        elif kind == "drop":
            fault["drop"] = True
        else:
            fault["garbage"] = True
        faults.append(fault)
    return faults


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


async def _settle(server: FakeApiServer) -> None:
    for _ in range(50):
        if server.open_execs == 0:
            return
        await asyncio.sleep(0.05)


async def test_random_faults_never_break_a_scan(tmp_path: Path) -> None:
    server = FakeApiServer(load_snapshot(DEMO)).start()
    kc = server.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm-d-demo")
    rng = random.Random(20261127)
    rss: list[float] = []
    injected = 0
    try:
        for i in range(ITERATIONS):
            server.clear_faults()
            faults = _random_faults(rng)
            injected += len(faults)
            for f in faults:
                server.add_fault(**f)
            cluster = LiveCluster(KubeContext(str(kc)), timeout=1.0)
            try:
                result = await scan(
                    list(TREES.values()), cluster, namespace="llm-d-demo", probe_timeout=1.0, deadline=20.0
                )
            except Exception as exc:  # discovery itself may fail: that must be a ClusterError, said plainly
                from llmd_triage.cluster.base import ClusterError

                assert isinstance(exc, ClusterError), f"iteration {i} {faults}: {type(exc).__name__}: {exc}"
                continue
            finally:
                await cluster.aclose()
            for w in result.walks:
                assert w.status in ("complete", "partial", "unknown"), (i, faults, w.status)
                assert w.leaf is not None or w.reason, (i, faults, w.tree, w.target)
            await _settle(server)
            assert server.open_execs == 0, f"iteration {i} {faults}: an exec websocket was left open"
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            assert tasks == [], f"iteration {i}: tasks left behind: {tasks}"
            gc.collect()
            rss.append(_rss_mb())
    finally:
        server.stop()
    assert injected >= ITERATIONS
    if len(rss) >= 6:
        # flat: after the first iterations warm the caches, memory does not keep growing
        assert rss[-1] - rss[2] < 40, f"RSS grew from {rss[2]:.0f} MB to {rss[-1]:.0f} MB"
    print(f"soak: {ITERATIONS} scans, {injected} faults injected, RSS {rss[0]:.0f} -> {rss[-1]:.0f} MB")


@pytest.fixture
def stalled_exec_server(tmp_path: Path) -> Any:
    data = load_snapshot(DEMO)
    for rec in data.execs:
        rec["delay_s"] = 30  # every command hangs, like a wedged driver
    srv = FakeApiServer(data).start()
    try:
        yield srv
    finally:
        srv.stop()


async def test_cancel_during_an_exec_leaves_no_session_open(stalled_exec_server: FakeApiServer, tmp_path: Path) -> None:
    kc = stalled_exec_server.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm-d-demo")
    cluster = LiveCluster(KubeContext(str(kc)), timeout=5.0)
    task = asyncio.create_task(
        walk(TREES["oom-kill"], TargetRef("pod", "qwen3-32b-decode-5f7d9c8b6-7xk2p", "llm-d-demo"), cluster)
    )
    for _ in range(100):
        if stalled_exec_server.open_execs:
            break
        await asyncio.sleep(0.05)
    assert stalled_exec_server.open_execs == 1
    task.cancel()  # what Ctrl-C or Esc does to a walk
    with pytest.raises(asyncio.CancelledError):
        await task
    await _settle(stalled_exec_server)
    assert stalled_exec_server.open_execs == 0


async def test_cancel_during_a_debug_pod_exec_deletes_the_pod(tmp_path: Path) -> None:
    data = load_snapshot(DEMO)
    data.objects = {k: v for k, v in data.objects.items() if k[1] != "gpu-operator"}  # no node pod: debug pod
    data.execs.append({"pod": "*", "argv": ["chroot", "/host", "dmesg", "-T"], "stdout": "", "delay_s": 30})
    srv = FakeApiServer(data).start()
    srv.allow_pod_writes = True
    try:
        kc = srv.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm-d-demo")
        cluster = LiveCluster(
            KubeContext(str(kc)), timeout=5.0, debug_pods=DebugPods(image="toolbox", namespace="default")
        )
        task = asyncio.create_task(walk(TREES["gpu-xid"], TargetRef("node", "gpu-node-c"), cluster))
        for _ in range(200):
            if srv.open_execs:
                break
            await asyncio.sleep(0.05)
        assert srv.open_execs == 1 and len(srv.created_pods) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(100):
            if srv.deleted_pods and srv.open_execs == 0:
                break
            await asyncio.sleep(0.05)
        assert srv.deleted_pods == srv.created_pods and srv.open_execs == 0
    finally:
        srv.stop()
