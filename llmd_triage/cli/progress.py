"""Progress on stderr while a run or scan walks: a bar when stderr is a terminal, plain lines when it is a
pipe or a log (one per finished walk), nothing with --quiet. Everything printed is redacted first.

Self-drawn with `\\r` on purpose: importing a rich-text library would cost the startup time that
`--help` and `--version` are measured on.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from llmd_triage.redact import redact_text

_BAR = 24


class Progress:
    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False, tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        if tty is None:
            try:
                tty = self.stream.isatty()
            except (AttributeError, ValueError):
                tty = False
        self.tty = tty
        self.total = 0
        self.done = 0
        self._bar_shown = False
        self._width = 0

    def start(self, total: int) -> None:
        self.total = total
        self.done = 0
        if self.tty and not self.quiet and total:
            self._draw("")

    def walk_done(self, walk: Any) -> None:
        self.done += 1
        if self.quiet:
            return
        leaf = walk.leaf
        t = walk.target
        what = f"{walk.tree} {t['kind']}/{t['name']}"
        verdict = f"{leaf.severity} {leaf.outcome} {leaf.id}" if leaf else f"no verdict ({walk.reason or 'unknown'})"
        if self.tty:
            self._draw(f"{what}: {verdict}")
        else:
            count = f"[{self.done}/{self.total}] " if self.total else ""
            self._line(f"{count}{what}: {verdict}")

    def note(self, text: str) -> None:
        """A line that stays (a summary, a skipped target), printed above the bar."""
        if not self.quiet:
            self._line(text)

    def close(self) -> None:
        if self._bar_shown:
            self._clear()

    # ---- drawing

    def _draw(self, label: str) -> None:
        total = max(self.total, 1)
        filled = int(_BAR * min(self.done, total) / total)
        text = f"[{'#' * filled}{'-' * (_BAR - filled)}] {self.done}/{self.total} {redact_text(label)}"
        text = text[:119]
        pad = max(self._width - len(text), 0)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)
        self._bar_shown = True

    def _clear(self) -> None:
        self.stream.write("\r" + " " * self._width + "\r")
        self.stream.flush()
        self._bar_shown = False
        self._width = 0

    def _line(self, text: str) -> None:
        shown = self._bar_shown
        if shown:
            self._clear()
        self.stream.write(redact_text(text) + "\n")
        self.stream.flush()
        if shown and self.done < self.total:
            self._draw("")
