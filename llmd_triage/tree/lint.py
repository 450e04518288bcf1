"""Lint: graph and meaning checks on loaded trees, one function per rule id.

The tree layer knows no probes and no test runner, so callers hand in what lint needs to know
about them (`ProbeCatalog`, the leaves each tree's cases expect).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import networkx as nx

from llmd_triage.errors import Finding, Location
from llmd_triage.tree.conditions import Condition
from llmd_triage.tree.graph import to_digraph
from llmd_triage.tree.loader import node_location
from llmd_triage.tree.model import DecisionNode, Leaf, ProbeNode, Tree
from llmd_triage.tree.templating import Template


class ProbeCatalog(Protocol):
    def names(self) -> list[str]: ...

    def check_params(self, name: str, params: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]: ...

    def policy_problems(self, name: str, params: dict[str, Any]) -> list[str]: ...


@dataclass
class LintContext:
    probes: ProbeCatalog | None = None
    #: tree id -> the leaf ids its test cases expect; None means "do not check tests"
    case_leaves: Mapping[str, list[str]] | None = None
    #: every tree id in the set being linted, for handovers
    tree_ids: set[str] = field(default_factory=set)


Rule = Callable[[Tree, nx.DiGraph, LintContext], Iterable[Finding]]
RULES: dict[str, Rule] = {}


def rule(rule_id: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        RULES[rule_id] = fn
        return fn

    return register


def lint_tree(tree: Tree, ctx: LintContext | None = None) -> list[Finding]:
    ctx = ctx or LintContext()
    g = to_digraph(tree)
    out: list[Finding] = []
    for fn in RULES.values():
        out.extend(fn(tree, g, ctx))
    return sorted(out, key=lambda f: (f.location.file, f.location.line, f.location.col, f.rule))


def _f(
    tree: Tree, node: str | None, rule_id: str, message: str, *fields: str | int, severity: str = "error"
) -> Finding:
    loc = node_location(tree, node, *fields) if node else Location(tree.source, 1, 1)
    return Finding(loc, rule_id, message, node, severity)


@rule("unreachable")
def _unreachable(tree: Tree, g: nx.DiGraph, ctx: LintContext) -> Iterable[Finding]:
    reach = nx.descendants(g, tree.start) | {tree.start}
    for nid in tree.nodes:
        if nid not in reach:
            yield _f(tree, nid, "unreachable", f"no path from the start node '{tree.start}' reaches this node")


@rule("cycle")
def _cycle(tree: Tree, g: nx.DiGraph, ctx: LintContext) -> Iterable[Finding]:
    seen: set[frozenset[str]] = set()
    for cycle in nx.simple_cycles(g):
        key = frozenset(cycle)
        if key in seen:
            continue
        seen.add(key)
        first = min(cycle, key=list(tree.nodes).index)
        loop = " -> ".join([*cycle[cycle.index(first) :], *cycle[: cycle.index(first)], first])
        yield _f(tree, first, "cycle", f"the walk can loop: {loop}")
        if len(seen) >= 10:
            return


@rule("no-leaf")
def _no_leaf(tree: Tree, g: nx.DiGraph, ctx: LintContext) -> Iterable[Finding]:
    leaves = {n.id for n in tree.leaves}
    for nid in tree.nodes:
        if nid in leaves:
            continue
        if not (nx.descendants(g, nid) & leaves):
            yield _f(tree, nid, "no-leaf", "no path from this node ends in a leaf")


@rule("no-unknown")
def _no_unknown(tree: Tree, g: nx.DiGraph, ctx: LintContext) -> Iterable[Finding]:
    for node in tree.nodes.values():
        if isinstance(node, DecisionNode) and not node.unknown:
            yield _f(
                tree,
                node.id,
                "no-unknown",
                "decision has no `unknown` route for when a probe it needs fails; add `unknown: NODE`",
            )


def _expressions(tree: Tree) -> Iterable[tuple[str | None, tuple[str | int, ...], Condition]]:
    """(node id, field path, compiled expression) for every CEL expression in the tree."""
    if tree.entry:
        yield None, ("entry",), tree.entry
    for node in tree.nodes.values():
        if isinstance(node, DecisionNode):
            for j, b in enumerate(node.branches):
                yield node.id, ("branches", j, "when"), b.condition
        elif isinstance(node, ProbeNode):
            for path, t in node.param_templates.items():
                for e in t.expressions:
                    yield node.id, ("params", *path.replace("[", ".").replace("]", "").split(".")), e
        elif isinstance(node, Leaf):
            texts: list[tuple[tuple[str | int, ...], Template | None]] = [
                (("verdict",), node.verdict),
                (("why",), node.why),
                (("escalation",), node.escalation),
            ]
            for j, s in enumerate(node.steps):
                texts += [(("steps", j, "do"), s.do), (("steps", j, "run"), s.run)]
            for path, t in texts:
                for e in t.expressions if t else []:
                    yield node.id, path, e


@rule("unbound-name")
def _unbound(tree: Tree, g: nx.DiGraph, ctx: LintContext) -> Iterable[Finding]:
    base = {"target", *tree.applies_to}
    binds = {n.id: n.bind for n in tree.nodes.values() if isinstance(n, ProbeNode)}
    for nid, path, expr in _expressions(tree):
        if nid is None:
            allowed = base
            where = "the entry condition runs before any probe, so"
        else:
            ancestors = nx.ancestors(g, nid)
            allowed = base | {binds[a] for a in ancestors if a in binds}
            where = "no probe before this node binds it;"
        for name in sorted(expr.names - allowed):
            fields = tuple(int(p) if isinstance(p, str) and p.isdigit() else p for p in path)
            if nid is None:
                yield Finding(
                    node_location_top(tree, "entry"),
                    "unbound-name",
                    f"'{name}' is not known here: {where} only {', '.join(sorted(allowed))} can be used",
                )
            else:
                known = ", ".join(sorted(allowed))
                yield _f(
                    tree,
                    nid,
                    "unbound-name",
                    f"'{name}' in `{expr.source}` is not known here: {where} known names are {known}",
                    *fields,
                )


def node_location_top(tree: Tree, key: str) -> Location:
    if tree.positions is None:
        return Location(tree.source, 1, 1)
    line, col = tree.positions.of((key,))
    return Location(tree.source, line, col)


@rule("unknown-probe")
def _probes(tree: Tree, g: nx.DiGraph, ctx: LintContext) -> Iterable[Finding]:
    if ctx.probes is None:
        return
    names = set(ctx.probes.names())
    for node in tree.nodes.values():
        if not isinstance(node, ProbeNode):
            continue
        if node.probe not in names:
            import difflib

            close = difflib.get_close_matches(node.probe, sorted(names), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f"; known probes: {', '.join(sorted(names))}"
            yield _f(tree, node.id, "unknown-probe", f"no probe named '{node.probe}'{hint}", "probe")
            continue
        # a templated value's type is only known at walk time: keep the key (so `required` holds) but
        # ignore what the schema says about its value
        templated = {p.split(".")[0].split("[")[0] for p in node.param_templates}
        for path, problem in ctx.probes.check_params(node.probe, node.params):
            if path and path[0] in templated:
                continue
            yield _f(tree, node.id, "probe-params", f"parameters of {node.probe}: {problem}", "params", *path)


@rule("exec-not-allowed")
def _exec_policy(tree: Tree, g: nx.DiGraph, ctx: LintContext) -> Iterable[Finding]:
    """An exec outside the read-only allowlist: refused at walk time too, so say it now, with the reason."""
    if ctx.probes is None or not hasattr(ctx.probes, "policy_problems"):
        return
    names = set(ctx.probes.names())
    for node in tree.nodes.values():
        if not isinstance(node, ProbeNode) or node.probe not in names:
            continue
        params = _with_placeholders(node.params, node.param_templates)
        for problem in ctx.probes.policy_problems(node.probe, params):
            where = ("params", "argv") if "argv" in node.params else ("params",)
            yield _f(tree, node.id, "exec-not-allowed", f"{node.probe} would be refused: {problem}", *where)


def _with_placeholders(params: dict[str, Any], templates: Mapping[str, Any]) -> dict[str, Any]:
    """Templated values become a plain word: their text is only known (and checked again) at walk time."""
    import copy
    import re

    out = copy.deepcopy(params)
    for path in templates:
        keys: list[str | int] = []
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
            keys.append(int(part[1:-1]) if part.startswith("[") else part)
        cur: Any = out
        for k in keys[:-1]:
            cur = cur[k]
        if keys:
            cur[keys[-1]] = "templated-value"
    return out


@rule("no-tests")
def _tests(tree: Tree, g: nx.DiGraph, ctx: LintContext) -> Iterable[Finding]:
    if ctx.case_leaves is None:
        return
    expected = ctx.case_leaves.get(tree.id)
    if not expected:
        yield Finding(
            node_location_top(tree, "id"),
            "no-tests",
            f"tree has no test cases; add them under {Path(tree.source).parent / 'tests' / tree.id}/",
        )
        return
    for leaf in tree.leaves:
        if leaf.id not in expected:
            yield _f(tree, leaf.id, "untested-leaf", "no test case expects this leaf")


@rule("handover")
def _handover(tree: Tree, g: nx.DiGraph, ctx: LintContext) -> Iterable[Finding]:
    if not ctx.tree_ids:
        return
    for leaf in tree.leaves:
        if leaf.handover and leaf.handover not in ctx.tree_ids:
            yield _f(
                tree,
                leaf.id,
                "handover",
                f"hands over to tree '{leaf.handover}', which is not in this set",
                "handover",
                severity="warning",
            )
