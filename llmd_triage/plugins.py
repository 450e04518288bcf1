"""Discovery by module: a new probe or parser is one new module, never an edit to a switch.

Built-ins are the submodules of a package; third parties add theirs through an entry-point group.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points
from types import ModuleType


def import_submodules(package: str, skip: frozenset[str] = frozenset()) -> list[ModuleType]:
    pkg = importlib.import_module(package)
    out = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name in skip:
            continue
        out.append(importlib.import_module(f"{package}.{info.name}"))
    return out


def load_entry_points(group: str) -> list[object]:
    return [ep.load() for ep in entry_points(group=group)]
