"""Static domain knowledge shipped as package data (read with importlib.resources, cached).

`xid_catalog()` maps each NVIDIA Xid code to its catalog entry (see the header of `xid.yaml` for the
sources and the meaning of each field). Callers share one cached dict: treat it as read-only, or use
`xid_info(code)` for a private copy of one entry.
"""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from typing import Any

import yaml

try:  # libyaml: the catalog loads in ~40 ms instead of ~400 ms
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

# The action buckets a tree branches on, most to least severe; "unknown" is for codes not in the catalog.
XID_ACTIONS: tuple[str, ...] = (
    "reboot_node",
    "contact_support",
    "reset_gpu",
    "workflow",
    "restart_app",
    "ignore",
    "unknown",
)
_FIELDS = (
    "code",
    "name",
    "description",
    "cause",
    "action",
    "escalation",
    "nvidia_bucket",
    "investigatory",
    "nvsentinel_bucket",
    "applies_to",
    "xid154_linkage",
    "source",
    "note",
)


def action_rank(action: str | None) -> int:
    """Severity of an action bucket: higher is worse; anything unrecognised ranks with "unknown"."""
    try:
        return len(XID_ACTIONS) - 1 - XID_ACTIONS.index(action or "unknown")
    except ValueError:
        return 0


@cache
def xid_catalog() -> dict[int, dict[str, Any]]:
    """Every Xid code in the catalog -> {code, name, cause, action, escalation, source, note, ...}.

    Raises ValueError when the bundled file is malformed (a packaging bug, caught by the tests).
    """
    text = resources.files(__name__).joinpath("xid.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=_Loader)
    rows = data.get("xids") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ValueError("xid.yaml: top-level 'xids' list is missing")
    out: dict[int, dict[str, Any]] = {}
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("code"), int):
            raise ValueError(f"xid.yaml: entry without an integer code: {row!r}")
        missing = [f for f in _FIELDS if f not in row]
        if missing:
            raise ValueError(f"xid.yaml: Xid {row['code']} lacks {', '.join(missing)}")
        if row["action"] not in XID_ACTIONS[:-1]:
            raise ValueError(f"xid.yaml: Xid {row['code']} has unknown action {row['action']!r}")
        if row["code"] in out:
            raise ValueError(f"xid.yaml: Xid {row['code']} is listed twice")
        out[row["code"]] = row
    return out


def xid_info(code: int) -> dict[str, Any] | None:
    """A private copy of one catalog entry, or None for a code the catalog does not list."""
    entry = xid_catalog().get(code)
    return copy.deepcopy(entry) if entry is not None else None
