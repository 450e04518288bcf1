"""Trees from strangers: exec only of read-only diagnostics, by lint, at walk time, in the CLI and the TUI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from llmd_triage.cli.main import main
from llmd_triage.cluster.base import ExecResult, TargetRef
from llmd_triage.cluster.snapshot import SnapshotCluster, load_snapshot
from llmd_triage.engine.walk import walk
from llmd_triage.probes.allowlist import CURRENT, ExecPolicy, check_argv
from llmd_triage.tree.loader import load_tree, load_tree_text

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "trees" / "snapshots" / "demo"
DECODE = "qwen3-32b-decode-5f7d9c8b6-7xk2p"


def shipped_argvs() -> list[list[str]]:
    """Every literal exec argv in the bundled trees (templated words stand in as a plain path)."""
    import yaml

    out = []
    for f in sorted((ROOT / "trees").glob("*.yaml")):
        for node in yaml.safe_load(f.read_text())["nodes"]:
            argv = (node.get("params") or {}).get("argv")
            if argv:
                out.append(["/dev/shm/x" if "{{" in str(a) else str(a) for a in argv])
    return out


def test_every_shipped_exec_is_allowed() -> None:
    argvs = shipped_argvs()
    assert len(argvs) >= 12
    assert [a for a in argvs if check_argv(a)] == []


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["nvidia-smi", "-r"], "resets a GPU"),
        (["nvidia-smi", "--gpu-reset", "-i", "0"], "resets a GPU"),
        (["nvidia-smi", "-pm", "1"], "-pm is not a read-only option"),
        (["nvidia-smi", "topo", "-x"], "not a read-only form"),
        (["dmesg", "-c"], "-c is not a read-only option"),
        (["dmesg", "--clear"], "--clear is not a read-only option"),
        (["rdma", "link", "set", "mlx5_0/1", "state", "down"], "changes state"),
        (["ip", "link", "set", "eth0", "down"], "changes state"),
        (["journalctl", "--vacuum-time=1s"], "--vacuum-time=1s is not a read-only option"),
        (["rm", "-rf", "/"], "rm is not a read-only diagnostic"),
        (["sh", "-c", "nvidia-smi"], "sh is not a read-only diagnostic"),
        (["/usr/bin/nvidia-smi", "-q"], "name the command, not a path"),
        (["cat", "/etc/shadow"], "outside what diagnostics read"),
        (["cat", "/proc/../etc/passwd"], "outside what diagnostics read"),
        (["ls", "-la", "/root"], "outside what diagnostics read"),
        (["timeout", "5", "rm", "-rf", "/"], "rm is not a read-only diagnostic"),
        (["lspci", "-vvv", "\nrm"], "control characters"),
        (["findmnt", "-T", "$(reboot)"], "characters a diagnostic never needs"),
    ],
)
def test_writes_resets_and_escapes_are_refused(argv: list[str], why: str) -> None:
    problem = check_argv(argv)
    assert problem is not None and why in problem


def test_the_operator_can_allow_a_prefix_and_only_that() -> None:
    policy = ExecPolicy.from_words(["nvidia-smi -r"])
    assert policy.check(["nvidia-smi", "-r", "-i", "0"]) is None
    assert policy.check(["nvidia-smi", "-pm", "1"]) is not None
    assert ExecPolicy.from_words([]).check(["nvidia-smi", "-r"]) is not None


RESET_TREE = """\
id: gpu-reset-probe
title: A tree someone shared
symptom: s
applies_to: [pod]
nodes:
  - id: reset
    kind: probe
    probe: k8s.exec
    params:
      container: vllm
      argv: [nvidia-smi, -r]
    bind: r
    next: d
  - id: d
    kind: decision
    branches:
      - {when: "r.exit_code == 0", goto: ok}
    unknown: ok
  - {id: ok, kind: leaf, outcome: healthy, severity: info, verdict: v, why: w}
