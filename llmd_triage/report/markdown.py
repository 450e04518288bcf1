"""The Markdown report: pastes cleanly into a ticket or chat. Redacted before rendering."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmd_triage.engine.record import Walk
from llmd_triage.report.json_report import report_dict

_ICON = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵", "info": "⚪"}


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fence(lines: list[str]) -> list[str]:
    body = [line.replace("```", "ʼʼʼ") for line in lines]
    return ["```", *body, "```"]


def render_markdown(walks: Sequence[Walk], *, interrupted: bool = False) -> str:
    data = report_dict(walks, interrupted=interrupted)  # redacted copy
    out: list[str] = ["# llmd-triage report", ""]
    if interrupted:
        out += ["> **Interrupted**: this report holds the walks finished before the run was stopped.", ""]
    out += ["| severity | target | tree | verdict |", "|---|---|---|---|"]
    for w in data["walks"]:
        leaf = w["leaf"]
        sev = leaf["severity"] if leaf else "unknown"
        verdict = leaf["verdict"] if leaf else (w["reason"] or "no verdict")
        t = w["target"]
        out.append(
            f"| {_ICON.get(sev, '⚫')} {sev} | {t['kind']}/{_cell(t['name'])} | {w['tree']} | {_cell(verdict)} |"
        )
    out.append("")
    for w in data["walks"]:
        out += _walk_section(w)
    return "\n".join(out).rstrip() + "\n"


def _walk_section(w: dict[str, Any]) -> list[str]:
    t, leaf = w["target"], w["leaf"]
    ns = f" in namespace `{t['namespace']}`" if t.get("namespace") else ""
    out = [
        f"## {w['tree_title']}: {t['kind']}/{t['name']}",
        "",
        f"Cluster `{w['cluster']}`{ns}, walked in {w['elapsed_ms'] / 1000:.2f} s ({w['status']}).",
        "",
    ]
    if leaf:
        out += [
            f"**Verdict ({leaf['severity']}, {leaf['outcome']}):** {leaf['verdict']}",
            "",
            f"**Why:** {leaf['why']}",
            "",
        ]
        if leaf["steps"]:
            out += ["**Fix:**", ""]
            for i, s in enumerate(leaf["steps"], 1):
                out.append(f"{i}. {s['do']}")
                if s.get("run"):
                    out += ["", "   ```sh", f"   {s['run']}", "   ```"]
            out.append("")
        if leaf.get("escalation"):
            out += [f"**Escalate:** {leaf['escalation']}", ""]
        if leaf.get("handover"):
            kind = t["kind"] if t["kind"] != "workload" else str(t.get("resourceKind", "")).lower()
            ns = f" -n {t['namespace']}" if t.get("namespace") else ""
            cmd = f"llmd-triage run --tree {leaf['handover']} --target {kind}/{t['name']}{ns}"
            out += [f"**Continue with:** `{cmd}` (on the same cluster or snapshot)", ""]
        if leaf.get("references"):
            out += [
                "**References:** "
                + "; ".join(f"[{r['title']}]({r['url']})" if r.get("url") else r["title"] for r in leaf["references"]),
                "",
            ]
    else:
        out += [f"**No verdict:** {w['reason']}", ""]
    out += ["**Path:**", ""]
    for s in w["steps"]:
        mark = {"ok": "✔", "unknown": "?", "manual": "✋"}.get(s["status"], "·")
        title = f" — {s['title']}" if s.get("title") else ""
        if s["kind"] == "leaf":
            out.append(f"- {mark} `{s['node']}` (leaf)")
            continue
        out.append(f"- {mark} `{s['node']}`{title}: {s['summary']}")
        if s.get("condition"):
            values = ", ".join(f"`{k}` = `{_cell(v)}`" for k, v in s["values"].items())
            out.append(f"  - condition `{_cell(s['condition'])}`" + (f" with {values}" if values else ""))
        if s.get("error"):
            out.append(f"  - **unknown ({s['error']['kind']})**: check by hand: {s['error']['hint']}")
        if s.get("evidence"):
            out += ["", *("  " + line for line in _fence(s["evidence"][:12])), ""]
    out.append("")
    return out
