"""A tree as a networkx DiGraph (what lint reasons over), and drawn as Mermaid or Graphviz dot."""

from __future__ import annotations

import networkx as nx

from llmd_triage.tree.model import DecisionNode, Leaf, ProbeNode, Tree

SEVERITY_COLOURS = {
    "critical": "#d32f2f",
    "high": "#f57c00",
    "medium": "#fbc02d",
    "low": "#1976d2",
    "info": "#9e9e9e",
}


def to_digraph(tree: Tree) -> nx.DiGraph:
    g = nx.DiGraph(tree=tree.id, start=tree.start)
    for node in tree.nodes.values():
        attrs = {"kind": node.kind, "title": node.title or node.id}
        if isinstance(node, Leaf):
            attrs.update(severity=node.severity, outcome=node.outcome)
        if isinstance(node, ProbeNode):
            attrs.update(probe=node.probe, bind=node.bind)
        g.add_node(node.id, **attrs)
    for node in tree.nodes.values():
        for target, label in node.successors():
            if target in tree.nodes:
                if g.has_edge(node.id, target):
                    g.edges[node.id, target]["label"] += f", {_edge_label(node, label)}"
                else:
                    g.add_edge(node.id, target, label=_edge_label(node, label))
    return g


def _edge_label(node: object, label: str) -> str:
    if isinstance(node, DecisionNode) and label.startswith("branch "):
        b = node.branches[int(label.split()[1]) - 1]
        return b.label or b.condition.source
    return label


def _esc(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace('"', "'")


def to_mermaid(tree: Tree, highlight: list[str] | None = None) -> str:
    g = to_digraph(tree)
    ids = {n: f"n{i}" for i, n in enumerate(g.nodes)}
    lines = ["flowchart TD"]
    for n, a in g.nodes(data=True):
        label = _esc(f"{n}: {a['title']}" if a["title"] != n else n)
        if a["kind"] == "decision":
            lines.append(f'  {ids[n]}{{"{label}"}}')
        elif a["kind"] == "leaf":
            lines.append(f'  {ids[n]}(["{label} [{a["severity"]}]"])')
        else:
            lines.append(f'  {ids[n]}["{label}"]')
    for u, v, a in g.edges(data=True):
        lines.append(f'  {ids[u]} -->|"{_esc(a["label"], 40)}"| {ids[v]}')
    for sev, colour in SEVERITY_COLOURS.items():
        lines.append(f"  classDef {sev} fill:{colour},color:#000")
    for n, a in g.nodes(data=True):
        if a["kind"] == "leaf":
            lines.append(f"  class {ids[n]} {a['severity']}")
    if highlight:
        lines.append("  classDef walked stroke:#000,stroke-width:4px")
        lines.extend(f"  class {ids[n]} walked" for n in highlight if n in ids)
    return "\n".join(lines) + "\n"


def to_dot(tree: Tree, highlight: list[str] | None = None) -> str:
    g = to_digraph(tree)
    walked = set(highlight or [])
    lines = [f'digraph "{tree.id}" {{', "  rankdir=TB;", '  node [fontname="Helvetica"];']
    for n, a in g.nodes(data=True):
        label = _esc(f"{n}\\n{a['title']}" if a["title"] != n else n)
        extra = ", penwidth=3" if n in walked else ""
        if a["kind"] == "decision":
            lines.append(f'  "{n}" [shape=diamond, label="{label}"{extra}];')
        elif a["kind"] == "leaf":
            colour = SEVERITY_COLOURS.get(a["severity"], "#ffffff")
            lines.append(
                f'  "{n}" [shape=box, style="rounded,filled", fillcolor="{colour}", '
                f'label="{label}\\n[{a["severity"]}]"{extra}];'
            )
        else:
            lines.append(f'  "{n}" [shape=box, label="{label}"{extra}];')
    for u, v, a in g.edges(data=True):
        lines.append(f'  "{u}" -> "{v}" [label="{_esc(a["label"], 40)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
