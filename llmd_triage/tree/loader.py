"""YAML -> Tree. Collects every problem it can find in one pass and reports each as
`file:line:col: rule: node 'id': message`, so an author fixes a file in one go.

The loader guarantees a walkable model: schema-valid, unique node ids, no dangling targets,
every CEL expression compiled. Graph-level rules (reachability, cycles, coverage...) are lint's.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema

from llmd_triage.errors import Finding, Location, TreeError
from llmd_triage.resources import schema
from llmd_triage.tree.conditions import Condition, ConditionSyntaxError
from llmd_triage.tree.model import (
    Action,
    Branch,
    DecisionNode,
    Leaf,
    Node,
    ProbeNode,
    Reference,
    Step,
    Tree,
)
from llmd_triage.tree.templating import Template
from llmd_triage.yamlpos import Positions, YamlProblem, load_with_positions, read_text_limited

MAX_TREE_BYTES = 1024 * 1024


class _Ctx:
    """Per-file state: where things are, and the findings so far."""

    def __init__(self, file: str, pos: Positions, data: dict[str, Any]) -> None:
        self.file = file
        self.pos = pos
        self.data = data
        self.findings: list[Finding] = []

    def loc(self, path: Iterable[str | int], *, key: bool = False) -> Location:
        line, col = self.pos.of(tuple(path), key=key)
        return Location(self.file, line, col)

    def node_id_at(self, path: tuple[str | int, ...]) -> str | None:
        if len(path) >= 2 and path[0] == "nodes" and isinstance(path[1], int):
            nodes = self.data.get("nodes")
            if isinstance(nodes, list) and path[1] < len(nodes) and isinstance(nodes[path[1]], dict):
                nid = nodes[path[1]].get("id")
                return nid if isinstance(nid, str) else None
        return None

    def add(self, path: Iterable[str | int], rule: str, message: str, *, key: bool = False) -> None:
        p = tuple(path)
        self.findings.append(Finding(self.loc(p, key=key), rule, message, self.node_id_at(p)))


def display_path(path: str | os.PathLike[str]) -> str:
    """Paths relative to the working directory read best in messages."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def load_tree(path: str | os.PathLike[str]) -> Tree:
    """Load and validate one tree file; raises TreeError listing every problem found."""
    file = display_path(path)
    try:
        text = read_text_limited(path, MAX_TREE_BYTES)
    except OSError as exc:
        raise TreeError([Finding(Location(file), "io", exc.strerror or str(exc))]) from None
    except YamlProblem as exc:
        raise TreeError([Finding(Location(file, exc.line, exc.col), exc.rule, exc.message)]) from None
    return load_tree_text(text, file)


def load_tree_text(text: str, file: str = "<string>") -> Tree:
    try:
        data, pos = load_with_positions(text)
    except YamlProblem as exc:
        raise TreeError([Finding(Location(file, exc.line, exc.col), exc.rule, exc.message)]) from None
    if not isinstance(data, dict):
        raise TreeError([Finding(Location(file, 1, 1), "schema", "a tree file must be a mapping with id, nodes...")])
    ctx = _Ctx(file, pos, data)
    _check_schema(ctx)
    if ctx.findings:
        raise TreeError(ctx.findings)
    tree = _build(ctx)
    if ctx.findings:
        raise TreeError(ctx.findings)
    return tree


def _check_schema(ctx: _Ctx) -> None:
    validator = jsonschema.Draft202012Validator(schema("tree"))
    seen: set[tuple[tuple[str | int, ...], str]] = set()
    errors = sorted(validator.iter_errors(ctx.data), key=lambda e: ctx.pos.of(tuple(e.absolute_path)))
    for err in errors:
        path = tuple(err.absolute_path)
        message = _schema_message(err)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        extra = _unexpected_keys(err)
        if extra:
            line, col = ctx.pos.of((*path, extra[0]), key=True)
            ctx.findings.append(Finding(Location(ctx.file, line, col), "schema", message, ctx.node_id_at(path)))
        else:
            ctx.add(path, "schema", message)


def _unexpected_keys(err: jsonschema.ValidationError) -> list[str]:
    if err.validator != "additionalProperties" or not isinstance(err.instance, dict):
        return []
    known = err.schema.get("properties", {})
    return [k for k in err.instance if k not in known]


def _schema_message(err: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in err.absolute_path)
    field = f"'{where}'" if where else "the tree"
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        return f"{err.message} in {field}; allowed here: {', '.join(allowed)}"
    if err.validator == "required":
        return f"{field}: {err.message}"
    if err.validator in ("enum", "const"):
        return f"{field}: {err.message}"
    if err.validator == "pattern":
        return f"{field}: {err.instance!r} does not match the required form {err.validator_value}"
    return f"{field}: {err.message}"


def _compile_condition(ctx: _Ctx, path: tuple[str | int, ...], source: str) -> Condition | None:
    try:
        return Condition.compile(source)
    except ConditionSyntaxError as exc:
        line, col = ctx.pos.locate(path, source, exc.offset)
        ctx.findings.append(
            Finding(
                Location(ctx.file, line, col),
                "cel",
                f"condition does not compile: {exc}",
                ctx.node_id_at(path),
            )
        )
        return None


def _compile_template(ctx: _Ctx, path: tuple[str | int, ...], source: str | None) -> Template | None:
    if source is None:
        return None
    try:
        return Template.compile(source)
    except ConditionSyntaxError as exc:
        line, col = ctx.pos.locate(path, source, exc.offset)
        ctx.findings.append(
            Finding(
                Location(ctx.file, line, col),
                "cel",
                f"{{{{ }}}} expression does not compile: {exc}",
                ctx.node_id_at(path),
            )
        )
        return Template.literal(source)


