"""Kubernetes label and field selectors, evaluated on plain objects.

Shared by the snapshot backend and the loopback API server in tests, so both answer a
selector the way the API server does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
_SET = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split(selector: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def label_matcher(selector: str | None) -> Callable[[Obj], bool]:
    """Compile a label selector (=, ==, !=, in, notin, exists, !exists); raises ValueError if malformed."""
    if not selector:
        return lambda _obj: True
    tests: list[Callable[[dict[str, str]], bool]] = []
    for term in _split(selector):
        if m := _SET.match(term):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
            if op == "in":
                tests.append(lambda lb, k=key, vs=values: lb.get(k) in vs)
            else:
                tests.append(lambda lb, k=key, vs=values: lb.get(k) not in vs)
        elif "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            tests.append(lambda lb, k=key, v=value: lb.get(k) != v)
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            tests.append(lambda lb, k=key, v=value: lb.get(k) == v)
        elif term.startswith("!"):
            absent = term[1:].strip()
            tests.append(lambda lb, k=absent: k not in lb)
        elif re.fullmatch(r"[\w./-]+", term):
            tests.append(lambda lb, k=term: k in lb)
        else:
            raise ValueError(f"label selector term {term!r} is not understood")

    def match(obj: Obj) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(t(labels) for t in tests)

    return match


def field_string(obj: Obj, path: str) -> str:
    """The value at a dotted path as a field selector compares it (absent is "")."""
    return _as_str(field_value(obj, path))


def field_value(obj: Obj, path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def field_matcher(selector: str | None) -> Callable[[Obj], bool]:
    """Compile a field selector (`a.b=v`, `a.b==v`, `a.b!=v`, comma-joined)."""
    if not selector:
        return lambda _obj: True
    tests: list[Callable[[Obj], bool]] = []
    for term in _split(selector):
        if "!=" in term:
            path, value = (s.strip() for s in term.split("!=", 1))
            tests.append(lambda o, p=path, v=value: _as_str(field_value(o, p)) != v)
        elif "=" in term:
            path, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            tests.append(lambda o, p=path, v=value: _as_str(field_value(o, p)) == v)
        else:
            raise ValueError(f"field selector term {term!r} is not understood")
    return lambda obj: all(t(obj) for t in tests)


def field_equalities(selector: str | None) -> list[tuple[str, str]]:
    """The `path=value` terms of a field selector (what an index can look up); [] if none or malformed."""
    out: list[tuple[str, str]] = []
    try:
        terms = _split(selector or "")
    except ValueError:
        return []
    for term in terms:
        if "!=" not in term and "=" in term:
            path, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            out.append((path, value))
    return out


def _as_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
