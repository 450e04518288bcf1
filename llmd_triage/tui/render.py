"""Text for the screens, built from engine records: pure functions, so they are tested without a terminal."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from llmd_triage.engine.record import StepRecord, Walk
from llmd_triage.tree.model import DecisionNode, Leaf, ProbeNode, Tree

SEVERITY_LABEL = {"critical": "CRIT", "high": "HIGH", "medium": "MED", "low": "LOW", "info": "info"}
#: bold and a word first, colour second: readable on light and dark terminals and without colour at all
SEVERITY_STYLE = {"critical": "bold red", "high": "bold dark_orange", "medium": "bold", "low": "", "info": "dim"}
STATUS_ICON = {"ok": "✔", "unknown": "?", "manual": "✋", "running": "▶", "pending": "·"}


def severity_text(severity: str) -> Text:
    return Text(SEVERITY_LABEL.get(severity, severity), style=SEVERITY_STYLE.get(severity, ""))


def walk_verdict(w: Walk) -> str:
    if w.leaf is None:
        return f"no verdict: {w.reason or 'the walk did not reach a leaf'}"
    return w.leaf.verdict


def node_kind_icon(tree: Tree, node_id: str) -> str:
    node = tree.nodes.get(node_id)
    if isinstance(node, ProbeNode):
        return "◇"
    if isinstance(node, DecisionNode):
        return "◆"
    if isinstance(node, Leaf):
        return "■"
    return "○"


def step_line(step: StepRecord, width: int = 200) -> Text:
    icon = STATUS_ICON.get(step.status, "·")
    style = {"unknown": "bold", "manual": "italic"}.get(step.status, "")
    t = Text()
    t.append(f"{icon} ", style=style)
    t.append(step.node, style="bold" if step.kind == "leaf" else "")
    if step.elapsed_ms:
        t.append(f"  {step.elapsed_ms / 1000:.2f}s", style="dim")
    summary = step.summary or (step.title or "")
    if summary:
        t.append(f"  {summary.splitlines()[0][:width]}", style="dim" if step.status == "ok" else "")
    return t


def decided_by(walk: Walk, step: StepRecord) -> dict[str, Any]:
    """The values of later decisions that read this probe's binding: what made them branch the way they did."""
    if not step.bind:
        return {}
    out: dict[str, Any] = {}
    for s in walk.steps:
        for k, v in (s.values or {}).items():
            if k == step.bind or k.startswith(step.bind + "."):
                out[k] = v
    return out


def highlighted_evidence(step: StepRecord, values: dict[str, Any]) -> list[tuple[str, bool]]:
    """Evidence lines, each marked when it shows a value a decision used (a number, a reason, a state)."""
    needles = [n for n in _scalars(list(values.values())) if len(n) >= 2]
    return [(line, any(n in line for n in needles)) for line in step.evidence]


def _scalars(value: Any, limit: int = 200) -> list[str]:
    """The strings and numbers inside a value (lists and maps of parsed evidence), as text to look for."""
    out: list[str] = []
    stack = [value]
    while stack and len(out) < limit:
        v = stack.pop()
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, (str, int, float)):
            out.append(str(v))
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    return out


def evidence_text(walk: Walk, step: StepRecord) -> Text:
    """Everything about one step, for the evidence view; the lines that decided a branch stand out."""
    t = Text()
    t.append(f"{step.node}", style="bold")
    if step.title:
        t.append(f" — {step.title}")
    t.append(f"\nstatus: {step.status}   kind: {step.kind}   {step.elapsed_ms / 1000:.2f}s\n")
    if step.probe:
        t.append(f"probe: {step.probe}   bound as: {step.bind}\n")
    if step.params:
        t.append(f"params: {step.params}\n", style="dim")
    if step.command:
        t.append("command: ", style="bold")
        t.append(f"{step.command}\n")
    if step.summary:
        t.append(f"\n{step.summary}\n")
    if step.error:
        t.append(f"\n{step.error.get('kind', 'error')}: {step.error.get('message', '')}\n", style="bold")
        if step.error.get("hint"):
            t.append(f"check by hand: {step.error['hint']}\n")
    if step.kind == "decision":
        if step.branch:
            t.append(f"\nbranch taken: {step.branch} -> {step.next}\n", style="bold")
        if step.condition:
            t.append("condition:\n", style="bold")
            t.append(f"  {step.condition}\n")
        if step.values:
            t.append("with the values:\n", style="bold")
            for k, v in step.values.items():
                t.append(f"  {k} = ", style="bold")
                t.append(f"{_short(v)}\n", style="reverse")
    used = decided_by(walk, step)
    if used:
        t.append("\nvalues of this step the walk decided on:\n", style="bold")
        for k, v in used.items():
            t.append(f"  {k} = ", style="bold")
            t.append(f"{_short(v)}\n", style="reverse")
    marks = highlighted_evidence(step, used)
    if marks:
        t.append("\nevidence (marked ▌ where a decision used the value):\n", style="bold")
        for line, hit in marks:
            t.append("▌ " if hit else "  ", style="bold")
            t.append(line + "\n", style="reverse" if hit else "")
    return t


def _short(v: Any, limit: int = 300) -> str:
    s = repr(v) if not isinstance(v, str) else v
    return s if len(s) <= limit else s[: limit - 1] + "…"


def fix_text(walk: Walk, dashboard: str | None) -> Text:
    """Verdict, why, escalation and references of the walk's leaf; steps are a list of their own."""
    t = Text()
    leaf = walk.leaf
    if leaf is None:
        t.append("No verdict. ", style="bold")
        t.append(walk.reason or "The walk did not reach a leaf: check the unknown steps by hand.")
        return t
    t.append_text(severity_text(leaf.severity))
    t.append(f"  {leaf.outcome}  ", style="dim")
    t.append(f"{leaf.verdict}\n\n", style="bold")
    t.append("Why: ", style="bold")
    t.append(f"{leaf.why}\n")
    if leaf.escalation:
        t.append("\nEscalate: ", style="bold")
        t.append(f"{leaf.escalation}\n")
    if leaf.handover:
        t.append(f"\nNext tree: {leaf.handover}\n", style="bold")
    if walk.status != "complete":
        t.append(f"\nThe walk is {walk.status}: it went through unknown steps; check them by hand.\n", style="bold")
    if leaf.references:
        t.append("\nReferences:\n", style="bold")
        for r in leaf.references:
            t.append(f"  {r.get('title')}" + (f"  {r['url']}" if r.get("url") else "") + "\n")
    if dashboard:
        t.append("\nGrafana: ", style="bold")
        t.append(dashboard + "\n")
    return t
