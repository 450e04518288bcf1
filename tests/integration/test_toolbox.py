"""Node pods through the real client: the search order, `toolbox status`, and the TUI's nvtop key."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest

from llmd_triage.cli.main import main
from llmd_triage.cluster.base import TargetRef
from llmd_triage.cluster.live import KubeContext, LiveCluster
from llmd_triage.cluster.snapshot import SnapshotData, load_snapshot
from llmd_triage.probes.node_exec import find_node_pods
from tests.integration.apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "trees" / "snapshots" / "demo"
TOOLS = ["nvidia-smi", "nvtop", "dmesg", "lspci", "ibstat", "ibv_devinfo", "rdma", "findmnt"]


def node_pod(name: str, namespace: str, node: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "toolbox", "image": "toolbox"}]},
        "status": {"phase": "Running"},
    }


def with_toolbox(data: SnapshotData, node: str = "gpu-node-c") -> str:
    """Add a toolbox pod on `node` that answers like the driver pod does, and has every tool but nvtop."""
    name = f"llmd-triage-toolbox-{node[-1]}x7k2"
    data.add_object(node_pod(name, "llmd-triage", node, {"app.kubernetes.io/name": "llmd-triage-toolbox"}))
    driver = {"gpu-node-c": "nvidia-driver-daemonset-z6k9d"}.get(node)
    for rec in list(data.execs):
        if rec.get("pod") == driver:
            clone = copy.deepcopy(rec)
            clone.update(namespace="llmd-triage", pod=name)
            clone.pop("container", None)
            data.execs.append(clone)
    which = "\n".join(f"/usr/bin/{t}" for t in TOOLS if t != "nvtop") + "\n"
    data.execs.append(
        {"namespace": "llmd-triage", "pod": name, "argv": ["which", *TOOLS], "stdout": which, "exit_code": 1}
    )
    return name


def serve(data: SnapshotData, tmp_path: Path) -> tuple[FakeApiServer, LiveCluster, Path]:
    srv = FakeApiServer(data).start()
    kc = srv.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm-d-demo")
    return srv, LiveCluster(KubeContext(str(kc)), timeout=5.0), kc


@pytest.mark.parametrize("case", ["toolbox-first", "gpu-operator", "configured-selector", "network-operator"])
async def test_node_pods_are_found_in_order(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = load_snapshot(DEMO)
    expect: str
    if case == "toolbox-first":
        expect = with_toolbox(data)
    elif case == "gpu-operator":
        expect = "nvidia-driver-daemonset-z6k9d"
    elif case == "configured-selector":
        with_toolbox(data)
        data.add_object(node_pod("site-diag-1", "ops", "gpu-node-c", {"app": "site-diag"}))
        monkeypatch.setenv("LLMD_TRIAGE_NODE_POD_SELECTOR", "app=site-diag")
        expect = "site-diag-1"
    else:
        data.objects = {k: v for k, v in data.objects.items() if k[1] != "gpu-operator"}
        data.add_object(
            node_pod("mofed-ubuntu22.04-ds-q2", "nvidia-network-operator", "gpu-node-c", {"nvidia.com/ofed-driver": ""})
        )
        expect = "mofed-ubuntu22.04-ds-q2"
    srv, cluster, _ = serve(data, tmp_path)
    try:
        found = await find_node_pods(cluster, "gpu-node-c")
    finally:
        srv.stop()
    assert found[0][0]["metadata"]["name"] == expect


def test_toolbox_status_names_the_missing_tools(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = load_snapshot(DEMO)
    with_toolbox(data, "gpu-node-c")
    srv, _, kc = serve(data, tmp_path)
    try:
        code = main(["toolbox", "status", "--kubeconfig", str(kc)])
    finally:
        srv.stop()
    out = capsys.readouterr().out
    assert code == 1  # not every node is ready
    assert out.splitlines()[0].startswith("node pods are tried in this order: llmd-triage toolbox")
    line_c = next(line for line in out.splitlines() if line.startswith("gpu-node-c"))
    assert "llmd-triage/llmd-triage-toolbox-cx7k2 (llmd-triage toolbox)" in line_c and "lacks: nvtop (nvtop)" in line_c
    line_a = next(line for line in out.splitlines() if line.startswith("gpu-node-a"))
    assert "GPU operator driver pod" in line_a  # no toolbox there: the driver pod, whose tools are unknown
    assert "llmd-triage toolbox manifest | kubectl apply -f -" in out


async def test_the_tui_nvtop_key_opens_the_toolbox_pod(tmp_path: Path) -> None:
    from llmd_triage.tui.app import TriageApp
    from llmd_triage.tui.screens.walk import WalkScreen
    from tests.tui.conftest import demo_session

    data = load_snapshot(DEMO)
    name = with_toolbox(data, "gpu-node-c")
    srv, cluster, _ = serve(data, tmp_path)
    ran: list[list[str]] = []
    try:
        session = demo_session(tmp_path, cluster=cluster, is_snapshot=False)
        app = TriageApp(
            session,
            target=TargetRef("node", "gpu-node-c"),
            tree_id="gpu-xid",
            run_interactive=lambda a: ran.append(a) or 0,
        )
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(200):
                if isinstance(app.screen, WalkScreen) and app.screen.walk is not None:
                    break
                await pilot.pause(0.05)
            await pilot.press("n")
            for _ in range(40):
                if ran:
                    break
                await asyncio.sleep(0.05)
    finally:
        srv.stop()
    argv = ran[0]
    assert argv[argv.index("-n") + 1 : argv.index("-n") + 3] == ["llmd-triage", name]
    assert "-c" not in argv[: argv.index("--")]  # the toolbox has one container: no -c


def test_toolbox_apply_shows_the_diff_asks_and_applies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    srv, _, kc = serve(load_snapshot(DEMO), tmp_path)
    srv.allow_object_writes = True
    base = ["toolbox", "apply", "--kubeconfig", str(kc)]
    try:
        assert main(base) == 2  # not a terminal and no --yes: nothing is applied
        assert "not applied" in capsys.readouterr().err and srv.object_writes == []
        assert main([*base, "--yes"]) == 0
        out = capsys.readouterr().out
        assert "+ create Namespace/llmd-triage" in out and "+ create DaemonSet/llmd-triage-toolbox" in out
        assert srv.object_writes == [
            "create Namespace/llmd-triage",
            "create ServiceAccount/llmd-triage-toolbox",
            "create DaemonSet/llmd-triage-toolbox",
        ]
        assert main([*base, "--yes"]) == 0
        assert "the toolbox is up to date" in capsys.readouterr().out
        assert main([*base, "--yes", "--image", "registry.local/toolbox:2"]) == 0
        out = capsys.readouterr().out
        changed = [line[0] + line[1:].strip() for line in out.splitlines() if line[:1] in "-+" and "image:" in line]
        assert changed == ["-image: ghcr.io/llm-d/llmd-triage-toolbox:latest", "+image: registry.local/toolbox:2"]
        assert srv.object_writes[-1] == "patch DaemonSet/llmd-triage-toolbox"
    finally:
        srv.stop()
    assert not [j for j in srv.journal if j.method not in ("GET", "POST", "PATCH")]


def test_preflight_shows_the_node_pod_order_and_what_it_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = load_snapshot(DEMO)
    with_toolbox(data, "gpu-node-c")
    srv, _, kc = serve(data, tmp_path)
    try:
        main(["preflight", "--kubeconfig", str(kc), "--tree", "gpu-xid", "--target", "node/gpu-node-c"])
    finally:
        srv.stop()
    out = capsys.readouterr().out
    assert "node pods, tried in this order: llmd-triage toolbox" in out
    line = next(line for line in out.splitlines() if line.strip().startswith("gpu-node-c:"))
    assert line.index("llmd-triage-toolbox-cx7k2 (llmd-triage toolbox)") < line.index("nvidia-driver-daemonset-z6k9d")
