"""The live cluster backend through the real `kubernetes` client against the loopback API server.

Every probe kind, every fault class (each must end in `unknown` with a message, never a traceback),
the read-only journal, preflight both ways, and capture/replay and `kubectl cluster-info dump`
replaying to the same walk.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmd_triage.cli.main import load_tree_set, main
from llmd_triage.cluster.base import ClusterError, parse_target
from llmd_triage.cluster.capture import RecordingCluster, write_snapshot
from llmd_triage.cluster.live import KubeContext, LiveCluster
from llmd_triage.cluster.snapshot import SnapshotCluster, load_snapshot
from llmd_triage.engine.walk import walk
from tests.integration.apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tests" / "fixtures" / "snapshots" / "small"  # frozen: the bundled demo grows
ZOO = ROOT / "trees" / "snapshots" / "oom-zoo"
TREES = load_tree_set(ROOT / "trees")
OOM = TREES["oom-kill"]
DECODE = "qwen3-32b-decode-5f7d9c8b6-7xk2p"
PREFILL = "qwen3-32b-prefill-6b8c7d9f5-m4q8z"


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    srv = FakeApiServer(load_snapshot(DEMO)).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def kubeconfig(server: FakeApiServer, tmp_path: Path) -> Path:
    return server.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm-d-demo")


def live(kubeconfig: Path, **kw: Any) -> LiveCluster:
    return LiveCluster(KubeContext(str(kubeconfig)), timeout=kw.pop("timeout", 5.0), **kw)


def _shape(w: Any) -> tuple[Any, ...]:
    return tuple((s.node, s.status, s.next) for s in w.steps), (w.leaf.id if w.leaf else None)


async def test_live_walk_equals_snapshot_walk(kubeconfig: Path) -> None:
    cluster = live(kubeconfig)
    assert cluster.default_namespace == "llm-d-demo"
    target = parse_target(f"pod/{DECODE}")
    w_live = await walk(OOM, target, cluster)
    w_snap = await walk(OOM, target, SnapshotCluster(load_snapshot(DEMO)))
    assert w_live.leaf is not None and w_live.leaf.id == "clear-shm"
    assert _shape(w_live) == _shape(w_snap)
    assert w_live.leaf.why == w_snap.leaf.why  # same evidence, same numbers


async def test_every_read_kind_through_the_client(kubeconfig: Path) -> None:
    c = live(kubeconfig)
    pod = await c.get("v1", "Pod", DECODE, "llm-d-demo")
    assert pod["metadata"]["name"] == DECODE
    decode = await c.list("v1", "Pod", "llm-d-demo", label_selector="llm-d.ai/role=decode")
    assert [p["metadata"]["name"] for p in decode] == [DECODE]
    nodes = await c.list("v1", "Node")
    assert {n["metadata"]["name"] for n in nodes} == {"gpu-node-a", "gpu-node-b"}
    pools = await c.list("inference.networking.k8s.io/v1", "InferencePool", "llm-d-demo")
    assert pools[0]["metadata"]["name"] == "qwen3-32b"
    with pytest.raises(ClusterError) as e:
        await c.list("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", "llm-d-demo")
    assert e.value.kind == "not_installed"
    ev = await c.list("v1", "Event", "llm-d-demo", field_selector=f"involvedObject.name={DECODE}")
    assert {x["reason"] for x in ev} == {"Pulled", "BackOff"}
    prev = await c.logs("llm-d-demo", DECODE, "vllm", previous=True, tail_lines=1)
    assert "GPU KV cache usage: 41.2%" in prev
    res = await c.exec("llm-d-demo", DECODE, "vllm", ["ls", "-la", "/dev/shm"])
    assert res.exit_code == 0 and res.stdout.count("nccl-") == 5
    missing = await c.exec("llm-d-demo", DECODE, "vllm", ["ibstat"])
    assert missing.exit_code == 127


async def test_one_list_per_scope_per_run(kubeconfig: Path, server: FakeApiServer) -> None:
    c = live(kubeconfig)
    await asyncio.gather(*(c.list("v1", "Node") for _ in range(5)))
    await c.list("v1", "Node")
    lists = [j for j in server.journal if j.path == "/api/v1/nodes"]
    assert len(lists) == 1


@pytest.mark.parametrize(
    "fault,kind,words",
    [
        ({"status": 403}, "forbidden", "forbidden"),
        ({"status": 404}, "not_found", "not found"),
        ({"status": 429}, "unavailable", "throttling"),
        ({"status": 500}, "unavailable", "failed"),
        ({"stall_s": 3.0}, "timeout", "no answer"),
        ({"drop": True}, "unavailable", "cannot reach"),
        ({"garbage": True}, "garbage", "not JSON"),
    ],
)
async def test_faults_become_unknown_with_a_message(
    kubeconfig: Path, server: FakeApiServer, fault: dict[str, Any], kind: str, words: str
) -> None:
    server.add_fault(path=f"/api/v1/namespaces/llm-d-demo/pods/{DECODE}$", **fault)
    w = await walk(OOM, parse_target(f"pod/{DECODE}"), live(kubeconfig, timeout=1.0), probe_timeout=8)
    step = next(s for s in w.steps if s.node == "read-termination")
    assert step.status == "unknown"
    assert step.error["kind"] == kind, step.error
    assert words in step.error["message"]
    assert w.leaf is not None and w.leaf.id == "check-termination-by-hand"


async def test_forbidden_names_the_can_i_line(kubeconfig: Path, server: FakeApiServer) -> None:
    server.deny("create", "pods", subresource="exec")
    w = await walk(OOM, parse_target(f"pod/{DECODE}"), live(kubeconfig))
    step = next(s for s in w.steps if s.node == "list-shm")
    assert step.error["kind"] == "forbidden"
    assert "kubectl auth can-i create pods/exec -n llm-d-demo" in step.error["hint"]
    assert w.leaf is not None and w.leaf.id == "check-shm-by-hand"


def test_run_unauthorized_exits_3(server: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kc = server.write_kubeconfig(tmp_path / "kc", namespace="llm-d-demo")
    kc.write_text(kc.read_text().replace(server.token, "wrong-token"))
    assert main(["run", "--kubeconfig", str(kc), "--target", f"pod/{DECODE}", "--no-preflight"]) == 3
    assert "credentials rejected" in capsys.readouterr().err


def test_read_only_run_sends_only_gets(
    server: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--kubeconfig", str(kubeconfig), "--target", f"pod/{DECODE}", "--no-preflight", "-q"]) == 1
    assert capsys.readouterr().err == ""  # the report goes to stdout; --quiet leaves stderr to errors
    methods = {(j.method, j.verb) for j in server.journal}
    assert {m for m, _ in methods} == {"GET"}, methods
    assert any(v == "exec" for _, v in methods)
    # with preflight, the only non-GET requests are access reviews (which change nothing)
    server.journal.clear()
    assert main(["run", "--kubeconfig", str(kubeconfig), "--target", f"pod/{DECODE}"]) == 1
    posts = [j for j in server.journal if j.method != "GET"]
    assert posts and all(j.path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" for j in posts)


def test_preflight_both_ways(server: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preflight", "--kubeconfig", str(kubeconfig), "--tree", "oom-kill"]) == 0
    out = capsys.readouterr().out
    assert "NO" not in out and "kubectl auth can-i get pods --subresource=log -n llm-d-demo" in out
    server.deny("get", "pods", subresource="log")
    assert main(["preflight", "--kubeconfig", str(kubeconfig), "--tree", "oom-kill"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[2].startswith("NO ") and "pods/log" in out.splitlines()[2]


async def test_capture_live_then_replay(kubeconfig: Path, tmp_path: Path) -> None:
    target = parse_target(f"pod/{DECODE}")
    rec = RecordingCluster(live(kubeconfig))
    original = await walk(OOM, target, rec)
    dest = write_snapshot(rec.data, tmp_path / "cap.tar.gz", default_target=target.ref)
    replay = await walk(OOM, target, SnapshotCluster(load_snapshot(dest)))
    assert _shape(replay) == _shape(original)
    assert replay.leaf.why == original.leaf.why


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
async def test_cluster_info_dump_by_real_kubectl_replays_the_same_walk(kubeconfig: Path, tmp_path: Path) -> None:
    out = tmp_path / "dump"
    subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "cluster-info",
            "dump",
            "--namespaces",
            "llm-d-demo",
            "--output-directory",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    data = load_snapshot(out)
    assert data.manifest["format"] == "kubectl cluster-info dump"
    target = parse_target(f"pod/{PREFILL}", "llm-d-demo")
    w_live = await walk(OOM, target, live(kubeconfig))
    w_dump = await walk(OOM, target, SnapshotCluster(data))
    assert w_live.leaf is not None and w_live.leaf.id == "no-oom"
    assert _shape(w_dump) == _shape(w_live)


def test_json_report_from_live_run(server: FakeApiServer, kubeconfig: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["run", "--kubeconfig", str(kubeconfig), "--target", f"pod/{DECODE}", "-o", "json"])
    report = json.loads(capsys.readouterr().out)
    assert report["walks"][0]["cluster"] == "loopback"
    assert report["findings"][0]["leaf"] == "clear-shm"


async def test_one_retry_on_a_reset_connection(kubeconfig: Path, server: FakeApiServer) -> None:
    server.add_fault(path=f"/api/v1/namespaces/llm-d-demo/pods/{DECODE}$", drop=True, times=1)
    pod = await live(kubeconfig).get("v1", "Pod", DECODE, "llm-d-demo")
    assert pod["metadata"]["name"] == DECODE
    assert sum(1 for j in server.journal if j.path.endswith(f"/pods/{DECODE}")) == 2


async def test_exec_and_logs_concurrency_is_bounded(tmp_path: Path) -> None:
    data = load_snapshot(DEMO)
    for i in range(6):
        data.execs.append(
            {"namespace": "llm-d-demo", "pod": DECODE, "argv": ["sleep-probe", str(i)], "delay_s": 0.3, "stdout": "ok"}
        )
    with FakeApiServer(data).start() as srv:
        kc = srv.write_kubeconfig(tmp_path / "kc", namespace="llm-d-demo")
        c = LiveCluster(KubeContext(str(kc)), concurrency=2, timeout=10)
        loop = asyncio.get_running_loop()
        start = loop.time()
        results = await asyncio.gather(
            *(c.exec("llm-d-demo", DECODE, "vllm", ["sleep-probe", str(i)]) for i in range(6))
        )
        elapsed = loop.time() - start
    assert [r.stdout for r in results] == ["ok"] * 6
    assert elapsed >= 0.85  # 6 calls of 0.3 s, two at a time: at least three rounds


async def test_debug_pod_only_with_the_flag_and_always_deleted(tmp_path: Path) -> None:
    from llmd_triage.cluster.live import DebugPods
    from llmd_triage.probes.registry import default_registry

    data = load_snapshot(DEMO)  # the demo has no node pods: node-level commands need a debug pod
    data.execs.append(
        {
            "namespace": "default",
            "pod": "*",
            "argv": ["chroot", "/host", "lspci", "-vvv"],
            "stdout": "00:00.0 Host bridge\n",
        }
    )
    probe = default_registry().get("node.exec")
    with FakeApiServer(data).start() as srv:
        srv.allow_pod_writes = True
        kc = srv.write_kubeconfig(tmp_path / "kc", namespace="llm-d-demo")
        target = parse_target("node/gpu-node-a")
        # without the flag: unknown, with the kubectl debug line, and nothing created
        from llmd_triage.probes.base import ProbeFailure

        with pytest.raises(ProbeFailure) as e:
            await probe.run({"argv": ["lspci", "-vvv"]}, target, LiveCluster(KubeContext(str(kc))))
        assert "kubectl debug node/gpu-node-a" in e.value.hint
        assert srv.created_pods == [] and all(j.method == "GET" for j in srv.journal)
        # with the flag: created on the node, used, deleted
        c = LiveCluster(KubeContext(str(kc)), debug_pods=DebugPods(image="toolbox:test", namespace="default"))
        res = await probe.run({"argv": ["lspci", "-vvv"]}, target, c)
        assert res.data["stdout"] == "00:00.0 Host bridge\n"
        assert res.data["source"].startswith("debug pod")
        assert len(srv.created_pods) == 1 and srv.deleted_pods == srv.created_pods
        assert srv.created_pods[0].startswith("default/llmd-triage-debug-gpu-node-a-")
        created = next(j for j in srv.journal if j.method == "POST" and j.path.endswith("/pods"))
        assert created.path == "/api/v1/namespaces/default/pods"


async def test_probes_through_the_client(tmp_path: Path) -> None:
    """The probe kinds a walk of the shipped trees does not reach in the tests above."""
    from llmd_triage.probes.registry import default_registry

    reg = default_registry()
    data = load_snapshot(DEMO)
    data.proxy[("llm-d-demo", DECODE, 8200, "/metrics")] = (
        '# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{model_name="Qwen/Qwen3-32B"} 7.0\n'
    )
    data.add_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "nvidia-driver-daemonset-x1",
                "namespace": "gpu-operator",
                "labels": {"app": "nvidia-driver-daemonset"},
            },
            "spec": {"nodeName": "gpu-node-a", "containers": [{"name": "nvidia-driver-ctr"}]},
            "status": {"phase": "Running"},
        }
    )
    data.execs.append(
        {
            "namespace": "gpu-operator",
            "pod": "nvidia-driver-daemonset-x1",
            "argv": ["nvidia-smi", "topo", "-m"],
            "stdout": "\tGPU0\tGPU1\nGPU0\t X \tNV18\nGPU1\tNV18\t X \n",
        }
    )
    with FakeApiServer(data).start() as srv:
        c = live(srv.write_kubeconfig(tmp_path / "kc", namespace="llm-d-demo"))
        pod = parse_target(f"pod/{DECODE}", "llm-d-demo")
        metrics = await reg.get("pod.metrics").run({"port": 8200}, pod, c)
        assert metrics.data["value"]["vllm:num_requests_waiting"] == 7.0
        pools = await reg.get("k8s.list").run(
            {"apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool"}, pod, c
        )
        assert pools.data["count"] == 1
        lws = await reg.get("k8s.list").run(
            {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet"}, pod, c
        )
        assert lws.data["installed"] is False
        topo = await reg.get("node.exec").run({"argv": ["nvidia-smi", "topo", "-m"], "parser": "nvidia_topo"}, pod, c)
        assert topo.data["node"] == "gpu-node-a" and topo.data["pod"] == "gpu-operator/nvidia-driver-daemonset-x1"
        assert topo.data["parsed"]["all_gpu_pairs_nvlink"] is True
        ev = await reg.get("k8s.events").run({}, pod, c)
        assert ev.data["warnings"] == 1
        with pytest.raises(Exception) as e:  # a port the pod does not serve
            await reg.get("pod.metrics").run({"port": 9999}, pod, c)
        assert "connection refused" in str(e.value)


async def test_conflict_and_tls_failures_are_data(kubeconfig: Path, server: FakeApiServer, tmp_path: Path) -> None:
    server.add_fault(path=f"/api/v1/namespaces/llm-d-demo/pods/{DECODE}$", status=409)
    with pytest.raises(ClusterError) as e:
        await live(kubeconfig).get("v1", "Pod", DECODE, "llm-d-demo")
    assert e.value.kind == "error" and "409" in e.value.message
    # a kubeconfig whose CA did not sign the server's certificate
    import base64

    import yaml as _yaml

    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=not-this-cluster",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(crt),
        ],
        check=True,
        capture_output=True,
    )
    cfg = _yaml.safe_load(kubeconfig.read_text())
    cfg["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(crt.read_bytes()).decode()
    bad = tmp_path / "bad-ca"
    bad.write_text(_yaml.safe_dump(cfg))
    with pytest.raises(ClusterError) as e:
        await live(bad).get("v1", "Pod", DECODE, "llm-d-demo")
    assert e.value.kind == "unavailable"
    assert "TLS" in e.value.message or "certificate" in e.value.message.lower()


def test_live_scan_of_the_bundled_demo_finds_what_the_snapshot_scan_finds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's demo, served by the API server: the real client, node pods, exec and logs give the same
    five findings as reading the snapshot, with no Prometheus configured (its steps go unknown, walks go on)."""
    bundled = ROOT / "trees" / "snapshots" / "demo"
    assert main(["scan", "--snapshot", str(bundled), "-o", "json"]) == 1
    from_snapshot = json.loads(capsys.readouterr().out)
    srv = FakeApiServer(load_snapshot(bundled)).start()
    try:
        kc = srv.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm-d-demo")
        assert main(["scan", "--kubeconfig", str(kc), "-o", "json"]) == 1
        from_live = json.loads(capsys.readouterr().out)
    finally:
        srv.stop()

    def findings(report: dict[str, Any]) -> set[tuple[str, str, str]]:
        return {(f["tree"], f["target"]["name"], f["leaf"]) for f in report["findings"]}

    assert findings(from_live) == findings(from_snapshot) and len(findings(from_live)) == 5
    xid = next(w for w in from_live["walks"] if w["tree"] == "gpu-xid")
    dcgm = next(s for s in xid["steps"] if s["node"] == "read-dcgm-xid")
    assert dcgm["status"] == "unknown" and xid["status"] == "partial"


async def test_exec_handshakes_never_capture_concurrent_lists(kubeconfig: Path) -> None:
    """kubernetes-client/python#928: `stream()` swaps `request` on the ApiClient it is handed during the
    websocket handshake; a LIST on the same client in another thread then fails with "Handshake status 200 OK"
    (seen as a flaky `list-node-pods` step in the demo scan). Execs and lists side by side must all succeed."""
    c = live(kubeconfig)
    c.selector_lists_before_whole = 10**9  # every selector LIST goes out, none is answered from a whole one

    async def one_exec() -> int:
        return (await c.exec("llm-d-demo", DECODE, "vllm", ["ls", "-la", "/dev/shm"])).exit_code

    async def one_list(i: int) -> int:
        # distinct selectors defeat the per-run cache: every call is a real request
        pods = await c.list("v1", "Pod", "llm-d-demo", label_selector=f"llm-d.ai/role,round!=r{i}")
        return len(pods)

    for r in range(10):
        results = await asyncio.gather(*(one_exec() for _ in range(6)), *(one_list(r * 100 + i) for i in range(30)))
        assert results[:6] == [0] * 6 and all(n == 2 for n in results[6:])
