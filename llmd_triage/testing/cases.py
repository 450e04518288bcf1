"""Load and run tree test cases (trees/tests/<tree-id>/*.yaml).

In the shape of `promtool test rules` and semgrep's rule tests: inputs, then expectations, and a
failure message that shows expected vs taken path with the values that decided each branch.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from llmd_triage.cluster.base import FAILURE_KINDS, parse_target
from llmd_triage.cluster.snapshot import SnapshotCluster, SnapshotData, load_snapshot
from llmd_triage.engine.record import Walk
from llmd_triage.engine.walk import Recorded, walk
from llmd_triage.errors import Finding, Location, SnapshotError, TreeError
from llmd_triage.probes.base import ProbeFailure, ProbeResult
from llmd_triage.resources import schema
from llmd_triage.tree.loader import display_path
from llmd_triage.tree.model import Tree
from llmd_triage.yamlpos import YamlProblem, load_with_positions, read_text_limited


@dataclass
class Case:
    file: str
    name: str
    tree: str
    data: dict[str, Any]


@dataclass
class CaseResult:
    case: Case
    passed: bool
    walk: Walk | None = None
    problems: list[str] = field(default_factory=list)
    xfail: bool = False

    def report(self) -> str:
        head = f"{self.case.file}: {self.case.name}"
        if self.passed:
            return f"PASS {head}" + (" (todo: failed as expected)" if self.xfail else "")
        return "FAIL " + head + "\n" + "\n".join(f"  {p}" for p in self.problems)


def load_case(path: str | os.PathLike[str]) -> Case:
    file = display_path(path)
    try:
        data, pos = load_with_positions(read_text_limited(path))
    except YamlProblem as exc:
        raise TreeError([Finding(Location(file, exc.line, exc.col), exc.rule, exc.message)]) from None
    if not isinstance(data, dict):
        raise TreeError([Finding(Location(file, 1, 1), "case-schema", "a case file must be a mapping")])
    errors = []
    for err in jsonschema.Draft202012Validator(schema("treetest")).iter_errors(data):
        line, col = pos.of(tuple(err.absolute_path))
        where = ".".join(str(p) for p in err.absolute_path) or "case"
        errors.append(Finding(Location(file, line, col), "case-schema", f"{where}: {err.message}"))
    if errors:
        raise TreeError(errors)
    tree_id = data.get("tree") or Path(path).resolve().parent.name
    return Case(file, data.get("name") or Path(path).stem, tree_id, data)


def discover_cases(paths: list[str | os.PathLike[str]]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            tests = p / "tests" if (p / "tests").is_dir() else p
            out.extend(sorted(x for x in tests.rglob("*.y*ml") if x.suffix in (".yaml", ".yml")))
        else:
            out.append(p)
    return out


def case_leaves(paths: list[Path]) -> dict[str, list[str]]:
    """tree id -> leaves its cases expect; for lint's coverage rules. Broken cases are skipped here."""
    out: dict[str, list[str]] = {}
    for p in paths:
        try:
            c = load_case(p)
        except TreeError:
            continue
        out.setdefault(c.tree, [])
        if c.data["expect"].get("leaf"):
            out[c.tree].append(c.data["expect"]["leaf"])
    return out


_SNAPSHOTS: dict[Path, SnapshotData] = {}


def _snapshot(path: Path) -> SnapshotData:
    """Each snapshot is read once per run; a case gets its own containers (inline data is added to them),
    sharing the objects themselves, which walks only read."""
    path = path.resolve()
    if path not in _SNAPSHOTS:
        _SNAPSHOTS[path] = load_snapshot(path)
    base = _SNAPSHOTS[path]
    return dataclasses.replace(
        base,
        manifest=dict(base.manifest),
        objects=dict(base.objects),
        logs=dict(base.logs),
        execs=list(base.execs),
        errors=list(base.errors),
        proxy=dict(base.proxy),
        prometheus=list(base.prometheus),
    )


