"""The two costs conditions.py pays for tree authors keep behaviour: `matches` with a cached pattern,
and a context converted to CEL once (Bindings) for many conditions."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import cel
import pytest

from llmd_triage.tree.conditions import MATCHES_FN, Bindings, Condition, ConditionUnknown, _rewrite_matches
from llmd_triage.tree.loader import load_tree

ROOT = Path(__file__).resolve().parents[2]

#: strings that exercise anchors, case, separators, digits and a final newline
SAMPLES = [
    "",
    "reboot",
    "Node Reboot",
    "RESET",
    "Drain P2P",
    "drain p2p now",
    "--tensor-parallel-size=4",
    "--tensor-parallel-size 1",
    "vllm serve m --tensor-parallel-size 8 --pp 2",
    "-tp 2",
    "-tp 2\n",
    "rdma/ib",
    "rdma/hca_shared_devices_a",
    "nvidia.com/gpu",
    "nvidia.com/mlnxnics",
    "openshift.io/sriov_rdma",
    "mlx5_0:1",
    "eth0",
    "mlx5_0,mlx5_3",
    "^mlx5_0",
    '{"ipam": {}}',
    '"ipam" : { }',
    "to 0x00000002 (Reset Required)",
    "failed startup probe",
    "Container vllm failed liveness probe, will be restarted",
    "nfs4",
    "fuse.gcsfuse",
    " in 3h",
    " in 12m",
    "Ünïcode Reboot",
]


def _literal_patterns() -> list[str]:
    """Every literal pattern given to `matches` in the bundled trees: entries, branches and texts."""
    rx = re.compile(r"""\.matches\(\s*("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')\s*\)""")
    out: set[str] = set()
    for f in sorted((ROOT / "trees").glob("*.yaml")):
        for cond in _conditions(load_tree(f)):
            for m in rx.finditer(cond.source):
                out.add(cel.compile(m.group(1)).execute({}))
    return sorted(out)


def _conditions(value: object, seen: set[int] | None = None) -> list[Condition]:
    """Every Condition inside a loaded tree (dataclasses, tuples, lists, dicts)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return []
    seen.add(id(value))
    if isinstance(value, Condition):
        return [value]
    if isinstance(value, dict):
        items: list[object] = list(value.values())
    elif isinstance(value, list | tuple):
        items = list(value)
    elif dataclasses.is_dataclass(value):
        items = [getattr(value, f.name) for f in dataclasses.fields(value)]
    else:
        return []
    return [c for item in items for c in _conditions(item, seen)]


def test_the_bundled_trees_use_literal_patterns() -> None:
    assert len(_literal_patterns()) >= 8


@pytest.mark.parametrize("pattern", _literal_patterns())
def test_rewritten_matches_agrees_with_cel_on_every_tree_pattern(pattern: str) -> None:
    builtin = cel.compile("s.matches(p)")  # a variable pattern: never rewritten, CEL's own RE2
    cached = Condition.compile(f"s.matches({_cel_string(pattern)})")
    assert MATCHES_FN in _rewrite_matches(f"s.matches({_cel_string(pattern)})"), pattern
    for s in SAMPLES:
        assert cached.evaluate({"s": s}) == builtin.execute({"s": s, "p": pattern}), (pattern, s)


def _cel_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_source_names_and_paths_keep_what_the_author_wrote() -> None:
    c = Condition.compile('pod.spec.containers.exists(x, x.name.matches("^vllm$"))')
    assert c.source == 'pod.spec.containers.exists(x, x.name.matches("^vllm$"))'
    assert c.names == frozenset({"pod"})
    assert c.paths == ("pod.spec.containers",)


def test_only_literal_patterns_outside_strings_are_rewritten() -> None:
    src = 'a.matches("x") && b.matches(p) && "c.matches(\\"y\\")" == d && e.matches("[[:alpha:]]")'
    out = _rewrite_matches(src)
    assert out.count(MATCHES_FN) == 1  # not the variable pattern, the string's text, or a POSIX class
    assert "b.matches(p)" in out and '"c.matches(\\"y\\")"' in out and 'e.matches("[[:alpha:]]")' in out


def test_end_anchor_is_the_end_of_the_text_as_in_re2() -> None:
    c = Condition.compile('s.matches("-tp 2$")')
    assert c.evaluate({"s": "-tp 2"}) is True
    assert c.evaluate({"s": "-tp 2\n"}) is False  # Python's bare `$` would say true


@pytest.mark.parametrize("expr", ['s.matches("(")', 's.matches("a")'])
def test_a_bad_pattern_or_a_null_string_is_unknown(expr: str) -> None:
    with pytest.raises(ConditionUnknown):
        Condition.compile(expr).evaluate({"s": None if "a" in expr else "x"})


def test_bindings_give_the_same_answers_and_failures_as_a_dict() -> None:
    ctx = {"pod": {"metadata": {"name": "p", "labels": {"app": "vllm"}}}, "target": {"kind": "pod"}}
    env = Bindings(ctx)
    for expr in (
        'pod.metadata.labels.app.matches("^vl")',
        "target.kind == 'pod'",
        "has(pod.status)",
    ):
        c = Condition.compile(expr)
        assert c.evaluate(env) == c.evaluate(ctx)
        assert c.deciding_values(env) == c.deciding_values(ctx)
    missing = Condition.compile("log.lines > 0")
    for context in (ctx, env):
        with pytest.raises(ConditionUnknown) as e:
            missing.evaluate(context)
        assert e.value.missing == "log"


def test_entry_of_every_tree_agrees_with_and_without_bindings(root: Path) -> None:
    """The scan tests entries on Bindings; the tree tests and walks saw dicts: same verdicts on the demo."""
    from llmd_triage.cluster.base import TargetRef
    from llmd_triage.cluster.snapshot import load_snapshot
    from llmd_triage.engine.walk import build_context

    data = load_snapshot(root / "trees" / "snapshots" / "demo")
    trees = [load_tree(f) for f in sorted((root / "trees").glob("*.yaml"))]
    checked = 0
    for (kind, ns, name), obj in data.objects.items():
        if kind not in ("pod", "node"):
            continue
        ctx = build_context(TargetRef(kind, name, ns or None), obj)
        env = Bindings(ctx)
        for t in trees:
            if t.entry is None or kind not in t.applies_to:
                continue
            try:
                plain = t.entry.test(ctx)
            except ConditionUnknown:
                plain = "unknown"
            try:
                bound = t.entry.test(env)
            except ConditionUnknown:
                bound = "unknown"
            assert plain == bound, (t.id, name)
            checked += 1
    assert checked > 40
