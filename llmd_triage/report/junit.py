"""The JUnit XML report, for CI systems and dashboards that gate on test results.

One <testsuite> per tree, one <testcase> per tree x target (classname = tree id, name = the target).
A walk that ended at a finding at or above --fail-on is a <failure> (message: the verdict; body: why,
the fix steps and the path); one that reached no leaf is <skipped> with the reason; the rest pass.
Rendered from the redacted report dict; written with xml.etree, so everything is escaped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from llmd_triage.engine.record import Walk
from llmd_triage.report.json_report import report_dict
from llmd_triage.report.markdown import target_ref

#: characters XML 1.0 cannot carry at all (ElementTree would write them and produce an unreadable file)
_BAD_XML = {c: None for c in [*range(0, 9), 11, 12, *range(14, 32), 0xFFFE, 0xFFFF]}


def _x(text: Any) -> str:
    return str("" if text is None else text).translate(_BAD_XML)


def _key(x: Mapping[str, Any]) -> tuple[Any, ...]:
    t = x["target"]
    return (x["tree"], t["kind"], t["namespace"], t["name"])


def case_name(t: Mapping[str, Any]) -> str:
    ns = f" -n {t['namespace']}" if t.get("namespace") else ""
    return f"{target_ref(t)}{ns}"


def render_junit(
    walks: Sequence[Walk],
    *,
    interrupted: bool = False,
    scope: Mapping[str, Any] | None = None,
    fail_on: str | None = "info",
) -> str:
    return render_junit_report(report_dict(walks, interrupted=interrupted, scope=scope, fail_on=fail_on))


def render_junit_report(data: Mapping[str, Any]) -> str:
    findings = {_key(f): f for f in data["findings"]}
    suites: dict[str, list[dict[str, Any]]] = {}
    for w in data["walks"]:
        suites.setdefault(w["tree"], []).append(w)
    root = ET.Element("testsuites", name="llmd-triage")
    totals = {"tests": 0, "failures": 0, "skipped": 0, "time": 0.0}
    for tree in sorted(suites):
        suite = ET.SubElement(root, "testsuite", name=tree)
        counts = {"tests": 0, "failures": 0, "skipped": 0, "time": 0.0}
        props = ET.SubElement(suite, "properties")
        scope = data.get("scope") or {}
        for key in ("cluster", "command", "namespace", "selector"):
            if scope.get(key):
                ET.SubElement(props, "property", name=key, value=_x(scope[key]))
        ET.SubElement(props, "property", name="fail_on", value=_x(data.get("fail_on") or "none"))
        if data["interrupted"]:
            ET.SubElement(props, "property", name="interrupted", value="true")
        for w in suites[tree]:
            t = w["target"]
            seconds = w["elapsed_ms"] / 1000
            case = ET.SubElement(
                suite, "testcase", classname=tree, name=_x(case_name(t)), time=f"{seconds:.3f}"
            )  # fmt: skip
            counts["tests"] += 1
            counts["time"] += seconds
            f = findings.get(_key(w))
            leaf = w["leaf"]
            path = " → ".join(s["node"] + (" (unknown)" if s["status"] == "unknown" else "") for s in w["steps"][1:])
            if f is not None and f["failing"]:
                counts["failures"] += 1
                body = [f"{f['severity']} {f['outcome']}: {f['verdict']}", "", f"Why: {f['why']}", ""]
                for i, s in enumerate(f["steps"], 1):
                    body.append(f"{i}. {s['do']}" + (f"\n   $ {s['run']}" if s.get("run") else ""))
                body += ["", f"Path: {path}"]
                message, kind = f"[{f['severity']}] {f['verdict']}", f"{f['severity']}/{f['leaf']}"
                failure = ET.SubElement(case, "failure", message=_x(message), type=_x(kind))
                failure.text = _x("\n".join(body))
            elif leaf is None:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=_x(w["reason"] or "the walk reached no verdict"))
            out = [f"{leaf['outcome']} ({leaf['severity']}, leaf {leaf['id']}): {leaf['verdict']}"] if leaf else []
            out.append(f"Path: {path}")
            for s in w["steps"]:
                if s["status"] == "unknown" and s.get("error"):
                    out.append(f"unknown {s['node']} ({s['error']['kind']}): {s['error']['message']}")
            ET.SubElement(case, "system-out").text = _x("\n".join(out))
        for key in ("tests", "failures", "skipped"):
            suite.set(key, str(counts[key]))
            totals[key] += counts[key]
        suite.set("errors", "0")
        suite.set("time", f"{counts['time']:.3f}")
        totals["time"] += counts["time"]
    for key in ("tests", "failures", "skipped"):
        root.set(key, str(totals[key]))
    root.set("errors", "0")
    root.set("time", f"{totals['time']:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