def build_cluster(case: Case) -> SnapshotCluster:
    base = Path(case.file).resolve().parent
    d = case.data
    data = _snapshot(base / d["snapshot"]) if d.get("snapshot") else SnapshotData(name=f"case:{case.name}")
    inline = d.get("inline") or {}
    if inline.get("namespace"):
        data.namespace = inline["namespace"]
    data.add_inline(inline, case.file)
    return SnapshotCluster(data)


def _recorded(case: Case) -> dict[str, Recorded]:
    out: dict[str, Recorded] = {}
    for node_id, rec in (case.data.get("results") or {}).items():
        if "error" in rec:
            err = rec["error"]
            kind = err["kind"] if err["kind"] in FAILURE_KINDS else "error"
            out[node_id] = ProbeFailure(kind, err.get("message", "recorded failure"))
        else:
            out[node_id] = ProbeResult(rec.get("data"), rec.get("summary", "recorded result"))
    return out


async def run_case(case: Case, trees: dict[str, Tree]) -> CaseResult:
    tree = trees.get(case.tree)
    if tree is None:
        return CaseResult(case, False, problems=[f"no tree with id '{case.tree}'"])
    try:
        cluster = build_cluster(case)
        target = parse_target(case.data["target"], case.data.get("namespace"))
    except (SnapshotError, ValueError) as exc:
        return CaseResult(case, False, problems=[str(exc)])
    w = await walk(
        tree,
        target,
        cluster,
        recorded=_recorded(case),
        choices=case.data.get("choices"),
        probe_timeout=5.0,
        deadline=30.0,
    )
    problems = check_expectations(case.data["expect"], w)
    if case.data.get("todo"):
        if problems:
            return CaseResult(case, True, w, xfail=True)
        return CaseResult(case, False, w, ["marked todo but passes now: remove the `todo`"])
    return CaseResult(case, not problems, w, problems)


def check_expectations(expect: dict[str, Any], w: Walk) -> list[str]:
    problems: list[str] = []
    taken = w.path
    leaf = w.leaf.id if w.leaf else None
    if "leaf" in expect and expect["leaf"] != leaf:
        problems.append(f"expected leaf '{expect['leaf']}', walk ended at '{leaf or 'no leaf: ' + str(w.reason)}'")
    if "path" in expect and expect["path"] != taken:
        problems.append(f"expected path: {' -> '.join(expect['path'])}")
        problems.append(f"taken path:    {' -> '.join(taken)}")
    if expect.get("outcome") and (not w.leaf or w.leaf.outcome != expect["outcome"]):
        problems.append(f"expected outcome {expect['outcome']}, got {w.leaf.outcome if w.leaf else 'none'}")
    if expect.get("no_fix") and w.leaf and w.leaf.is_finding:
        problems.append(f"expected no fix, but the walk reported '{w.leaf.id}' ({w.leaf.outcome})")
    if "status" in expect and expect["status"] != w.status:
        problems.append(f"expected status {expect['status']}, got {w.status}")
    unknown = {s.node for s in w.unknown_steps}
    for nid in expect.get("unknown") or []:
        if nid not in unknown:
            problems.append(f"expected '{nid}' to be unknown; unknown were: {', '.join(sorted(unknown)) or 'none'}")
    if expect.get("contains"):
        text = ""
        if w.leaf:
            text = "\n".join([w.leaf.verdict, w.leaf.why, *(s.do + "\n" + (s.run or "") for s in w.leaf.steps)])
        for needle in expect["contains"]:
            if needle not in text:
                problems.append(f"expected the fix to contain {needle!r}")
    if problems:
        problems.append("how the walk decided:")
        for s in w.steps:
            if s.kind == "decision":
                vals = ", ".join(f"{k}={v!r}" for k, v in s.values.items())
                problems.append(
                    f"  {s.node}: {s.branch} -> {s.next}"
                    + (f"  [{vals}]" if vals else "")
                    + (f"  ({s.error['message']})" if s.error else "")
                )
            elif s.status == "unknown":
                problems.append(f"  {s.node}: unknown ({s.error['message'] if s.error else ''})")
    return problems
