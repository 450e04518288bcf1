"""What a walk leaves behind: the one structure every renderer (TUI, Markdown, JSON) reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

WALK_SCHEMA_VERSION = 1


@dataclass
class StepRecord:
    """One node visited. `status`: ok, unknown (could not evaluate) or manual (a person chose)."""

    node: str
    kind: str  # target | probe | decision | leaf
    title: str | None = None
    status: str = "ok"
    elapsed_ms: float = 0.0
    # probe steps
    probe: str | None = None
    params: dict[str, Any] | None = None
    bind: str | None = None
    summary: str = ""
    evidence: list[str] = field(default_factory=list)
    command: str | None = None
    # decision steps
    condition: str | None = None
    branch: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    # every step
    next: str | None = None
    error: dict[str, str] | None = None


@dataclass
class StepText:
    do: str
    run: str | None = None


@dataclass
class LeafResult:
    id: str
    outcome: str
    severity: str
    verdict: str
    why: str
    steps: list[StepText] = field(default_factory=list)
    escalation: str | None = None
    handover: str | None = None
    references: list[dict[str, str | None]] = field(default_factory=list)
    #: remediation actions on offer (engine.actions.ActionPlan as dicts); run only when a person confirms
    actions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_finding(self) -> bool:
        return self.outcome in ("fix", "escalate")


@dataclass
class Walk:
    tree: str
    tree_title: str
    target: dict[str, Any]
    cluster: str
    started_at: str
    steps: list[StepRecord] = field(default_factory=list)
    leaf: LeafResult | None = None
    #: complete: reached a leaf with every step known; partial: reached a leaf through unknown steps;
    #: unknown: no leaf (walk deadline, or no route from an unknown step)
    status: str = "unknown"
    reason: str | None = None
    elapsed_ms: float = 0.0

    @property
    def path(self) -> list[str]:
        return [s.node for s in self.steps if s.kind != "target"]

    @property
    def unknown_steps(self) -> list[StepRecord]:
        return [s for s in self.steps if s.status == "unknown"]

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["schema_version"] = WALK_SCHEMA_VERSION
        d["path"] = self.path
        return d
