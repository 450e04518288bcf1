"""llmd-triage: decision trees that walk an on-call SRE from a symptom to a fix on llm-d clusters.

The public face is kept tiny and lazy so that `llmd-triage --version` does not pay for
importing the engine, networkx or the Kubernetes client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Walk", "__version__", "load_tree", "walk"]

if TYPE_CHECKING:
    from llmd_triage.engine.record import Walk
    from llmd_triage.engine.walk import walk
    from llmd_triage.tree.loader import load_tree


def __getattr__(name: str) -> Any:
    if name == "load_tree":
        from llmd_triage.tree.loader import load_tree

        return load_tree
    if name == "walk":
        from llmd_triage.engine.walk import walk

        return walk
    if name == "Walk":
        from llmd_triage.engine.record import Walk

        return Walk
    raise AttributeError(name)
