"""The report as data: what every format renders, versioned, and redacted before anything reads it.

`report_dict` is the one place a report's content is decided and the one place it is redacted; the
Markdown, HTML and JUnit renderers read its output, never a Walk, so no writer can skip redaction.
The JSON shape is documented by `schemas/report.schema.json` (additions keep `schema_version`;
a change that breaks a reader bumps it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from llmd_triage import __version__
from llmd_triage.engine.record import Walk
from llmd_triage.redact import redact
from llmd_triage.tree.model import SEVERITIES, severity_rank

REPORT_SCHEMA_VERSION = 1
#: evidence lines kept per probe in a finding's excerpt (the walk keeps them all)
EXCERPT_LINES = 12
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def sort_walks(walks: Sequence[Walk]) -> list[Walk]:
    """Findings first, worst first; then by tree and target, so the same cluster gives the same report."""

    def key(w: Walk) -> tuple[Any, ...]:
        finding = bool(w.leaf and w.leaf.is_finding)
        sev = severity_rank(w.leaf.severity) if w.leaf else 0
        t = w.target
        return (not finding, -sev, w.tree, t.get("kind", ""), t.get("namespace") or "", t.get("name", ""))

    return sorted(walks, key=key)


def _evidence(walk: dict[str, Any]) -> list[dict[str, Any]]:
    """For each decision on the path: the branch taken, its condition and deciding values, and an excerpt of
    the probe results it read (probes are matched by the names they bound)."""
    probes: dict[str, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for s in walk["steps"]:
        if s["kind"] == "probe" and s.get("bind"):
            probes[s["bind"]] = s
            continue
        if s["kind"] != "decision":
            continue
        names: list[str] = []
        for text in [*s.get("values", {}), s.get("condition") or ""]:
            for name in _IDENT.findall(text):
                if name in probes and name not in names:
                    names.append(name)
        entry: dict[str, Any] = {
            "node": s["node"],
            "title": s.get("title"),
            "status": s["status"],
            "branch": s.get("branch"),
            "condition": s.get("condition"),
            "values": s.get("values") or {},
            "next": s.get("next"),
            "probes": [
                {
                    "node": probes[n]["node"],
                    "probe": probes[n].get("probe"),
                    "status": probes[n]["status"],
                    "summary": probes[n].get("summary", ""),
                    "command": probes[n].get("command"),
                    "lines": list(probes[n].get("evidence") or [])[:EXCERPT_LINES],
                }
                for n in names
            ],
        }
        if s.get("error"):
            entry["error"] = s["error"]
        out.append(entry)
    return out


def _finding(w: dict[str, Any]) -> dict[str, Any]:
    leaf = w["leaf"]
    return {
        "tree": w["tree"],
        "tree_title": w["tree_title"],
        "leaf": leaf["id"],
        "severity": leaf["severity"],
        "outcome": leaf["outcome"],
        "status": w["status"],
        "target": w["target"],
        "verdict": leaf["verdict"],
        "why": leaf["why"],
        "steps": leaf["steps"],
        "escalation": leaf.get("escalation"),
        "handover": leaf.get("handover"),
        "references": leaf.get("references") or [],
        "evidence": _evidence(w),
        "actions": leaf.get("actions") or [],
    }


def report_dict(
    walks: Sequence[Walk],
    *,
    interrupted: bool = False,
    scope: Mapping[str, Any] | None = None,
    fail_on: str | None = None,
) -> dict[str, Any]:
    """The whole report, redacted. `scope` says what was looked at (command, cluster, namespace, selector...);
    `fail_on` marks the findings at or above that severity as `failing` (what the exit code and JUnit use)."""
    ordered = sort_walks(walks)
    walk_dicts = [w.as_dict() for w in ordered]
    findings = [_finding(w) for w in walk_dicts if w["leaf"] and w["leaf"]["outcome"] in ("fix", "escalate")]
    bar = severity_rank(fail_on) if fail_on else None
    for f in findings:
        f["failing"] = bar is not None and severity_rank(f["severity"]) >= bar
    by_sev = {s: 0 for s in SEVERITIES}
    for f in findings:
        by_sev[f["severity"]] = by_sev.get(f["severity"], 0) + 1
    summary = {
        "walks": len(walk_dicts),
        "findings": len(findings),
        "failing": sum(1 for f in findings if f["failing"]),
        "by_severity": by_sev,
        "no_finding": len(walk_dicts) - len(findings),
        "unknown": sum(1 for w in walk_dicts if w["leaf"] is None),
    }
    report: dict[str, Any] = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool": {"name": "llmd-triage", "version": __version__},
        "interrupted": interrupted,
        "scope": dict(scope or {}),
        "fail_on": fail_on,
        "summary": summary,
        "findings": findings,
        "walks": walk_dicts,
    }
    return redact(report)


def render_json(
    walks: Sequence[Walk],
    *,
    interrupted: bool = False,
    scope: Mapping[str, Any] | None = None,
    fail_on: str | None = None,
) -> str:
    data = report_dict(walks, interrupted=interrupted, scope=scope, fail_on=fail_on)
    return dump_json(data)


def dump_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
