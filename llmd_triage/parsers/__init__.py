"""Pure text -> data parsers. Each module registers its parsers with @parser("name").

A parser never raises on bad input: it returns what it could read plus an `errors` list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ParserFn = Callable[[str], dict[str, Any]]
_PARSERS: dict[str, ParserFn] = {}
_loaded = False


def parser(name: str) -> Callable[[ParserFn], ParserFn]:
    def register(fn: ParserFn) -> ParserFn:
        _PARSERS[name] = fn
        return fn

    return register


def _load() -> None:
    global _loaded
    if not _loaded:
        from llmd_triage.plugins import import_submodules

        import_submodules("llmd_triage.parsers")
        _loaded = True


def get_parser(name: str) -> ParserFn | None:
    _load()
    return _PARSERS.get(name)


def parser_names() -> list[str]:
    _load()
    return sorted(_PARSERS)


def safe_parse(name: str, text: str) -> dict[str, Any]:
    """Run a parser; a bug in a parser becomes an entry in `errors`, never an exception."""
    fn = get_parser(name)
    if fn is None:
        return {"errors": [f"no parser named {name!r}"]}
    try:
        return fn(text)
    except Exception as exc:  # a parser bug must not break a walk
        return {"errors": [f"parser {name} failed: {type(exc).__name__}: {exc}"]}
