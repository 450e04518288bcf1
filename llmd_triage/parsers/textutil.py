"""Helpers every parser shares: reading any input as text, lines one at a time, bounded error lists.

Parsers stream: a 50 MB log is never turned into a list of a million strings, and a parser that
meets a million bad lines keeps a handful of sentences about them, not a million.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def as_text(text: Any) -> tuple[str, list[str]]:
    """Any input -> (str, errors): bytes are decoded as UTF-8 with replacement, None reads as empty."""
    if isinstance(text, str):
        return text, []
    if text is None:
        return "", []
    if isinstance(text, bytes | bytearray | memoryview):
        return bytes(text).decode("utf-8", errors="replace"), []
    return "", [f"expected text, got {type(text).__name__}"]


def iter_lines(text: str) -> Iterator[str]:
    """Lines of `text` one at a time (no copy of the whole text), without line ends or ANSI colours."""
    start, end_all = 0, len(text)
    while start < end_all:
        end = text.find("\n", start)
        if end == -1:
            end = end_all
        line = text[start:end]
        start = end + 1
        if line.endswith("\r"):
            line = line[:-1]
        if "\x1b" in line:
            line = _ANSI.sub("", line)
        yield line


def add_error(errors: list[str], message: str, limit: int = 20) -> None:
    """Record a problem once, and at most `limit` of them."""
    if len(errors) < limit and message not in errors:
        errors.append(message)
