"""The HTML report: one self-contained file, for people who would rather look than read.

Inline CSS, and every walked path drawn as an inline SVG graph (a vertical chain of the nodes
visited, each taken edge labelled with the branch that chose it). No script, no external resource:
the only URLs are the references' own links, and only http(s) ones become links. Tree text and
cluster data are untrusted, so everything is escaped; it is rendered from the redacted report dict.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from llmd_triage.engine.record import Walk
from llmd_triage.report.json_report import report_dict
from llmd_triage.report.markdown import target_ref

SEVERITY_COLOR = {"critical": "#d32f2f", "high": "#f57c00", "medium": "#fbc02d", "low": "#1976d2", "info": "#9e9e9e"}
_STATUS_FILL = {"ok": "#eef6ee", "unknown": "#fff4e5", "manual": "#e8eefc"}
_STATUS_STROKE = {"ok": "#2e7d32", "unknown": "#ef6c00", "manual": "#1565c0"}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:0 0 8px}h3{font-size:15px;margin:16px 0 6px}
.banner{background:#fff4e5;border:1px solid #ef6c00;padding:8px 12px;border-radius:6px;margin:12px 0}
table{border-collapse:collapse;width:100%;background:#fff;margin:12px 0}
th,td{border:1px solid #ddd;padding:6px 8px;text-align:left;vertical-align:top}th{background:#f0f0f0}
.sev{display:inline-block;min-width:64px;padding:1px 6px;border-radius:10px;color:#fff;font-size:12px;text-align:center}
.card{background:#fff;border:1px solid #ddd;border-left-width:6px;border-radius:6px;padding:16px;margin:16px 0}
.cols{display:flex;gap:24px;flex-wrap:wrap}.cols>div{flex:1 1 420px;min-width:0}
pre{background:#f5f5f5;border:1px solid #e0e0e0;border-radius:4px;padding:8px;overflow-x:auto;white-space:pre-wrap;
word-break:break-all;font-size:12.5px}
code{background:#f2f2f2;padding:0 3px;border-radius:3px;font-size:12.5px;word-break:break-word}
ol li{margin-bottom:6px}.muted{color:#666}.unknown{color:#b35a00}
details{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:8px 0}
summary{cursor:pointer}svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
"""


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _clip(text: Any, n: int) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _link(ref: Mapping[str, Any]) -> str:
    url = str(ref.get("url") or "")
    if url.startswith(("https://", "http://")):
        return f'<a href="{_e(url)}" rel="noreferrer noopener">{_e(ref.get("title"))}</a>'
    return _e(ref.get("title"))


def _sev(sev: str) -> str:
    return f'<span class="sev" style="background:{SEVERITY_COLOR.get(sev, "#555")}">{_e(sev)}</span>'