def _param_templates(ctx: _Ctx, path: tuple[str | int, ...], value: Any, prefix: str = "") -> dict[str, Template]:
    out: dict[str, Template] = {}
    if isinstance(value, str) and "{{" in value:
        t = _compile_template(ctx, path, value)
        if t is not None:
            out[prefix] = t
    elif isinstance(value, dict):
        for k, v in value.items():
            out.update(_param_templates(ctx, (*path, k), v, f"{prefix}.{k}" if prefix else k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.update(_param_templates(ctx, (*path, i), v, f"{prefix}[{i}]"))
    return out


def _refs(items: list[dict[str, Any]] | None) -> tuple[Reference, ...]:
    return tuple(Reference(r["title"], r.get("url")) for r in items or [])


def _build(ctx: _Ctx) -> Tree:
    d = ctx.data
    raw_nodes: list[dict[str, Any]] = d["nodes"]
    ids: dict[str, int] = {}
    for i, n in enumerate(raw_nodes):
        nid = n["id"]
        if nid in ids:
            first = ctx.loc(("nodes", ids[nid], "id"))
            ctx.add(("nodes", i, "id"), "duplicate-id", f"node id '{nid}' is already used on line {first.line}")
        else:
            ids[nid] = i

    def check_target(path: tuple[str | int, ...], target: str | None, what: str) -> None:
        if target is None or target in ids:
            return
        close = difflib.get_close_matches(target, list(ids), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        ctx.add(path, "dangling", f"{what} goes to '{target}', which does not exist{hint}")

    nodes: dict[str, Node] = {}
    for i, n in enumerate(raw_nodes):
        base = ("nodes", i)
        loc = ctx.loc(base)
        nid, kind, title = n["id"], n["kind"], n.get("title")
        node: Node
        if kind == "probe":
            check_target((*base, "next"), n["next"], "next")
            params = n.get("params") or {}
            node = ProbeNode(
                nid,
                loc,
                title,
                probe=n["probe"],
                params=params,
                bind=n["bind"],
                next=n["next"],
                timeout=n.get("timeout"),
                param_templates=_param_templates(ctx, (*base, "params"), params),
            )
        elif kind == "decision":
            branches: list[Branch] = []
            for j, b in enumerate(n["branches"]):
                bpath = (*base, "branches", j)
                check_target((*bpath, "goto"), b["goto"], f"branch {j + 1}")
                cond = _compile_condition(ctx, (*bpath, "when"), b["when"])
                if cond is not None:
                    branches.append(Branch(cond, b["goto"], b.get("label"), ctx.loc(bpath)))
            check_target((*base, "default"), n.get("default"), "default")
            check_target((*base, "unknown"), n.get("unknown"), "the unknown route")
            node = DecisionNode(
                nid, loc, title, branches=tuple(branches), default=n.get("default"), unknown=n.get("unknown")
            )
        else:
            steps = []
            for j, s in enumerate(n.get("steps") or []):
                spath = (*base, "steps", j)
                do = _compile_template(ctx, (*spath, "do"), s["do"])
                run = _compile_template(ctx, (*spath, "run"), s.get("run"))
                steps.append(Step(do or Template.literal(""), run))
            actions = []
            for j, a in enumerate(n.get("actions") or []):
                apath = (*base, "actions", j)
                actions.append(
                    Action(
                        a["kind"],
                        _compile_template(ctx, (*apath, "target"), a["target"]) or Template.literal(""),
                        _compile_template(ctx, (*apath, "namespace"), a.get("namespace")),
                        _compile_template(ctx, (*apath, "title"), a.get("title")),
                    )
                )
            node = Leaf(
                nid,
                loc,
                title,
                outcome=n["outcome"],
                severity=n["severity"],
                verdict=_compile_template(ctx, (*base, "verdict"), n["verdict"]) or Template.literal(""),
                why=_compile_template(ctx, (*base, "why"), n["why"]) or Template.literal(""),
                steps=tuple(steps),
                escalation=_compile_template(ctx, (*base, "escalation"), n.get("escalation")),
                handover=n.get("handover"),
                references=_refs(n.get("references")),
                actions=tuple(actions),
            )
        nodes.setdefault(nid, node)

    start = d.get("start") or raw_nodes[0]["id"]
    check_target(("start",), start, "start")
    entry = _compile_condition(ctx, ("entry",), d["entry"]) if d.get("entry") else None
    return Tree(
        id=d["id"],
        title=d["title"],
        symptom=d["symptom"],
        applies_to=tuple(d["applies_to"]),
        nodes=nodes,
        start=start,
        source=ctx.file,
        entry=entry,
        references=_refs(d.get("references")),
        positions=ctx.pos,
    )


def node_location(tree: Tree, node_id: str, *fields: str | int) -> Location:
    """Where a node (or one of its fields) is in its file, for lint messages."""
    node = tree.nodes[node_id]
    if not fields or tree.positions is None:
        return node.location
    index = list(tree.nodes).index(node_id)
    line, col = tree.positions.of(("nodes", index, *fields))
    return Location(tree.source, line, col)


def discover_tree_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Tree files under the given paths: *.yaml directly in a folder (not its tests/ or snapshots/)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(x for x in p.glob("*.y*ml") if x.suffix in (".yaml", ".yml")))
        else:
            out.append(p)
    return out