"""


class CountingExec(SnapshotCluster):
    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.execs: list[list[str]] = []

    async def exec(self, namespace: str, pod: str, container: str | None, argv: list[str], **kw: Any) -> ExecResult:
        self.execs.append(argv)
        return ExecResult(0, "", "", False)


def test_lint_names_file_line_and_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = tmp_path / "shared.yaml"
    tree.write_text(RESET_TREE)
    assert main(["lint", str(tree), "--no-tests", "--output", "json"]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    hit = next(f for f in findings if f["rule"] == "exec-not-allowed")
    assert hit["line"] == 11 and hit["file"].endswith("shared.yaml")
    assert "nvidia-smi -r" in hit["message"] and "resets a GPU" in hit["message"]


def test_lint_honours_the_operator_allowance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    tree = tmp_path / "shared.yaml"
    tree.write_text(RESET_TREE)
    monkeypatch.setenv("LLMD_TRIAGE_ALLOW_EXEC", "nvidia-smi -r")
    main(["lint", str(tree), "--no-tests", "--output", "json"])
    assert not [f for f in json.loads(capsys.readouterr().out)["findings"] if f["rule"] == "exec-not-allowed"]


def test_the_walk_refuses_before_the_exec_and_goes_on() -> None:
    cluster = CountingExec(load_snapshot(DEMO))
    tree = load_tree_text(RESET_TREE, "shared.yaml")
    w = asyncio.run(walk(tree, TargetRef("pod", DECODE, "llm-d-demo"), cluster))
    step = next(s for s in w.steps if s.node == "reset")
    assert step.status == "unknown" and step.error and step.error["kind"] == "refused"
    assert "--allow-exec 'nvidia-smi -r'" in step.error["hint"]
    assert cluster.execs == [] and w.leaf is not None  # nothing ran, and the walk still ended at a leaf

    token = CURRENT.set(ExecPolicy.from_words(["nvidia-smi -r"]))
    try:
        asyncio.run(walk(tree, TargetRef("pod", DECODE, "llm-d-demo"), cluster))
    finally:
        CURRENT.reset(token)
    assert cluster.execs == [["nvidia-smi", "-r"]]  # allowed by the operator: it runs


def test_run_refuses_by_default_and_allows_with_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = tmp_path / "shared.yaml"
    tree.write_text(RESET_TREE)
    main(["run", "--demo", "--tree", str(tree), "--target", f"pod/{DECODE}", "-o", "json"])
    step = next(s for s in json.loads(capsys.readouterr().out)["walks"][0]["steps"] if s["node"] == "reset")
    assert step["status"] == "unknown" and step["error"]["kind"] == "refused"
    main(
        [
            "run",
            "--demo",
            "--tree",
            str(tree),
            "--target",
            f"pod/{DECODE}",
            "-o",
            "json",
            "--allow-exec",
            "nvidia-smi -r",
        ]
    )
    step = next(s for s in json.loads(capsys.readouterr().out)["walks"][0]["steps"] if s["node"] == "reset")
    assert step["error"] is None or step["error"]["kind"] != "refused"  # the snapshot has no record: not_captured


async def test_the_tui_refuses_it_too(tmp_path: Path) -> None:
    from llmd_triage.tui.app import TriageApp
    from llmd_triage.tui.screens.walk import WalkScreen
    from tests.tui.conftest import demo_session

    cluster = CountingExec(load_snapshot(DEMO))
    session = demo_session(tmp_path, cluster=cluster)
    tree = load_tree_text(RESET_TREE, "shared.yaml")
    session.trees = {tree.id: tree}
    app = TriageApp(session, target=TargetRef("pod", DECODE, "llm-d-demo"), tree_id=tree.id)
    async with app.run_test() as pilot:
        for _ in range(100):
            if isinstance(app.screen, WalkScreen) and app.screen.walk is not None:
                break
            await pilot.pause(0.05)
        w = app.screen.walk  # type: ignore[attr-defined]
    assert next(s for s in w.steps if s.node == "reset").error["kind"] == "refused"
    assert cluster.execs == []


SMUGGLE_TREE = """\
id: smuggle
title: T
symptom: s
applies_to: [pod]
nodes:
  - id: ls
    kind: probe
    probe: k8s.exec
    params:
      container: vllm
      argv: [ls, -la, "{{ pod.metadata.annotations['cache-dir'] }}"]
    bind: r
    next: d
  - id: d
    kind: decision
    branches:
      - {when: "r.exit_code == 0", goto: ok}
    unknown: ok
  - {id: ok, kind: leaf, outcome: healthy, severity: info, verdict: v, why: w}
"""


@pytest.mark.parametrize("value", ["--hide=*", "/dev/shm\n--color", "-R"])
def test_a_value_from_the_cluster_cannot_become_an_option(value: str) -> None:
    data = load_snapshot(DEMO)
    pod = data.objects[("pod", "llm-d-demo", DECODE)]
    pod["metadata"].setdefault("annotations", {})["cache-dir"] = value
    cluster = CountingExec(data)
    w = asyncio.run(walk(load_tree_text(SMUGGLE_TREE, "s.yaml"), TargetRef("pod", DECODE, "llm-d-demo"), cluster))
    step = next(s for s in w.steps if s.node == "ls")
    assert step.error and step.error["kind"] == "refused" and cluster.execs == []


def test_an_action_kind_outside_the_list_cannot_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Actions are an enum: a tree that declares anything else (a shell action) fails to load, so it never runs."""
    tree = tmp_path / "act.yaml"
    tree.write_text(
        RESET_TREE.replace("argv: [nvidia-smi, -r]", "argv: [nvidia-smi, -q]").replace(
            "severity: info, verdict: v, why: w}",
            "severity: info, verdict: v, why: w, actions: [{kind: shell, target: 'reboot'}]}",
        )
    )
    with pytest.raises(Exception) as exc:
        load_tree(tree)
    assert "shell" in str(exc.value) and "act.yaml:" in str(exc.value)
    assert main(["run", "--demo", "--tree", str(tree), "--target", f"pod/{DECODE}"]) == 2
    assert "shell" in capsys.readouterr().err
