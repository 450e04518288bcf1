"""Frozen dataclasses for a loaded tree. They are what the engine walks and what lint reads;
positions travel with them so that any later complaint can still point at file:line:col."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from llmd_triage.errors import Location
from llmd_triage.tree.conditions import Condition
from llmd_triage.tree.templating import Template

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
OUTCOMES: tuple[str, ...] = ("fix", "escalate", "inconclusive", "healthy")
TARGET_KINDS: tuple[str, ...] = ("pod", "node", "workload")


def severity_rank(severity: str) -> int:
    """Higher is worse; unknown severities sort below info."""
    try:
        return len(SEVERITIES) - SEVERITIES.index(severity)
    except ValueError:
        return 0


@dataclass(frozen=True)
class Reference:
    title: str
    url: str | None = None


@dataclass(frozen=True)
class Branch:
    condition: Condition
    goto: str
    label: str | None
    location: Location


@dataclass(frozen=True)
class Node:
    id: str
    location: Location
    title: str | None

    kind: Literal["probe", "decision", "leaf"] = field(init=False, default="probe")

    def successors(self) -> list[tuple[str, str]]:
        """(target id, edge label) pairs, in walk order."""
        return []


@dataclass(frozen=True)
class ProbeNode(Node):
    probe: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    bind: str = ""
    next: str = ""
    timeout: float | None = None
    #: templates found in params, keyed by the dotted path of the parameter
    param_templates: dict[str, Template] = field(default_factory=dict)

    kind: Literal["probe", "decision", "leaf"] = field(init=False, default="probe")

    def successors(self) -> list[tuple[str, str]]:
        return [(self.next, "next")]


@dataclass(frozen=True)
class DecisionNode(Node):
    branches: tuple[Branch, ...] = ()
    default: str | None = None
    unknown: str | None = None

    kind: Literal["probe", "decision", "leaf"] = field(init=False, default="decision")

    def successors(self) -> list[tuple[str, str]]:
        out = [(b.goto, f"branch {i}") for i, b in enumerate(self.branches, 1)]
        if self.default:
            out.append((self.default, "default"))
        if self.unknown:
            out.append((self.unknown, "unknown"))
        return out


@dataclass(frozen=True)
class Step:
    do: Template
    run: Template | None = None


ACTION_KINDS: tuple[str, ...] = ("cordon", "uncordon", "drain", "delete-pod")


@dataclass(frozen=True)
class Action:
    """A remediation a leaf offers, by kind: the engine renders it, a person confirms it, the cluster layer runs it."""

    kind: str
    target: Template
    namespace: Template | None = None
    title: Template | None = None


@dataclass(frozen=True)
class Leaf(Node):
    outcome: str = "fix"
    severity: str = "info"
    verdict: Template = field(default_factory=lambda: Template.literal(""))
    why: Template = field(default_factory=lambda: Template.literal(""))
    steps: tuple[Step, ...] = ()
    escalation: Template | None = None
    handover: str | None = None
    references: tuple[Reference, ...] = ()
    actions: tuple[Action, ...] = ()

    kind: Literal["probe", "decision", "leaf"] = field(init=False, default="leaf")

    @property
    def is_finding(self) -> bool:
        """A leaf that reports something wrong (as opposed to healthy / could not tell)."""
        return self.outcome in ("fix", "escalate")


@dataclass(frozen=True)
class Tree:
    id: str
    title: str
    symptom: str
    applies_to: tuple[str, ...]
    nodes: dict[str, Node]
    start: str
    source: str
    entry: Condition | None = None
    references: tuple[Reference, ...] = ()
    #: where each top-level key and node field sits, for lint messages
    positions: Any = None

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    @property
    def leaves(self) -> list[Leaf]:
        return [n for n in self.nodes.values() if isinstance(n, Leaf)]