def path_svg(walk: Mapping[str, Any], uid: str = "p") -> str:
    """The walked path as a vertical graph: one box per node visited, each edge labelled with the branch taken."""
    steps = list(walk["steps"])
    box_w, box_h, gap, x0, y0 = 430, 46, 34, 10, 10
    label_x = x0 + box_w / 2 + 10
    height = y0 * 2 + len(steps) * box_h + max(len(steps) - 1, 0) * gap
    width = x0 + box_w + 290
    leaf = walk.get("leaf") or {}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" style="max-width:100%;height:auto" aria-label="{_e("path walked by " + walk["tree"])}">',
        f'<defs><marker id="arrow-{uid}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    for i, s in enumerate(steps):
        y = y0 + i * (box_h + gap)
        fill, stroke, dash = _STATUS_FILL.get(s["status"], "#fff"), _STATUS_STROKE.get(s["status"], "#555"), ""
        if s["status"] == "unknown":
            dash = ' stroke-dasharray="5 3"'
        if s["kind"] == "leaf" and leaf:
            stroke = SEVERITY_COLOR.get(leaf.get("severity", ""), "#555")
            fill = "#fff"
        kind = {"target": "target", "probe": f"probe {s.get('probe') or ''}", "decision": "decision", "leaf": "leaf"}
        head = f"{s['node']}  ·  {kind.get(s['kind'], s['kind'])}"
        sub = (
            (s.get("title") if s["kind"] == "decision" else s.get("summary"))
            or s.get("title")
            or s.get("summary")
            or ""
        )
        if s["status"] == "unknown" and s.get("error"):
            sub = f"unknown ({s['error'].get('kind')}): {s['error'].get('message')}"
        tooltip = "\n".join(x for x in (s.get("title"), s.get("summary"), (s.get("error") or {}).get("hint")) if x)
        rx = 16 if s["kind"] == "leaf" else 4
        width_stroke = 3 if s["kind"] == "leaf" else 1.5
        parts.append(
            f'<g><title>{_e(tooltip)}</title><rect x="{x0}" y="{y}" width="{box_w}" height="{box_h}" rx="{rx}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{width_stroke}"{dash}/>'
            f'<text x="{x0 + 10}" y="{y + 19}" font-size="13" font-weight="600" fill="#1d1d1f">{_e(_clip(head, 58))}'
            f'</text><text x="{x0 + 10}" y="{y + 36}" font-size="12" fill="#444">{_e(_clip(sub, 66))}</text></g>'
        )
        if i + 1 < len(steps):
            cx = x0 + box_w / 2
            y1, y2 = y + box_h, y + box_h + gap
            parts.append(
                f'<line x1="{cx}" y1="{y1}" x2="{cx}" y2="{y2 - 1}" stroke="#555" stroke-width="1.5" '
                f'marker-end="url(#arrow-{uid})"/>'
            )
            label = s.get("branch") if s["kind"] == "decision" else None
            if label:
                parts.append(
                    f'<text x="{label_x}" y="{y1 + gap / 2 + 4}" font-size="12" fill="#1565c0">'
                    f"{_e(_clip(label, 70))}<title>{_e(label)}</title></text>"
                )
    parts.append("</svg>")
    return "".join(parts)


def render_html(
    walks: Sequence[Walk],
    *,
    interrupted: bool = False,
    scope: Mapping[str, Any] | None = None,
    fail_on: str | None = None,
) -> str:
    return render_html_report(report_dict(walks, interrupted=interrupted, scope=scope, fail_on=fail_on))


def render_html_report(data: Mapping[str, Any]) -> str:
    s = data["summary"]
    scope = data.get("scope") or {}
    counts = ", ".join(f"{n} {sev}" for sev, n in s["by_severity"].items() if n)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>llmd-triage report{_e(' (interrupted)' if data['interrupted'] else '')}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<h1>llmd-triage report</h1>",
        f'<p class="muted">cluster <code>{_e(scope.get("cluster", "?"))}</code>'
        + (f" · {_e(scope['command'])}" if scope.get("command") else "")
        + f" · {s['walks']} walk(s), {s['findings']} finding(s){_e(f' ({counts})' if counts else '')}"
        + f" · llmd-triage {_e(data['tool']['version'])}</p>",
    ]
    if data["interrupted"]:
        out.append('<div class="banner"><b>Interrupted</b>: this report holds the walks finished before the run was '
                   "stopped.</div>")  # fmt: skip
    findings = data["findings"]
    if findings:
        out.append(
            "<table><thead><tr><th>severity</th><th>target</th><th>tree</th><th>verdict</th></tr></thead><tbody>"
        )
        for i, f in enumerate(findings, 1):
            out.append(
                f"<tr><td>{_sev(f['severity'])}</td><td><code>{_e(target_ref(f['target']))}</code></td>"
                f'<td>{_e(f["tree"])}</td><td><a href="#finding-{i}">{_e(f["verdict"])}</a></td></tr>'
            )
        out.append("</tbody></table>")
    else:
        out.append("<p><b>No finding.</b></p>")
    walks = {(w["tree"], w["target"]["kind"], w["target"]["namespace"], w["target"]["name"]): w for w in data["walks"]}
    for i, f in enumerate(findings, 1):
        t = f["target"]
        out.append(_finding_card(i, f, walks[(f["tree"], t["kind"], t["namespace"], t["name"])]))
    rest = [w for w in data["walks"] if not (w["leaf"] and w["leaf"]["outcome"] in ("fix", "escalate"))]
    if rest:
        out.append(f"<h2>No finding ({len(rest)})</h2>")
        for j, w in enumerate(rest, 1):
            leaf = w["leaf"]
            what = f"{leaf['outcome']}: {leaf['verdict']}" if leaf else f"no verdict: {w['reason'] or ''}"
            out.append(
                f"<details><summary><b>{_e(w['tree'])}</b> on <code>{_e(target_ref(w['target']))}</code>: "
                f"{_e(what)}</summary>{path_svg(w, f'w{j}')}</details>"
            )
    for note in scope.get("skipped") or []:
        out.append(f'<p class="muted">skipped: {_e(note)}</p>')
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"


