"""Every shipped tree case passes through the same runner `llmd-triage test` uses; a wrong case
fails with a readable expected-vs-taken diff; every leaf and unknown route is covered."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from llmd_triage.cli.main import load_tree_set, main
from llmd_triage.testing.cases import discover_cases, load_case, run_case
from llmd_triage.tree.model import DecisionNode

ROOT = Path(__file__).resolve().parents[2]
TREES = load_tree_set(ROOT / "trees")
CASES = discover_cases([ROOT / "trees" / "tests"])


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_shipped_case_passes(path: Path) -> None:
    result = await run_case(load_case(path), TREES)
    assert result.passed, result.report()


async def test_every_leaf_and_unknown_route_is_reached_by_a_case() -> None:
    reached: dict[str, set[str]] = {t: set() for t in TREES}
    unknown_taken: dict[str, set[str]] = {t: set() for t in TREES}
    for path in CASES:
        case = load_case(path)
        res = await run_case(case, TREES)
        assert res.walk is not None
        reached[case.tree] |= set(res.walk.path)
        unknown_taken[case.tree] |= {s.node for s in res.walk.steps if s.kind == "decision" and s.branch == "unknown"}
    for tid, tree in TREES.items():
        missing = {leaf.id for leaf in tree.leaves} - reached[tid]
        assert not missing, f"{tid}: no case reaches leaves {sorted(missing)}"
        decisions = {n.id for n in tree.nodes.values() if isinstance(n, DecisionNode) and n.unknown}
        assert decisions - unknown_taken[tid] == set(), (
            f"{tid}: no case takes the unknown route of {sorted(decisions - unknown_taken[tid])}"
        )


def test_wrong_expected_leaf_fails_with_readable_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case_dir = tmp_path / "oom-kill"
    case_dir.mkdir()
    snap = ROOT / "trees" / "snapshots" / "demo"
    (case_dir / "wrong.yaml").write_text(
        f"""name: expects the wrong leaf
snapshot: {snap}
target: pod/qwen3-32b-decode-5f7d9c8b6-7xk2p
expect:
  leaf: raise-memory-limit
  path: [read-termination, termination-kind, list-shm, host-ram, raise-memory-limit]
"""
    )
    code = main(["test", str(case_dir)])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out and "expects the wrong leaf" in out
    assert "expected leaf 'raise-memory-limit', walk ended at 'clear-shm'" in out
    assert "expected path: read-termination -> termination-kind -> list-shm -> host-ram -> raise-memory-limit" in out
    assert "taken path:    read-termination -> termination-kind -> list-shm -> host-ram -> clear-shm" in out
    # the deciding values are shown
    assert "host-ram: leftover NCCL or offload segments in a memory-backed /dev/shm -> clear-shm" in out
    assert "shm.parsed.nccl_count=5" in out
    assert "0 passed, 1 failed" in out


def test_todo_case_is_a_strict_expected_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case_dir = tmp_path / "oom-kill"
    case_dir.mkdir()
    snap = ROOT / "trees" / "snapshots" / "demo"
    body = f"snapshot: {snap}\ntarget: pod/qwen3-32b-decode-5f7d9c8b6-7xk2p\n"
    (case_dir / "gap.yaml").write_text(body + "todo: a known gap\nexpect: {leaf: raise-memory-limit}\n")
    assert main(["test", str(case_dir)]) == 0
    (case_dir / "gap.yaml").write_text(body + "todo: fixed now\nexpect: {leaf: clear-shm}\n")
    assert main(["test", str(case_dir)]) == 1
    assert "marked todo but passes now" in capsys.readouterr().out


def test_shipped_cases_pass_through_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "-q"]) == 0
    assert f"{len(CASES)} passed, 0 failed" in capsys.readouterr().out


def test_broken_case_file_is_reported_not_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case_dir = tmp_path / "oom-kill"
    case_dir.mkdir()
    (case_dir / "bad.yaml").write_text("target: pod/x\nexpect: {leaf: 3}\nbogus: 1\n")
    assert main(["test", str(case_dir)]) == 1
    out = capsys.readouterr().out
    assert "bad.yaml:2:" in out and "case-schema" in out
    assert "bad.yaml:3:1: case-schema" in out or "bogus" in out


def test_cases_work_from_a_copied_tree_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "trees", tmp_path / "trees")
    assert main(["test", "-q", "--trees", str(tmp_path / "trees")]) == 0
