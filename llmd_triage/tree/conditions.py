"""CEL conditions, compiled when a tree loads and evaluated during a walk.

CEL is what Kubernetes itself uses for validation rules, so tree authors write what they already
know, and it cannot run arbitrary code. We use the `common-expression-language` bindings (Rust
`cel` crate): ~12 µs per evaluation here and parse errors that carry a column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import cel

_PARSE_POS = re.compile(r"<input>:(\d+):(\d+): (.*?)(?:\n|$)")
_COMPREHENSION = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,")
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_PATH = re.compile(r"(?<![\w.])([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(\s*\()?")
_MISSING_VAR = re.compile(r"Undefined variable or function: '([^']+)'")

#: names CEL itself defines, never to be reported as unbound
_BUILTIN_NAMES = frozenset({"true", "false", "null", "in", "int", "uint", "double", "string", "bytes", "bool"})


class ConditionSyntaxError(ValueError):
    """A CEL expression that does not compile; `col` is 1-based within the expression."""

    def __init__(self, message: str, col: int = 0, offset: int | None = None) -> None:
        super().__init__(message)
        self.col = col
        #: 0-based character offset of the error within the expression source
        self.offset = offset if offset is not None else max(col - 1, 0)


class ConditionUnknown(Exception):
    """The expression could not be evaluated on this data (a probe failed, a field is absent...)."""

    def __init__(self, message: str, missing: str | None = None) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass(frozen=True)
class Condition:
    source: str
    program: Any = field(repr=False, compare=False)
    names: frozenset[str] = frozenset()
    paths: tuple[str, ...] = ()

    @classmethod
    def compile(cls, source: str) -> Condition:
        try:
            program = cel.compile(source)
        except ValueError as exc:
            text = str(exc)
            m = _PARSE_POS.search(text)
            if m:
                line, col = int(m.group(1)), int(m.group(2))
                offset = sum(len(x) + 1 for x in source.split("\n")[: line - 1]) + col - 1
                raise ConditionSyntaxError(_readable(m.group(3).strip()), col, offset) from None
            raise ConditionSyntaxError(text.splitlines()[0] if text else "invalid expression") from None
        except Exception as exc:  # the bindings raise a few other types on odd input
            raise ConditionSyntaxError(f"invalid expression: {exc}") from None
        local = set(_COMPREHENSION.findall(source))
        names = frozenset(v for v in program.variables() if v not in local and v not in _BUILTIN_NAMES)
        return cls(source, program, names, _deciding_paths(source, names))

    def evaluate(self, context: dict[str, Any]) -> Any:
        """Evaluate over plain data; every failure becomes ConditionUnknown with a readable reason."""
        try:
            return self.program.execute(context)
        except RuntimeError as exc:
            m = _MISSING_VAR.search(str(exc))
            if m:
                raise ConditionUnknown(f"'{m.group(1)}' has no value", m.group(1)) from None
            raise ConditionUnknown(_first_line(exc)) from None
        except KeyError as exc:
            raise ConditionUnknown(f"field {exc} is absent", str(exc.args[0]) if exc.args else None) from None
        except (TypeError, ValueError) as exc:
            raise ConditionUnknown(_first_line(exc)) from None
        except Exception as exc:
            raise ConditionUnknown(f"{type(exc).__name__}: {_first_line(exc)}") from None

    def test(self, context: dict[str, Any]) -> bool:
        value = self.evaluate(context)
        if not isinstance(value, bool):
            raise ConditionUnknown(f"condition gave {type(value).__name__} {value!r}, not true or false")
        return value

    def deciding_values(self, context: dict[str, Any], limit: int = 200) -> dict[str, Any]:
        """The values of the data paths the expression mentions, so a reader sees why it went one way."""
        out: dict[str, Any] = {}
        for path in self.paths:
            try:
                value = cel.compile(path).execute(context)
            except Exception:
                value = "<absent>"
            out[path] = _clip(value, limit)
        return out


def _readable(message: str) -> str:
    """ANTLR lists every token it could accept; a person needs the gist."""
    message = re.sub(r" expecting \{[^}]*\}", " expecting more", message)
    return message.replace("mismatched input '<EOF>' expecting more", "the expression ends too early")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _deciding_paths(source: str, names: frozenset[str]) -> tuple[str, ...]:
    stripped = _STRING.sub('""', source)
    seen: list[str] = []
    for m in _PATH.finditer(stripped):
        path, call = m.group(1), m.group(2)
        if call:  # `x.startsWith(` -> keep `x`; a bare function call keeps nothing
            path = path.rpartition(".")[0]
        root = path.split(".", 1)[0]
        if path and root in names and path not in seen:
            seen.append(path)
    return tuple(seen)


def _canonical(value: Any) -> Any:
    """Maps with their keys sorted: CEL hands maps back in hash order, which differs run to run, and a report
    must read the same for the same cluster."""
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _clip(value: Any, limit: int) -> Any:
    value = _canonical(value)
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "…"
    if isinstance(value, list | dict):
        text = repr(value)
        if len(text) > limit:
            return text[:limit] + "…"
    return value
