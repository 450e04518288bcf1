"""CEL conditions, compiled when a tree loads and evaluated during a walk.

CEL is what Kubernetes itself uses for validation rules, so tree authors write what they already
know, and it cannot run arbitrary code. We use the `common-expression-language` bindings (Rust
`cel` crate): ~12 µs per evaluation here and parse errors that carry a column.

Two costs of those bindings matter when a scan tests every tree's entry condition on thousands of
pods, and both are paid here, not by tree authors:
- the crate compiles the regular expression of `s.matches(re)` on every call (~45 µs each, so an
  entry condition that tries it on every arg of every container costs ~0.5 ms a pod). A literal
  pattern that Python's `re` reads the same way is rewritten at load to a method backed by a
  cache of compiled patterns (`_llmd_matches`); `source` keeps what the author wrote.
- a dict context is converted to CEL values on every evaluation. `Bindings` converts it once, for
  the several conditions a scan (every entry on one target) or a decision (its branches and their
  deciding values) evaluates over the same data.
"""

from __future__ import annotations

import functools
import logging
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import cel

# A failing Python function (a regex on null) already surfaces as the RuntimeError that becomes
# ConditionUnknown; the bindings would also log it to stderr, in the middle of a report.
logging.getLogger("cel").addHandler(logging.NullHandler())
logging.getLogger("cel").propagate = False

_PARSE_POS = re.compile(r"<input>:(\d+):(\d+): (.*?)(?:\n|$)")
_COMPREHENSION = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,")
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_PATH = re.compile(r"(?<![\w.])([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(\s*\()?")
_MISSING_VAR = re.compile(r"Undefined variable or function: '([^']+)'")
_MATCHES_LITERAL = re.compile(r"""\.matches\(\s*("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')\s*\)""")

#: the method that `s.matches("literal")` is rewritten to, and the context entry that provides it
MATCHES_FN = "_llmd_matches"

#: names CEL itself defines, never to be reported as unbound
_BUILTIN_NAMES = frozenset({"true", "false", "null", "in", "int", "uint", "double", "string", "bytes", "bool"})


class ConditionSyntaxError(ValueError):
    """A CEL expression that does not compile; `col` is 1-based within the expression."""

    def __init__(self, message: str, col: int = 0, offset: int | None = None) -> None:
        super().__init__(message)
        self.col = col
        #: 0-based character offset of the error within the expression source
        self.offset = offset if offset is not None else max(col - 1, 0)


def _python_pattern(pattern: str) -> str:
    """RE2's `$` (no multi-line flag) is the end of the text; Python's also matches before a final newline."""
    out, in_class, escaped = [], False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        elif ch == "$" and not in_class:
            out.append("\\Z")
            continue
        out.append(ch)
    return "".join(out)


@functools.lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(_python_pattern(pattern), re.ASCII)


def _matches(value: Any, pattern: Any) -> bool:
    """CEL's `matches` (an unanchored RE2 search) with the compiled pattern cached."""
    if not isinstance(value, str) or not isinstance(pattern, str):
        raise TypeError(f"matches() needs a string and a pattern, got {type(value).__name__}")
    return _regex(pattern).search(value) is not None


def _rewrite_matches(source: str) -> str:
    """`x.matches("lit")` -> `x._llmd_matches("lit")` where Python's `re` reads the pattern as RE2 does."""
    strings = [m.span() for m in _STRING.finditer(source)]
    out, last = [], 0
    for m in _MATCHES_LITERAL.finditer(source):
        start = m.start()
        if any(a <= start < b for a, b in strings):
            continue  # inside a string literal
        try:
            pattern = cel.compile(m.group(1)).execute({})
            if not isinstance(pattern, str) or re.search(r"\\[pPQEzZ]|\[\[:|\(\?[^:i]", pattern):
                continue  # RE2 syntax that Python reads differently, or not at all
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                _regex(pattern)
        except Exception:
            continue  # leave it to CEL (and its RE2 error message)
        out.append(source[last:start] + f".{MATCHES_FN}(")
        last = m.start(1)
    return "".join(out) + source[last:] if out else source


class Bindings:
    """A context converted to CEL once, to evaluate several conditions over the same data."""

    __slots__ = ("ctx", "names")

    def __init__(self, context: dict[str, Any]) -> None:
        self.ctx = cel.Context()
        for name, value in context.items():
            self.ctx.add_variable(name, value)
        self.ctx.add_function(MATCHES_FN, _matches)
        self.names = frozenset(context)


def _cel_context(context: dict[str, Any] | Bindings) -> Any:
    if isinstance(context, Bindings):
        return context.ctx
    return {**context, MATCHES_FN: _matches}


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
    #: one compiled program per deciding path, built on first use
    _path_programs: list[Any] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def compile(cls, source: str) -> Condition:
        try:
            program = cel.compile(_rewrite_matches(source))
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
        names = frozenset(
            v for v in program.variables() if v not in local and v not in _BUILTIN_NAMES and v != MATCHES_FN
        )
        return cls(source, program, names, _deciding_paths(source, names))

    def evaluate(self, context: dict[str, Any] | Bindings) -> Any:
        """Evaluate over plain data (or its Bindings); every failure becomes ConditionUnknown with a reason."""
        try:
            return self.program.execute(_cel_context(context))
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

    def test(self, context: dict[str, Any] | Bindings) -> bool:
        value = self.evaluate(context)
        if not isinstance(value, bool):
            raise ConditionUnknown(f"condition gave {type(value).__name__} {value!r}, not true or false")
        return value

    def deciding_values(self, context: dict[str, Any] | Bindings, limit: int = 200) -> dict[str, Any]:
        """The values of the data paths the expression mentions, so a reader sees why it went one way."""
        if len(self._path_programs) != len(self.paths):
            self._path_programs[:] = [_compile_path(p) for p in self.paths]
        env = _cel_context(context)
        out: dict[str, Any] = {}
        for path, program in zip(self.paths, self._path_programs, strict=True):
            try:
                value = program.execute(env) if program is not None else "<absent>"
            except Exception:
                value = "<absent>"
            out[path] = _clip(value, limit)
        return out


def _compile_path(path: str) -> Any:
    try:
        return cel.compile(path)
    except Exception:
        return None


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
