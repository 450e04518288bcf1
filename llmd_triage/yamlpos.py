"""Safe YAML loading that remembers where every value came from.

Trees are written by hand, so every error must point at file:line:col. PyYAML's composer keeps
marks on nodes; we build plain Python data from the node graph ourselves, which also lets us refuse
duplicate keys, alias bombs, recursive aliases and absurd nesting with a clear message instead of
exhausting memory or the stack.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

try:  # libyaml is much faster where it is available; both compose the same node graph
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Path_ = tuple[str | int, ...]

MAX_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64


@dataclass
class YamlProblem(Exception):
    """Raised for any YAML that we refuse; line/col are 1-based."""

    message: str
    line: int = 0
    col: int = 0
    rule: str = "yaml"

    def __str__(self) -> str:
        return self.message


@dataclass
class Positions:
    """Maps a path into the loaded data (keys and list indexes) to the 1-based (line, col) of its value."""

    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def of(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """Best position for a path: the exact one, or the nearest enclosing value we know."""
        table = self.keys if key else self.values
        p = tuple(path)
        if p in table:
            return table[p]
        while p:
            p = p[:-1]
            if p in self.values:
                return self.values[p]
        return (1, 1)

    def locate(self, path: Path_, value: str, offset: int) -> tuple[int, int]:
        """File position of character `offset` inside the string value at `path`.

        A value's mark is where its node starts: the opening quote, or the `>-`/`|` indicator of a block
        scalar whose text begins on later lines and may be folded. So we find the token at `offset` in
        the raw lines from that mark on, counting earlier occurrences of the same token in the value.
        """
        line, col = self.of(path)
        if not self.lines or not value:
            return line, col
        after = False
        m = re.match(r"\S+", value[offset:])
        if m:
            token, start = m.group(0), offset
        else:  # the error is at the end or on blank space: point just past the previous token
            prev = re.search(r"(\S+)\s*$", value[:offset])
            if not prev:
                return line, col
            token, start, after = prev.group(1), prev.start(1), True
        nth = value.count(token, 0, start)
        seen = 0
        for i in range(line - 1, min(len(self.lines), line - 1 + value.count("\n") + 200)):
            text = self.lines[i]
            idx = text.find(token, col - 1 if i == line - 1 else 0)
            while idx != -1:
                if seen == nth:
                    return i + 1, idx + 1 + (len(token) if after else 0)
                seen += 1
                idx = text.find(token, idx + len(token))
        return line, col


def read_text_limited(path: str | os.PathLike[str], max_bytes: int = MAX_BYTES) -> str:
    """Read a text file, refusing oversized ones before reading them into memory."""
    size = os.path.getsize(path)
    if size > max_bytes:
        raise YamlProblem(
            f"file is {size:,} bytes, over the {max_bytes:,}-byte limit for this kind of file", rule="size"
        )
    with open(path, "rb") as fh:
        raw = fh.read(max_bytes + 1)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlProblem(f"file is not UTF-8 text (byte {exc.start} is invalid)", rule="encoding") from exc


def load_with_positions(text: str, *, max_nodes: int = MAX_NODES) -> tuple[Any, Positions]:
    """Parse one YAML document into plain data plus the position of every value."""
    if len(text) > MAX_BYTES:
        raise YamlProblem(f"document is {len(text):,} characters, over the {MAX_BYTES:,} limit", rule="size")
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            msg = " ".join(x for x in (exc.context, exc.problem) if x)
            if "maximum nesting depth" in msg:  # libyaml's own guard, before ours at MAX_DEPTH
                raise YamlProblem(
                    "YAML nests too deeply to be a tree file",
                    (mark.line + 1) if mark else 0,
                    (mark.column + 1) if mark else 0,
                    rule="depth",
                ) from None
            raise YamlProblem(
                f"invalid YAML: {msg}",
                (mark.line + 1) if mark else 0,
                (mark.column + 1) if mark else 0,
            ) from None
        except yaml.YAMLError as exc:
            raise YamlProblem(f"invalid YAML: {exc}") from None
        except RecursionError:
            raise YamlProblem("YAML nests too deeply to be a tree file", rule="depth") from None
    finally:
        loader.dispose()
    pos = Positions(lines=text.splitlines())
    if root is None:
        return None, pos
    builder = _Builder(pos, max_nodes)
    return builder.build(root, (), 0), pos


class _Builder:
    def __init__(self, pos: Positions, max_nodes: int) -> None:
        self.pos = pos
        self.max_nodes = max_nodes
        self.count = 0
        self.active: set[int] = set()
        self._scalar = yaml.SafeLoader("")  # only its scalar constructors are used

    def build(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.count += 1
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        if self.count > self.max_nodes:
            raise YamlProblem(
                f"document expands to more than {self.max_nodes:,} values (an alias bomb?); refused",
                line,
                col,
                rule="size",
            )
        if depth > MAX_DEPTH:
            raise YamlProblem(f"values nest more than {MAX_DEPTH} levels deep; refused", line, col, rule="depth")
        self.pos.values.setdefault(path, (line, col))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar_value(node)
        if id(node) in self.active:
            raise YamlProblem("an alias refers to a value that contains it (recursive alias)", line, col)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]
            return self._mapping(node, path, depth)
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            kline, kcol = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                value = self.build(value_node, path, depth + 1)
                sources = value if isinstance(value, list) else [value]
                for src in sources:
                    if not isinstance(src, dict):
                        raise YamlProblem("a merge key (<<) must refer to a mapping", kline, kcol)
                    for k, v in src.items():
                        merged.setdefault(k, v)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlProblem("mapping keys must be plain strings", kline, kcol)
            key = str(self._scalar_value(key_node))
            if key in seen:
                raise YamlProblem(
                    f"duplicate key '{key}' (first defined on line {seen[key]})",
                    kline,
                    kcol,
                    rule="duplicate-key",
                )
            seen[key] = kline
            self.pos.keys[(*path, key)] = (kline, kcol)
            out[key] = self.build(value_node, (*path, key), depth + 1)
        for k, v in merged.items():
            out.setdefault(k, v)
        return out

    def _scalar_value(self, node: yaml.ScalarNode) -> Any:
        try:
            value = self._scalar.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise YamlProblem(f"invalid scalar: {exc}", node.start_mark.line + 1, node.start_mark.column + 1) from None
        if isinstance(value, _dt.datetime | _dt.date):
            return value.isoformat()
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return value
