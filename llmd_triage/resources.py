"""Where the bundled schemas, trees and demo snapshot live.

In a checkout they are the top-level folders; in an installed wheel they are copied under
`llmd_triage/_data/` (see pyproject's force-include). Both layouts resolve through here so no
other module guesses paths.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_PKG = Path(__file__).resolve().parent


def _root(name: str) -> Path:
    bundled = _PKG / "_data" / name
    if bundled.is_dir():
        return bundled
    return _PKG.parent / name


def schemas_dir() -> Path:
    return _root("schemas")


def trees_dir() -> Path:
    return _root("trees")


def demo_snapshot() -> Path:
    return trees_dir() / "snapshots" / "demo"


@cache
def schema(name: str) -> dict[str, Any]:
    """A JSON Schema by file stem, e.g. `schema("tree")` reads `tree.schema.json`."""
    with open(schemas_dir() / f"{name}.schema.json", encoding="utf-8") as fh:
        return json.load(fh)
