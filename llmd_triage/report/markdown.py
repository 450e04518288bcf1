"""The Markdown report: pastes cleanly into a ticket or chat. Rendered from the redacted report dict.

Layout: a summary line, a table of findings worst first, a short list of the walks that found
nothing, then per finding its target, verdict, why, numbered fix steps with their commands, the
evidence that decided each branch, and the path walked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmd_triage.engine.record import Walk
from llmd_triage.report.json_report import report_dict

ICON = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵", "info": "⚪"}
_NO_FINDING_ICON = {"healthy": "✅", "inconclusive": "❔"}


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _one(text: Any) -> str:
    """One line of running text (outside tables, where `|` needs no escape)."""
    return str(text).replace("\n", " ")


def _code(text: Any) -> str:
    """Inline code that survives backticks in the text."""
    s = str(text).replace("\n", " ")
    fence = "``" if "`" in s else "`"
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _fence(lines: list[str], indent: str = "", lang: str = "") -> list[str]:
    body = [line.replace("```", "ʼʼʼ") for line in lines]
    return [f"{indent}```{lang}", *(f"{indent}{line}" for line in body), f"{indent}```"]


def target_ref(t: Mapping[str, Any]) -> str:
    kind = t["kind"] if t["kind"] != "workload" else str(t.get("resourceKind", "")).lower()
    return f"{kind}/{t['name']}"


def render_markdown(
    walks: Sequence[Walk],
    *,
    interrupted: bool = False,
    scope: Mapping[str, Any] | None = None,
    fail_on: str | None = None,
) -> str:
    return render_markdown_report(report_dict(walks, interrupted=interrupted, scope=scope, fail_on=fail_on))


def render_markdown_report(data: Mapping[str, Any]) -> str:
    """Markdown from an already redacted report dict."""
    out: list[str] = ["# llmd-triage report", ""]
    if data["interrupted"]:
        out += ["> **Interrupted**: this report holds the walks finished before the run was stopped.", ""]
    s = data["summary"]
    counts = ", ".join(f"{n} {sev}" for sev, n in s["by_severity"].items() if n)
    scope = data.get("scope") or {}
    where = f"Cluster `{scope['cluster']}`" if scope.get("cluster") else "Cluster"
    if scope.get("command") == "scan":
        ns = scope.get("namespace")
        where += f", namespace `{ns}`" if ns else ", all namespaces"
        if scope.get("selector"):
            where += f", pods matching `{scope['selector']}`"
    out += [
        f"{where}: {s['walks']} walk(s), {s['findings']} finding(s)" + (f" ({counts})" if counts else "") + ".",
        "",
    ]
    findings = data["findings"]
    if findings:
        out += ["| severity | target | tree | verdict |", "|---|---|---|---|"]
        for f in findings:
            sev, ref = f["severity"], _cell(target_ref(f["target"]))
            out.append(f"| {ICON.get(sev, '⚫')} {sev} | {ref} | {f['tree']} | {_cell(f['verdict'])} |")
        out.append("")
    else:
        out += ["**No finding.**", ""]
    rest = [w for w in data["walks"] if not (w["leaf"] and w["leaf"]["outcome"] in ("fix", "escalate"))]
    if rest:
        out += [f"No finding ({len(rest)}):", ""]
        for w in rest:
            leaf = w["leaf"]
            ref = _one(target_ref(w["target"]))
            if leaf:
                icon = _NO_FINDING_ICON.get(leaf["outcome"], "·")
                out.append(f"- {icon} {w['tree']} on {ref}: {leaf['outcome']}: {_one(leaf['verdict'])}")
            else:
                out.append(f"- ❓ {w['tree']} on {ref}: no verdict: {_one(w['reason'] or 'the walk did not finish')}")
        out.append("")
    walks = {(w["tree"], w["target"]["kind"], w["target"]["namespace"], w["target"]["name"]): w for w in data["walks"]}
    for f in findings:
        t = f["target"]
        out += _finding_section(f, walks[(f["tree"], t["kind"], t["namespace"], t["name"])])
    for line in scope.get("skipped") or []:
        out.append(f"- skipped: {_one(line)}")
    return _tidy(out)


def _tidy(lines: list[str]) -> str:
    """Join, with never more than one blank line in a row."""
    kept: list[str] = []
    for line in lines:
        if line == "" and kept and kept[-1] == "":
            continue
        kept.append(line)
    return "\n".join(kept).rstrip() + "\n"


def _finding_section(f: Mapping[str, Any], w: Mapping[str, Any]) -> list[str]:
    t = f["target"]
    ns = f" in namespace `{t['namespace']}`" if t.get("namespace") else ""
    out = [
        f"## {ICON.get(f['severity'], '⚫')} {f['tree_title']}: {target_ref(t)}",
        "",
        f"**Target:** `{target_ref(t)}`{ns}, cluster `{w['cluster']}`, walked in {w['elapsed_ms'] / 1000:.2f} s"
        + (" (through unknown steps)" if f["status"] == "partial" else "")
        + ".",
        "",
        f"**Verdict ({f['severity']}, {f['outcome']}):** {f['verdict']}",
        "",
        f"**Why:** {f['why']}",
        "",
    ]
    if f["steps"]:
        out += ["**Fix:**", ""]
        for i, s in enumerate(f["steps"], 1):
            out.append(f"{i}. {s['do']}")
            if s.get("run"):
                out += ["", *_fence([s["run"]], "   ", "sh")]
        out.append("")
    if f.get("actions"):
        out += ["**Actions on offer** (from the TUI after a typed confirmation, or with `--apply-remediation`):", ""]
        for a in f["actions"]:
            flag = " (dangerous)" if a.get("dangerous") else ""
            out.append(f"- {a['title']}{flag}: `{a['command']}`")
        out.append("")
    if f.get("escalation"):
        out += [f"**Escalate:** {f['escalation']}", ""]
    if f.get("handover"):
        ns_flag = f" -n {t['namespace']}" if t.get("namespace") else ""
        cmd = f"llmd-triage run --tree {f['handover']} --target {target_ref(t)}{ns_flag}"
        out += [f"**Continue with:** `{cmd}` (on the same cluster or snapshot)", ""]
    if f.get("references"):
        refs = "; ".join(f"[{r['title']}]({r['url']})" if r.get("url") else r["title"] for r in f["references"])
        out += [f"**References:** {refs}", ""]
    if f["evidence"]:
        out += ["**Evidence:**", ""]
        shown: set[str] = set()
        for e in f["evidence"]:
            title = f" ({e['title']})" if e.get("title") else ""
            if e["status"] == "unknown":
                err = e.get("error") or {}
                line = f"- `{e['node']}`{title}: **unknown ({err.get('kind', '?')})**: {_one(err.get('message', ''))}"
                if err.get("hint"):
                    line += f"; check by hand: {_one(err['hint'])}"
                out.append(line + (f" → `{e['next']}`" if e.get("next") else ""))
            else:
                out.append(f"- `{e['node']}`{title}: {_one(e.get('branch') or '')} → `{e['next']}`")
            if e.get("condition"):
                values = ", ".join(f"{_code(k)} = {_code(_one(v))}" for k, v in e["values"].items())
                cond = _one(e["condition"])
                cond = cond if len(cond) <= 240 else cond[:239] + "…"
                out.append(f"  - condition {_code(cond)}" + (f" with {values}" if values else ""))
            for p in e["probes"]:
                cmd = f" ({_code(p['command'])})" if p.get("command") else ""
                if p["node"] in shown:
                    out.append(f"  - from `{p['node']}` (above): {_one(p['summary'])}")
                    continue
                shown.add(p["node"])
                out.append(f"  - from `{p['node']}`{cmd}: {_one(p['summary'])}")
                if p["lines"]:
                    out += ["", *_fence(p["lines"], "    "), ""]
        out.append("")
    unknown = [s for s in w["steps"] if s["status"] == "unknown" and s["kind"] != "decision"]
    path = " → ".join(f"`{s['node']}`" + (" (?)" if s["status"] == "unknown" else "") for s in w["steps"][1:])
    out += [f"**Path:** {path}", ""]
    for s in unknown:
        err = s.get("error") or {}
        out.append(
            f"- `{s['node']}` unknown ({err.get('kind', '?')}): {_one(err.get('message', s.get('summary', '')))}"
            + (f"; check by hand: {_one(err['hint'])}" if err.get("hint") else "")
        )
    if unknown:
        out.append("")
    return out
