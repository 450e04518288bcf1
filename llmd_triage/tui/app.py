"""Entry point of the TUI (being built: issue 6)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def run_tui(
    args: argparse.Namespace,
    *,
    open_cluster: Callable[[argparse.Namespace], tuple[Any, str | None]],
    load_trees: Callable[[], dict[str, Any]],
) -> int:
    raise NotImplementedError("the TUI is being built")
