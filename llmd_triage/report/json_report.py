"""The JSON report: machine-readable, versioned, redacted."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from llmd_triage import __version__
from llmd_triage.engine.record import Walk
from llmd_triage.redact import redact

REPORT_SCHEMA_VERSION = 1


def report_dict(walks: Sequence[Walk], *, interrupted: bool = False) -> dict[str, Any]:
    findings = []
    for w in walks:
        if w.leaf and w.leaf.is_finding:
            findings.append(
                {
                    "tree": w.tree,
                    "leaf": w.leaf.id,
                    "severity": w.leaf.severity,
                    "outcome": w.leaf.outcome,
                    "target": w.target,
                    "verdict": w.leaf.verdict,
                }
            )
    return redact(
        {
            "schema_version": REPORT_SCHEMA_VERSION,
            "tool": {"name": "llmd-triage", "version": __version__},
            "interrupted": interrupted,
            "findings": findings,
            "walks": [w.as_dict() for w in walks],
        }
    )


def render_json(walks: Sequence[Walk], *, interrupted: bool = False) -> str:
    return json.dumps(report_dict(walks, interrupted=interrupted), indent=2, ensure_ascii=False, default=str) + "\n"
