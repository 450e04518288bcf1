"""Lint catches each graph / meaning defect class, and `llmd-triage lint` reports them like a compiler.

One test per rule id; each loads a small tree from tests/fixtures/broken_trees/ that is valid except
for its one defect and asserts the exact rule, node, line, column and message of every finding.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llmd_triage.cli.main import main
from llmd_triage.errors import Finding
from llmd_triage.probes.registry import default_registry
from llmd_triage.testing.cases import case_leaves, discover_cases
from llmd_triage.tree.lint import LintContext, lint_tree
from llmd_triage.tree.loader import load_tree

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "broken_trees"
REPO = Path(__file__).resolve().parents[2]
BROKEN = sorted(p.name for p in FIXTURES.glob("*.yaml"))


@pytest.fixture(autouse=True)
def _in_fixtures(monkeypatch: pytest.MonkeyPatch) -> None:
    # findings name files relative to the working directory; this makes them just "NAME.yaml"
    monkeypatch.chdir(FIXTURES)


def lint(name: str, **ctx: object) -> list[Finding]:
    tree = load_tree(FIXTURES / name)
    return lint_tree(tree, LintContext(probes=default_registry(), **ctx))  # type: ignore[arg-type]


def where(f: Finding) -> tuple[str, str, str | None, int, int]:
    return (f.location.file, f.rule, f.node, f.location.line, f.location.col)


def test_unreachable() -> None:
    (f,) = lint("unreachable.yaml")
    assert where(f) == ("unreachable.yaml", "unreachable", "orphan", 25, 5)
    assert f.message == "no path from the start node 'read-termination' reaches this node"


def test_cycle() -> None:
    (f,) = lint("cycle.yaml")
    # reported on the node of the loop that comes first in the file
    assert where(f) == ("cycle.yaml", "cycle", "read-termination", 7, 5)
    assert f.message == "the walk can loop: read-termination -> check-limits -> read-termination"


def test_no_leaf() -> None:
    found = lint("no-leaf.yaml")
    # a node with no way to any leaf must sit in a loop, so the cycle is reported as well
    assert [where(f) for f in found] == [
        ("no-leaf.yaml", "cycle", "read-events", 19, 5),
        ("no-leaf.yaml", "no-leaf", "read-events", 19, 5),
        ("no-leaf.yaml", "no-leaf", "check-events", 24, 5),
    ]
    assert [f.message for f in found if f.rule == "no-leaf"] == ["no path from this node ends in a leaf"] * 2


def test_no_unknown() -> None:
    (f,) = lint("no-unknown.yaml")
    assert where(f) == ("no-unknown.yaml", "no-unknown", "check-limits", 12, 5)
    assert "has no `unknown` route" in f.message
    assert f.message.endswith("add `unknown: NODE`")


def test_unbound_name_in_entry_condition_and_leaf_template() -> None:
    entry, cond, tmpl = lint("unbound-name.yaml")
    # line 6: `entry: term.reason == "OOMKilled"` runs before any probe binds `term`
    assert where(entry) == ("unbound-name.yaml", "unbound-name", None, 6, 8)
    assert entry.message == (
        "'term' is not known here: the entry condition runs before any probe, so only pod, target can be used"
    )
    # line 16: `      - when: log.cuda_oom != null`; no probe binds `log`
    assert where(cond) == ("unbound-name.yaml", "unbound-name", "check-limits", 16, 15)
    assert cond.message == (
        "'log' in `log.cuda_oom != null` is not known here: no probe before this node binds it; "
        "known names are pod, target, term"
    )
    # line 25: `    why: The log shows {{ logs.lines }} lines.`; `term` in the verdict is fine
    assert where(tmpl) == ("unbound-name.yaml", "unbound-name", "fix-limits", 25, 10)
    assert tmpl.message.startswith("'logs' in `logs.lines` is not known here")


def test_unknown_probe_with_did_you_mean() -> None:
    (f,) = lint("unknown-probe.yaml")
    # line 9: `    probe: k8s.log`
    assert where(f) == ("unknown-probe.yaml", "unknown-probe", "read-log", 9, 12)
    assert f.message == "no probe named 'k8s.log' (did you mean 'k8s.logs'?)"
    # without a probe catalogue the rule cannot run
    assert lint_tree(load_tree(FIXTURES / "unknown-probe.yaml")) == []


def test_probe_params() -> None:
    (f,) = lint("probe-params.yaml")
    # points at the offending value: `      previous: "yes"` is line 12, the value at col 17
    assert where(f) == ("probe-params.yaml", "probe-params", "read-log", 12, 17)
    assert f.message == "parameters of k8s.logs: previous: 'yes' is not of type 'boolean'"


def _tree_in(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    shutil.copy(FIXTURES / name, path)
    return path


def test_no_tests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tree = load_tree(_tree_in(tmp_path, "no-tests.yaml"))
    leaves = case_leaves(discover_cases([tmp_path / "tests"])) if (tmp_path / "tests").is_dir() else {}
    (f,) = lint_tree(tree, LintContext(default_registry(), leaves))
    # line 2: `id: broken-no-tests`
    assert where(f) == ("no-tests.yaml", "no-tests", None, 2, 5)
    # the folder the CLI looks in: next to the tree file
    assert f.message == "tree has no test cases; add them under tests/broken-no-tests/"
    # the same through the CLI, which finds (no) cases next to the tree
    assert main(["lint", "no-tests.yaml"]) == 1


def test_untested_leaf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    path = _tree_in(tmp_path, "untested-leaf.yaml")
    cases = tmp_path / "tests" / "broken-untested-leaf"
    cases.mkdir(parents=True)
    (cases / "case.yaml").write_text(
        "name: OOMKilled container\n"
        "target: pod/vllm-0\n"
        "namespace: llm-d\n"
        "results:\n"
        "  read-termination:\n"
        "    data: {reason: OOMKilled}\n"
        "expect:\n"
        "  leaf: fix-limits\n"
    )
    leaves = case_leaves(discover_cases([tmp_path / "tests"]))
    assert leaves == {"broken-untested-leaf": ["fix-limits"]}
    (f,) = lint_tree(load_tree(path), LintContext(default_registry(), leaves))
    # the `healthy` leaf (line 25) is expected by no case; `fix-limits` is
    assert where(f) == ("untested-leaf.yaml", "untested-leaf", "healthy", 25, 5)
    assert f.message == "no test case expects this leaf"

    # the CLI finds tests/<tree-id>/ next to the tree file by itself
    assert main(["lint", "untested-leaf.yaml"]) == 1
    out = capsys.readouterr().out
    assert out == "untested-leaf.yaml:25:5: untested-leaf: node 'healthy': no test case expects this leaf\n"


# --- the CLI


def test_cli_prints_findings_as_file_line_col_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--no-tests", "dangling.yaml", "no-unknown.yaml"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "dangling.yaml:18:15: dangling: node 'check-limits': branch 2 goes to 'fix-limit', "
        "which does not exist (did you mean 'fix-limits'?)",
        "no-unknown.yaml:12:5: no-unknown: node 'check-limits': decision has no `unknown` route "
        "for when a probe it needs fails; add `unknown: NODE`",
    ]
    assert captured.err == "2 tree file(s), 2 error(s), 0 warning(s)\n"


def test_cli_clean_tree_exits_0(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(REPO)
    assert main(["lint", "--no-tests", "trees/oom-kill.yaml"]) == 0
    captured = capsys.readouterr()
    # warnings (a handover to a tree not yet written) are allowed; errors are not
    assert all(line.endswith("[warning]") for line in captured.out.splitlines())
    assert captured.err.startswith("1 tree file(s), 0 error(s), ")


def test_cli_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--no-tests", "--output", "json", "unreachable.yaml"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "files": ["unreachable.yaml"],
        "findings": [
            {
                "file": "unreachable.yaml",
                "line": 25,
                "col": 5,
                "rule": "unreachable",
                "node": "orphan",
                "severity": "error",
                "message": "no path from the start node 'read-termination' reaches this node",
            }
        ],
    }


def test_cli_missing_path_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "no-such-tree.yaml"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "llmd-triage: no-such-tree.yaml: no such file or folder\n"
    assert captured.out == ""


@pytest.mark.parametrize("name", BROKEN)
def test_cli_never_shows_a_traceback(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", name]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "internal error" not in captured.err
    # every finding is one `file:line[:col]: rule: ...` line naming this file
    lines = captured.out.splitlines()
    assert lines
    assert all(line.startswith(f"{name}:") for line in lines)


def test_every_broken_fixture_is_used() -> None:
    # a fixture per rule id; a new one must come with its test above or in test_loader_errors.py
    rules = [
        "yaml",
        "duplicate-key",
        "size",
        "depth",
        "schema",
        "duplicate-id",
        "dangling",
        "cel",
        "unreachable",
        "cycle",
        "no-leaf",
        "no-unknown",
        "unbound-name",
        "unknown-probe",
        "probe-params",
        "no-tests",
        "untested-leaf",
    ]
    assert sorted(f"{rule}.yaml" for rule in rules) == BROKEN
