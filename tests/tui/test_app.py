"""Pilot tests: the on-call flows end to end, on the demo snapshot and on the loopback API server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.widgets import DataTable, Input, OptionList, Static

from llmd_triage.cluster.base import ClusterError, ExecResult, TargetRef
from llmd_triage.cluster.live import KubeContext, LiveCluster
from llmd_triage.cluster.snapshot import SnapshotCluster, load_snapshot
from llmd_triage.tui.app import TriageApp
from llmd_triage.tui.screens.confirm import ConfirmScreen
from llmd_triage.tui.screens.fix import FixScreen
from llmd_triage.tui.screens.picker import ChoiceScreen, TargetPicker
from llmd_triage.tui.screens.start import StartScreen
from llmd_triage.tui.screens.walk import WalkScreen
from tests.integration.apiserver import FakeApiServer
from tests.tui.conftest import DEMO, demo_session

DECODE = "qwen3-32b-decode-5f7d9c8b6-7xk2p"


async def until(pilot: Any, cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for the app to reach a state; fail with the screen's name if it never does."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"timed out; screen is {type(pilot.app.screen).__name__}")
        await pilot.pause(0.05)


def walk_done(app: TriageApp) -> Callable[[], bool]:
    return lambda: isinstance(app.screen, WalkScreen) and app.screen.walk is not None


async def test_scan_pick_walk_fix_export(make_app: Callable[..., TriageApp], tmp_path: Path) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        start = app.screen
        assert isinstance(start, StartScreen)
        await pilot.press("s")
        await until(pilot, lambda: len(start.scan_walks) == 9)
        findings = start.query_one("#findings", DataTable)
        first = [str(c) for c in findings.get_row_at(0)]
        assert first[:3] == ["CRIT", "node/gpu-node-c", "gpu-xid"]  # worst first
        assert "5 finding(s) over 11 target(s)" in str(start.query_one("#scan-title", Static).render())

        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TargetPicker) and bool(app.screen.shown))
        await pilot.press(*"dec7x")
        picker = app.screen
        assert isinstance(picker, TargetPicker)
        await until(pilot, lambda: picker.shown[0].ref == f"pod/{DECODE}")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        choices = app.screen.query_one("#choices", OptionList)
        ids = [choices.get_option_at_index(i).id for i in range(choices.option_count)]
        choices.highlighted = ids.index("oom-kill")
        await pilot.press("enter")
        await until(pilot, walk_done(app))
        walk = app.screen
        assert isinstance(walk, WalkScreen) and walk.walk is not None
        assert walk.walk.leaf is not None and walk.walk.leaf.id == "clear-shm"
        assert [s.node for s in walk.steps][-1] == "clear-shm"

        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, FixScreen))
        await pilot.press("c")
        assert app.clipboard.startswith("kubectl exec -n llm-d-demo qwen3-32b-decode-5f7d9c8b6-7xk2p")
        await pilot.press("e")
        await until(pilot, lambda: len(list((tmp_path / "reports").glob("*.json"))) == 1)
    report = json.loads(next((tmp_path / "reports").glob("*.json")).read_text())
    assert report["findings"][0]["leaf"] == "clear-shm"
    md = next((tmp_path / "reports").glob("*.md")).read_text()
    assert "/dev/shm of qwen3-32b-decode-5f7d9c8b6-7xk2p filled" in md


class ExecDenied(SnapshotCluster):
    """The demo, but exec is forbidden: the OOM walk cannot list /dev/shm."""

    async def exec(self, *a: Any, **kw: Any) -> ExecResult:
        raise ClusterError("forbidden", 'pods "x" is forbidden: cannot create pods/exec', "kubectl auth can-i ...")


async def test_unknown_step_then_a_branch_chosen_by_hand(tmp_path: Path) -> None:
    session = demo_session(tmp_path, cluster=ExecDenied(load_snapshot(DEMO)))
    app = TriageApp(session, target=TargetRef("pod", DECODE, "llm-d-demo"), tree_id="oom-kill")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, walk_done(app))
        screen = app.screen
        assert isinstance(screen, WalkScreen) and screen.walk is not None
        unknown = [s.node for s in screen.walk.steps if s.status == "unknown"]
        assert "list-shm" in unknown
        undecided = [s for s in screen.walk.steps if s.kind == "decision" and s.status == "unknown"]
        assert undecided, "the decision after the failed exec must be unknown"
        decision = undecided[0].node

        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        choices = app.screen.query_one("#choices", OptionList)
        labels = [str(choices.get_option_at_index(i).prompt) for i in range(choices.option_count)]
        target = next(i for i, label in enumerate(labels) if label.endswith("→ clear-shm"))
        choices.highlighted = target
        await pilot.press("enter")
        await until(pilot, lambda: walk_done(app)() and app.screen.walk.leaf is not None)  # type: ignore[attr-defined]
        again = app.screen.walk  # type: ignore[attr-defined]
        assert again.leaf.id == "clear-shm"
        manual = next(s for s in again.steps if s.node == decision)
        assert manual.status == "manual" and manual.next == "clear-shm"
        # the exec that failed was not run again for the manual branch: its failure was kept
        assert next(s for s in again.steps if s.node == "list-shm").status == "unknown"

        await pilot.press("e")
        await until(pilot, lambda: len(list((tmp_path / "reports").glob("*.json"))) == 1)
    data = json.loads(next((tmp_path / "reports").glob("*.json")).read_text())
    step = next(s for s in data["walks"][0]["steps"] if s["node"] == decision)
    assert step["status"] == "manual" and step["branch"] == "chosen by hand"


async def test_retry_reruns_the_unknown_step(tmp_path: Path) -> None:
    calls: list[str] = []

    class FlakyExec(SnapshotCluster):
        async def exec(self, namespace: str, pod: str, container: str | None, argv: list[str], **kw: Any) -> Any:
            calls.append(" ".join(argv))
            if len(calls) == 1:
                raise ClusterError("unavailable", "connection reset by peer", "retry")
            return await super().exec(namespace, pod, container, argv, **kw)

    session = demo_session(tmp_path, cluster=FlakyExec(load_snapshot(DEMO)))
    app = TriageApp(session, target=TargetRef("pod", DECODE, "llm-d-demo"), tree_id="oom-kill")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, walk_done(app))
        assert app.screen.walk.leaf.id != "clear-shm"  # type: ignore[attr-defined]
        await pilot.press("r")
        await until(pilot, lambda: walk_done(app)() and len(calls) == 2)
        await until(pilot, walk_done(app))
        assert app.screen.walk.leaf.id == "clear-shm"  # type: ignore[attr-defined]
        assert app.screen.walk.status == "complete"  # type: ignore[attr-defined]


class Stalled(SnapshotCluster):
    """Exec hangs for 30 s: the stall a dead kubelet or a wedged driver gives."""

    def __init__(self, data: Any) -> None:
        super().__init__(data)
        self.started = asyncio.Event()
        self.cancelled = False

    async def exec(self, *a: Any, **kw: Any) -> ExecResult:
        self.started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("never reached")


async def test_a_stalled_probe_leaves_the_ui_responsive_and_esc_cancels_it(tmp_path: Path) -> None:
    cluster = Stalled(load_snapshot(DEMO))
    app = TriageApp(demo_session(tmp_path, cluster=cluster), target=TargetRef("pod", DECODE, "llm-d-demo"))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, (WalkScreen, ChoiceScreen)))
        if isinstance(app.screen, ChoiceScreen):  # a pod has several trees: take the OOM one
            ol = app.screen.query_one("#choices", OptionList)
            ol.highlighted = [ol.get_option_at_index(i).id for i in range(ol.option_count)].index("oom-kill")
            await pilot.press("enter")
        await until(pilot, cluster.started.is_set)
        walk = app.screen
        assert isinstance(walk, WalkScreen) and walk.running is not None and walk.running[0] == "list-shm"
        # the UI answers while the probe hangs: help opens and closes, the spinner row ticks
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await pilot.press("question_mark")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen", timeout=1.0)
        await pilot.press("escape")
        assert loop.time() - t0 < 1.0
        before = str(walk.query_one("#steps", OptionList).get_option("running").prompt)
        await pilot.pause(0.3)
        after = str(walk.query_one("#steps", OptionList).get_option("running").prompt)
        assert before != after  # elapsed time moved on
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, StartScreen), timeout=1.0)
        await until(pilot, lambda: cluster.cancelled, timeout=1.0)


async def test_command_palette_help_and_theme(make_app: Callable[..., TriageApp]) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("colon")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"scan")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, StartScreen) and len(app.screen.scan_walks) == 9)
        dark = app.theme
        await pilot.press("ctrl+t")
        assert app.theme != dark
        await pilot.press("question_mark")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        await pilot.press("escape")
        await pilot.press("q")
    assert app.return_code == 0


async def test_snapshot_offers_no_action(make_app: Callable[..., TriageApp]) -> None:
    app = make_app(target=TargetRef("node", "gpu-node-c"), tree_id="gpu-xid")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, walk_done(app))
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, FixScreen))
        assert not app.screen.query("#fix-actions") and app.screen.query("#no-actions")
        await pilot.press("a")
        await pilot.pause(0.1)
        assert isinstance(app.screen, FixScreen)  # no confirmation was offered


# ---------------------------------------------------------------------------------------- live: remediation
@pytest.fixture
def live_server() -> Any:
    srv = FakeApiServer(load_snapshot(DEMO)).start()
    srv.allow_remediation_writes = True
    try:
        yield srv
    finally:
        srv.stop()


def live_app(srv: FakeApiServer, tmp_path: Path, **kw: Any) -> TriageApp:
    kc = srv.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm-d-demo")
    cluster = LiveCluster(KubeContext(str(kc)), timeout=5.0)
    session = demo_session(tmp_path, cluster=cluster, is_snapshot=False)
    return TriageApp(session, **kw)


async def open_fix_for_node(app: TriageApp, pilot: Any) -> FixScreen:
    await until(pilot, walk_done(app))
    await pilot.press("f")
    await until(pilot, lambda: isinstance(app.screen, FixScreen))
    assert isinstance(app.screen, FixScreen)
    return app.screen


def audit_lines(tmp_path: Path) -> list[dict[str, Any]]:
    p = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in p.read_text().splitlines()] if p.exists() else []


async def test_remediation_cancel_then_confirm(live_server: FakeApiServer, tmp_path: Path) -> None:
    app = live_app(live_server, tmp_path, target=TargetRef("node", "gpu-node-c"), tree_id="gpu-xid")
    async with app.run_test(size=(120, 40)) as pilot:
        fix = await open_fix_for_node(app, pilot)
        assert [p.kind for p in fix.plans] == ["cordon", "drain"]
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(*"no", "enter")
        assert isinstance(app.screen, ConfirmScreen)  # a wrong word runs nothing
        assert "nothing was run" in str(app.screen.query_one("#confirm-error", Static).render())
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, FixScreen))
        assert live_server.remediations == []
        assert audit_lines(tmp_path)[-1]["result"] == "cancelled by the operator"

        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(*"yes", "enter")
        await until(pilot, lambda: live_server.remediations == ["cordon node/gpu-node-c"])
        await until(pilot, lambda: len(audit_lines(tmp_path)) == 2)
    line = audit_lines(tmp_path)[-1]
    assert line["action"] == "cordon" and line["target"] == "node/gpu-node-c" and line["dry_run"] == "ok"
    assert line["result"] == "done" and line["user"] and line["context"]
    writes = [r for r in live_server.journal if r.method == "PATCH"]
    assert [r.query.get("dryRun") for r in writes] == [["All"], None]  # a server-side dry run first


async def test_a_dangerous_action_needs_the_name_typed_back(live_server: FakeApiServer, tmp_path: Path) -> None:
    app = live_app(live_server, tmp_path, target=TargetRef("node", "gpu-node-c"), tree_id="gpu-xid")
    async with app.run_test(size=(120, 40)) as pilot:
        fix = await open_fix_for_node(app, pilot)
        fix.query_one("#fix-actions", OptionList).highlighted = 1  # drain
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(*"yes", "enter")
        assert isinstance(app.screen, ConfirmScreen) and live_server.remediations == []
        app.screen.query_one("#confirm-input", Input).value = ""
        await pilot.press(*"gpu-node-c", "enter")
        await until(pilot, lambda: "cordon node/gpu-node-c" in live_server.remediations)
        await until(pilot, lambda: len(audit_lines(tmp_path)) == 1)
    # DaemonSet pods (driver, DCGM exporter) stay; gpu-node-c runs nothing else
    assert live_server.remediations == ["cordon node/gpu-node-c"]
    assert audit_lines(tmp_path)[0]["action"] == "drain"


async def test_into_the_node_runs_kubectl_exec_it_in_its_gpu_pod(live_server: FakeApiServer, tmp_path: Path) -> None:
    ran: list[list[str]] = []

    def fake_terminal(argv: list[str]) -> int:
        ran.append(argv)
        return 0

    app = live_app(
        live_server, tmp_path, target=TargetRef("node", "gpu-node-c"), tree_id="gpu-xid", run_interactive=fake_terminal
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, walk_done(app))
        await pilot.press("n")
        await until(pilot, lambda: bool(ran))
    argv = ran[0]
    assert argv[:2] == ["kubectl", "--context"] and "exec" in argv and "-it" in argv
    assert argv[argv.index("-n") + 1 : argv.index("-n") + 3] == ["gpu-operator", "nvidia-driver-daemonset-z6k9d"]
    assert "nvtop" in argv[-1]


async def test_drain_evicts_all_but_daemonset_pods_after_a_dry_run(live_server: FakeApiServer, tmp_path: Path) -> None:
    from llmd_triage.engine.actions import make_plan

    app = live_app(live_server, tmp_path)
    outcome = await app.session.run_action(make_plan("drain", "gpu-node-a", None, None), "node/gpu-node-a")
    assert outcome.ok and outcome.dry_run == "ok"
    assert live_server.remediations == [
        "cordon node/gpu-node-a",
        "evict pod/llm-d-demo/llama-3-3-70b-decode-84f6c9d7b5-r8vtz",
        "evict pod/llm-d-demo/qwen3-32b-decode-5f7d9c8b6-7xk2p",
    ]  # the driver and DCGM exporter pods are DaemonSet pods: left alone
    evictions = [r for r in live_server.journal if r.path.endswith("/eviction")]
    assert len(evictions) == 4  # each one dry-run first (in the body), then for real


def test_evidence_shows_the_values_a_decision_used_and_marks_their_lines(tmp_path: Path) -> None:
    from llmd_triage.tui.render import evidence_text, highlighted_evidence

    session = demo_session(tmp_path)
    w = asyncio.run(session.walk(session.trees["oom-kill"], TargetRef("pod", DECODE, "llm-d-demo")))
    listing = next(s for s in w.steps if s.node == "read-termination")
    text = evidence_text(w, listing).plain
    assert "values of this step the walk decided on:" in text and "term.reason = OOMKilled" in text
    marks = highlighted_evidence(listing, {"term.reason": "OOMKilled"})
    assert any(hit for line, hit in marks if "OOMKilled" in line)
    assert not any(hit for line, hit in marks if "OOMKilled" not in line)


async def test_uncordon_only_undoes_a_cordon_this_tool_made(live_server: FakeApiServer, tmp_path: Path) -> None:
    from llmd_triage.engine.actions import CORDON_ANNOTATION, make_plan

    app = live_app(live_server, tmp_path)
    session = app.session
    # someone else cordoned gpu-node-b: llmd-triage will not uncordon it
    live_server.data.objects[("node", "", "gpu-node-b")].setdefault("spec", {})["unschedulable"] = True
    refused = await session.run_action(make_plan("uncordon", "gpu-node-b", None, None), "node/gpu-node-b")
    assert not refused.ok and "not cordoned by llmd-triage" in refused.result
    assert live_server.remediations == []
    # a cordon made here carries the annotation, so it can be undone here
    assert (await session.run_action(make_plan("cordon", "gpu-node-a", None, None), "node/gpu-node-a")).ok
    node = live_server.data.objects[("node", "", "gpu-node-a")]
    assert node["metadata"]["annotations"][CORDON_ANNOTATION].startswith("loopback ")
    assert (await session.run_action(make_plan("uncordon", "gpu-node-a", None, None), "node/gpu-node-a")).ok
    assert CORDON_ANNOTATION not in node["metadata"]["annotations"] and node["spec"]["unschedulable"] is False
    assert live_server.remediations == ["cordon node/gpu-node-a", "uncordon node/gpu-node-a"]
    assert audit_lines(tmp_path)[0]["result"].startswith("refused: node gpu-node-b")


async def test_into_the_node_from_a_pod_walk_finds_the_node_pod(live_server: FakeApiServer, tmp_path: Path) -> None:
    ran: list[list[str]] = []
    app = live_app(
        live_server,
        tmp_path,
        target=TargetRef("pod", DECODE, "llm-d-demo"),
        tree_id="oom-kill",
        run_interactive=lambda argv: ran.append(argv) or 0,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, walk_done(app))
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: bool(ran))
    argv = ran[0]
    # the OOM walk ran nothing on the node: the decode pod's node (gpu-node-a) and its driver pod
    assert argv[argv.index("-n") + 1 : argv.index("-n") + 5] == [
        "gpu-operator",
        "nvidia-driver-daemonset-h8m2x",
        "-c",
        "nvidia-driver-ctr",
    ]
    assert "bash" in argv[-1]


async def test_a_workload_is_walked_through_the_pod_you_pick(make_app: Callable[..., TriageApp]) -> None:
    from llmd_triage.cluster.base import parse_target

    app = make_app(target=parse_target("lws/deepseek-r1", "llm-d-demo"), tree_id="rdma-link-down")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        ol = app.screen.query_one("#choices", OptionList)
        ids = [ol.get_option_at_index(i).id for i in range(ol.option_count)]
        assert ids == ["deepseek-r1-0", "deepseek-r1-0-1"]  # leader, then worker
        await pilot.press("enter")
        await until(pilot, walk_done(app))
        assert app.screen.walk.leaf.id == "port-physically-down"  # type: ignore[attr-defined]


async def test_keys_typed_into_the_filter_are_text_not_commands(make_app: Callable[..., TriageApp]) -> None:
    """q, :, ? and s are app keys everywhere else; in the picker's filter they are what the SRE types."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TargetPicker))
        await pilot.press(*"qwen:?s")
        assert isinstance(app.screen, TargetPicker) and app.is_running
        assert app.screen.query_one("#filter", Input).value == "qwen:?s"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, StartScreen))
