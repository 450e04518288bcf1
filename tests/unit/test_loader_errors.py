"""The loader refuses each class of broken tree file with a finding that points at file:line:col.

One test per rule id the loader emits; each uses a small broken tree in tests/fixtures/broken_trees/
that is valid except for its one defect, and asserts the exact rule, node, line, column and message.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from llmd_triage import yamlpos
from llmd_triage.errors import Finding, TreeError
from llmd_triage.tree.loader import MAX_TREE_BYTES, load_tree, load_tree_text

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "broken_trees"


@pytest.fixture(autouse=True)
def _in_fixtures(monkeypatch: pytest.MonkeyPatch) -> None:
    # findings name files relative to the working directory; this makes them just "NAME.yaml"
    monkeypatch.chdir(FIXTURES)


def findings_of(name: str) -> list[Finding]:
    with pytest.raises(TreeError) as info:
        load_tree(FIXTURES / name)
    return info.value.findings


def where(f: Finding) -> tuple[str, str, str | None, int, int]:
    return (f.location.file, f.rule, f.node, f.location.line, f.location.col)


def test_yaml_invalid_syntax() -> None:
    (f,) = findings_of("yaml.yaml")
    # line 23: `    verdict: OOM: the container hit its limit`; col 17 is the second ':'
    assert where(f) == ("yaml.yaml", "yaml", None, 23, 17)
    assert f.message == "invalid YAML: mapping values are not allowed in this context"
    assert str(f) == "yaml.yaml:23:17: yaml: invalid YAML: mapping values are not allowed in this context"


def test_duplicate_key() -> None:
    (f,) = findings_of("duplicate-key.yaml")
    # the second `severity:` key, on line 24 col 5; the first is on line 22
    assert where(f) == ("duplicate-key.yaml", "duplicate-key", None, 24, 5)
    assert f.message == "duplicate key 'severity' (first defined on line 22)"


def test_size_alias_bomb_and_oversized_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 10 levels of 10-fold aliases would be 10^10 values: refused at the 200,001st, quickly
    started = time.monotonic()
    (f,) = findings_of("size.yaml")
    assert time.monotonic() - started < 10
    # the anchored list `&a0 [x, x, ...]` on line 6; col 19 is its 4th `x`, the value that overflows
    assert where(f) == ("size.yaml", "size", None, 6, 19)
    assert f.message == "document expands to more than 200,000 values (an alias bomb?); refused"

    # a file one byte over 1 MiB is refused from its size alone: opening it would fail this test
    big = tmp_path / "big.yaml"
    big.write_bytes(b"id: big\n" + b"#" * (MAX_TREE_BYTES - 8) + b"\n")
    assert big.stat().st_size == MAX_TREE_BYTES + 1

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("the oversized file was opened")

    monkeypatch.setattr(yamlpos, "open", no_open, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TreeError) as info:
        load_tree(big)
    (f,) = info.value.findings
    assert where(f) == ("big.yaml", "size", None, 0, 0)
    assert f.message == "file is 1,048,577 bytes, over the 1,048,576-byte limit for this kind of file"
    assert str(f) == "big.yaml: size: file is 1,048,577 bytes, over the 1,048,576-byte limit for this kind of file"


def test_depth_very_deep_nesting() -> None:
    (f,) = findings_of("depth.yaml")
    # line 4 is `symptom: [[[...x...]]]`, 70 levels; the 65th-level list starts at col 10 + 64
    assert where(f) == ("depth.yaml", "depth", None, 4, 74)
    assert f.message == "values nest more than 64 levels deep; refused"

    # far deeper than the parser allows: still one finding, never a RecursionError
    with pytest.raises(TreeError) as info:
        load_tree_text("id: deep\nsymptom: " + "[" * 50_000 + "]" * 50_000 + "\n", "deep.yaml")
    (f,) = info.value.findings
    # libyaml stops at its own limit (rule `yaml`); the pure-Python parser hits RecursionError (`depth`)
    assert f.rule in {"depth", "yaml"}
    assert "nest" in f.message
    assert f.location.file == "deep.yaml"


def test_schema_missing_field_unknown_property_bad_enum() -> None:
    found = findings_of("schema.yaml")
    assert [where(f) for f in found] == [
        # an unknown property points at its key (`colour:` on line 19); a missing field at the node
        ("schema.yaml", "schema", "check-limits", 19, 5),
        ("schema.yaml", "schema", "fix-limits", 20, 5),
        ("schema.yaml", "schema", "healthy", 27, 14),
    ]
    unknown, missing, enum = (f.message for f in found)
    assert unknown == (
        "Additional properties are not allowed ('colour' was unexpected) in 'nodes.1'; "
        "allowed here: branches, default, id, kind, title, unknown"
    )
    assert missing == "'nodes.2': 'severity' is a required property"
    assert enum == "'nodes.3.outcome': 'fine' is not one of ['fix', 'escalate', 'inconclusive', 'healthy']"


def test_duplicate_id() -> None:
    (f,) = findings_of("duplicate-id.yaml")
    # the second `- id: fix-limits` (line 25, value at col 9); the first is on line 19
    assert where(f) == ("duplicate-id.yaml", "duplicate-id", "fix-limits", 25, 9)
    assert f.message == "node id 'fix-limits' is already used on line 19"


def test_dangling_goto_with_did_you_mean() -> None:
    (f,) = findings_of("dangling.yaml")
    # line 18: `        goto: fix-limit`, value at col 15
    assert where(f) == ("dangling.yaml", "dangling", "check-limits", 18, 15)
    assert str(f) == (
        "dangling.yaml:18:15: dangling: node 'check-limits': branch 2 goes to 'fix-limit', "
        "which does not exist (did you mean 'fix-limits'?)"
    )


def test_cel_condition_and_template_that_do_not_compile() -> None:
    cond, tmpl = findings_of("cel.yaml")
    # line 15: `      - when: term.exit_code +* 2 == 139`; the expression starts at col 15, `*` is col 31
    assert where(cond) == ("cel.yaml", "cel", "check-limits", 15, 31)
    assert cond.message == "condition does not compile: Syntax error: extraneous input '*' expecting more"
    # line 23: `    verdict: Container {{ term.container ) }} hit ...`; the stray `)` is col 42
    assert where(tmpl) == ("cel.yaml", "cel", "fix-limits", 23, 42)
    assert tmpl.message == "{{ }} expression does not compile: Syntax error: extraneous input ')' expecting <EOF>"


# --- CEL errors inside quoted and block scalars point at the offending token, not at the quote or `>-`.

_CEL_TREE = """id: t
title: T
symptom: S
applies_to: [pod]
nodes:
  - id: d
    kind: decision
    branches:
      - when: {when}
        goto: l
    unknown: l
  - id: l
    kind: leaf
    outcome: fix
    severity: high
    verdict: v
    why: w
"""


def test_cel_column_in_quoted_condition() -> None:
    with pytest.raises(TreeError) as info:
        load_tree_text(_CEL_TREE.format(when='"1 +* 2"'), "t.yaml")
    (f,) = info.value.findings
    # line 9: `      - when: "1 +* 2"`; the `*` is col 19
    assert (f.rule, f.location.line, f.location.col) == ("cel", 9, 19)


def test_cel_column_in_folded_condition() -> None:
    with pytest.raises(TreeError) as info:
        load_tree_text(_CEL_TREE.format(when=">-\n          1 +\n          * 2"), "t.yaml")
    (f,) = info.value.findings
    # the `*` starts line 11 at col 11
    assert (f.rule, f.location.line, f.location.col) == ("cel", 11, 11)