def _finding_card(i: int, f: Mapping[str, Any], w: Mapping[str, Any]) -> str:
    t = f["target"]
    color = SEVERITY_COLOR.get(f["severity"], "#555")
    ns = f" in namespace <code>{_e(t['namespace'])}</code>" if t.get("namespace") else ""
    out = [
        f'<section class="card" id="finding-{i}" style="border-left-color:{color}">',
        f"<h2>{_sev(f['severity'])} {_e(f['tree_title'])}: <code>{_e(target_ref(t))}</code></h2>",
        f'<p class="muted">target <code>{_e(target_ref(t))}</code>{ns}, cluster <code>{_e(w["cluster"])}</code>, '
        f"tree <code>{_e(f['tree'])}</code>, leaf <code>{_e(f['leaf'])}</code>"
        + (' <span class="unknown">(through unknown steps)</span>' if f["status"] == "partial" else "")
        + "</p>",
        '<div class="cols"><div>',
        f"<p><b>Verdict ({_e(f['severity'])}, {_e(f['outcome'])}):</b> {_e(f['verdict'])}</p>",
        f"<p><b>Why:</b> {_e(f['why'])}</p>",
    ]
    if f["steps"]:
        out.append("<h3>Fix</h3><ol>")
        for s in f["steps"]:
            run = f"<pre>{_e(s['run'])}</pre>" if s.get("run") else ""
            out.append(f"<li>{_e(s['do'])}{run}</li>")
        out.append("</ol>")
    if f.get("escalation"):
        out.append(f"<p><b>Escalate:</b> {_e(f['escalation'])}</p>")
    if f.get("references"):
        out.append("<p><b>References:</b> " + "; ".join(_link(r) for r in f["references"]) + "</p>")
    if f["evidence"]:
        out.append("<h3>Evidence</h3><ul>")
        shown: set[str] = set()
        for e in f["evidence"]:
            title = f" ({_e(e['title'])})" if e.get("title") else ""
            if e["status"] == "unknown":
                err = e.get("error") or {}
                head = f'<span class="unknown">unknown ({_e(err.get("kind"))})</span>: {_e(err.get("message"))}' + (
                    f"; check by hand: {_e(err['hint'])}" if err.get("hint") else ""
                )
            else:
                head = _e(e.get("branch"))
            item = [f"<li><code>{_e(e['node'])}</code>{title}: {head} → <code>{_e(e.get('next'))}</code>"]
            if e.get("condition"):
                values = ", ".join(f"<code>{_e(k)}</code> = <code>{_e(v)}</code>" for k, v in e["values"].items())
                item.append(f"<br>condition <code>{_e(e['condition'])}</code>" + (f" with {values}" if values else ""))
            for p in e["probes"]:
                if p["node"] in shown:
                    item.append(f"<br>from <code>{_e(p['node'])}</code> (above): {_e(p['summary'])}")
                    continue
                shown.add(p["node"])
                cmd = f" (<code>{_e(p['command'])}</code>)" if p.get("command") else ""
                item.append(f"<br>from <code>{_e(p['node'])}</code>{cmd}: {_e(p['summary'])}")
                if p["lines"]:
                    item.append("<pre>" + _e("\n".join(p["lines"])) + "</pre>")
            out.append("".join(item) + "</li>")
        out.append("</ul>")
    out.append("</div><div><h3>Path walked</h3>")
    out.append(path_svg(w, f"f{i}"))
    out.append("</div></div></section>")
    return "\n".join(out)
