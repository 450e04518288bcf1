"""Hostile input: generated trees, templates and snapshots get a clear error or a result, never a traceback.

Each property runs FUZZ_EXAMPLES examples (default 200) with Hypothesis; the counts are in the issue note.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmd_triage.cluster.snapshot import load_snapshot
from llmd_triage.errors import SnapshotError, TreeError
from llmd_triage.tree.conditions import ConditionSyntaxError, ConditionUnknown
from llmd_triage.tree.loader import load_tree_text
from llmd_triage.tree.templating import Template

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID = """\
id: t
title: T
symptom: s
applies_to: [pod]
nodes:
  - {id: d, kind: decision, branches: [{when: "pod.status.phase == 'Running'", goto: l}], unknown: l}
  - {id: l, kind: leaf, outcome: healthy, severity: info, verdict: "{{ pod.metadata.name }}", why: w}
"""

TRICKY = st.sampled_from(
    [
        "\u202e",  # right-to-left override
        "\u200b",  # zero width space
        "\ufeff",  # byte order mark
        "\x00",
        "\ud7ff",
        "ｉｄ",  # fullwidth letters
        "&a [*a, *a]",
        "!!python/object/apply:os.system ['id']",
        "{{",
        "}}",
        "\t",
        "- - - -",
        ": :",
        "'",
        '"',
        "\\",
        "%YAML 1.1",
        "---",
        "...",
        "*",
        "<<: *x",
    ]
)


def _expect_clean(fn: Any, *errors: type[BaseException]) -> None:
    try:
        fn()
    except errors as exc:
        assert str(exc), f"{type(exc).__name__} without a message"


@FUZZ
@given(st.text(max_size=400))
def test_any_text_as_a_tree(text: str) -> None:
    _expect_clean(lambda: load_tree_text(text, "fuzz.yaml"), TreeError)


@FUZZ
@given(st.lists(st.one_of(st.text(max_size=20), TRICKY), max_size=30), st.integers(0, len(VALID)))
def test_a_valid_tree_with_junk_spliced_in(junk: list[str], at: int) -> None:
    text = VALID[:at] + "".join(junk) + VALID[at:]
    _expect_clean(lambda: load_tree_text(text, "fuzz.yaml"), TreeError)


yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30), TRICKY),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=40,
)


@FUZZ
@given(st.dictionaries(st.sampled_from(["id", "title", "symptom", "applies_to", "nodes", "entry", "x"]), yaml_values))
def test_structured_junk_in_the_right_places(doc: dict[str, Any]) -> None:
    _expect_clean(lambda: load_tree_text(yaml.safe_dump(doc), "fuzz.yaml"), TreeError)


def test_deep_nesting_and_alias_bombs_are_refused_quickly() -> None:
    deep = "a: " + "[" * 5000 + "]" * 5000
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    huge = "id: " + "x" * (2 * 1024 * 1024)
    for text in (deep, bomb, huge):
        with pytest.raises(TreeError) as exc:
            load_tree_text(text, "hostile.yaml")
        assert "hostile.yaml" in str(exc.value)


@FUZZ
@given(st.text(max_size=200))
def test_any_template_compiles_or_says_why(source: str) -> None:
    try:
        t = Template.compile(source)
    except (ConditionSyntaxError, TreeError) as exc:
        assert str(exc)
        return
    try:
        out = t.render({"pod": {"metadata": {"name": "p"}}, "target": {"kind": "pod"}})
    except ConditionUnknown:
        return
    assert isinstance(out, str)


@FUZZ
@given(st.text(max_size=80))
def test_template_text_is_data_not_code(value: str) -> None:
    """A value from the cluster rendered into a template is text: `{{` inside it is never evaluated again."""
    t = Template.compile("name: {{ pod.metadata.name }}")
    assert t.render({"pod": {"metadata": {"name": value}}}) == f"name: {value}"


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["snapshot.yaml", "objects/a.yaml", "objects/b.json", "errors.yaml", "prometheus.yaml"]),
        st.one_of(st.text(max_size=200), yaml_values.map(lambda v: yaml.safe_dump(v))),
        min_size=1,
    )
)
def test_any_snapshot_folder_loads_or_says_why(files: dict[str, str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for name, text in files.items():
            p = root / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8", errors="surrogatepass") if "\ud800" not in text else None
        _expect_clean(lambda: load_snapshot(root), SnapshotError)


def _tarball(tmp_path: Path, members: list[tuple[str, bytes | None, str | None]]) -> Path:
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            else:
                info.size = len(data or b"")
                tar.addfile(info, io.BytesIO(data or b""))
    return path


@pytest.mark.parametrize(
    "members",
    [
        [("../../etc/passwd", b"root:x:0:0", None)],
        [("snap/../../outside", b"x", None)],
        [("/etc/cron.d/evil", b"x", None)],
        [("snap/objects/link.yaml", None, "/etc/passwd")],
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink"],
)
def test_a_snapshot_archive_cannot_write_outside_itself(tmp_path: Path, members: list[Any]) -> None:
    archive = _tarball(
        tmp_path, [("snap/snapshot.yaml", b"format: llmd-triage/snapshot/v1\nname: x\n", None), *members]
    )
    with pytest.raises(SnapshotError) as exc:
        load_snapshot(archive)
    assert "refusing archive entry" in str(exc.value)
    assert not (tmp_path.parent / "outside").exists()
