"""The walk: the tree as an outline with the taken path marked, each step live while its probe runs."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static, Tree
from textual.widgets.option_list import Option

from llmd_triage.cluster.base import TargetRef
from llmd_triage.engine.record import StepRecord, Walk
from llmd_triage.engine.walk import Recorded
from llmd_triage.tree.model import DecisionNode
from llmd_triage.tree.model import Tree as TriageTree
from llmd_triage.tui.render import STATUS_ICON, node_kind_icon, severity_text, step_line

if TYPE_CHECKING:
    from llmd_triage.tui.app import TriageApp

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class WalkScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("f", "fix", "Fix"),
        Binding("r", "retry", "Retry step"),
        Binding("b", "branch", "Branch by hand"),
        Binding("e", "export", "Export"),
        Binding("n", "node('nvtop')", "nvtop"),
        Binding("exclamation_mark", "node('shell')", "Shell", show=False),
        Binding("tab", "app.focus_next", "Next pane", show=False),
    ]

    def __init__(self, tree: TriageTree, target: TargetRef, walk: Walk | None = None) -> None:
        super().__init__()
        self.ttree = tree
        self.target = target
        self.walk: Walk | None = walk
        self.steps: list[StepRecord] = list(walk.steps) if walk else []
        self.results: dict[str, Recorded] = {}
        self.choices: dict[str, str] = {}
        self.running: tuple[str, str | None, float] | None = None
        self.walking = False
        self._shown_steps = 0
        self._running_shown = False
        self._dirty = False

    @property
    def tapp(self) -> TriageApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="walk-title")
        with Horizontal(id="walk-panes"):
            yield Tree(self.ttree.title, id="outline")
            yield OptionList(id="steps")
        yield Static(id="verdict")
        yield Footer()

    def on_mount(self) -> None:
        self._render_all()
        self.query_one("#steps", OptionList).focus()
        self.set_interval(0.04, self._tick)
        if self.walk is None:
            self.start_walk()

    # ------------------------------------------------------------------ walking
    def start_walk(self, recorded: dict[str, Recorded] | None = None) -> None:
        self.walk, self.steps, self.running, self.walking = None, [], None, True
        self._render_all()
        self.run_worker(self._walk(recorded), group="walk", exclusive=True, exit_on_error=False)

    async def _walk(self, recorded: dict[str, Recorded] | None) -> None:
        results: dict[str, Recorded] = {}
        try:
            w = await self.tapp.session.walk(
                self.ttree,
                self.target,
                on_step=self._on_step,
                on_start=self._on_start,
                choices=dict(self.choices),
                recorded=recorded,
                results=results,
            )
        except Exception as exc:  # the engine turns failures into data; anything else is a bug to show, not crash
            self.walking = False
            self.running = None
            self.notify(f"walk failed: {type(exc).__name__}: {exc}", severity="error")
            self._render_all()
            return
        self.results = {**(recorded or {}), **results}
        self.walk, self.walking, self.running = w, False, None
        self._dirty = True
        self._flush()
        self._render_title()
        self._render_verdict()
        if w.leaf is not None:
            self.query_one("#steps", OptionList).highlighted = len(self.steps) - 1

    def _on_start(self, node_id: str, kind: str, title: str | None) -> None:
        self.running = (node_id, title, time.monotonic())
        self._dirty = True

    def _on_step(self, step: StepRecord) -> None:
        """Only record: `_flush` draws what arrived, at most every 40 ms, so a burst of fast steps (a cache, a
        snapshot) costs one redraw instead of one per step, and keys are read in between."""
        self.running = None
        self.steps.append(step)
        self._dirty = True

    def _flush(self) -> None:
        if not getattr(self, "_dirty", False):
            return
        self._dirty = False
        ol = self.query_one("#steps", OptionList)
        shown = self._shown_steps
        if self._running_shown:
            ol.remove_option("running")
            self._running_shown = False
        new = self.steps[shown:]
        if new:
            ol.add_options([Option(step_line(st), id=f"s{shown + i}") for i, st in enumerate(new)])
            self._shown_steps = len(self.steps)
            for st in new:
                self._mark_outline(st.node, st.status, st.next)
        if self.running is not None:
            ol.add_option(Option(self._running_text(), id="running"))
            self._running_shown = True
            self._mark_outline(self.running[0], "running")
        if self.walking:
            ol.highlighted = ol.option_count - 1

    def _tick(self) -> None:
        self._flush()
        if self.running is not None and self._running_shown:
            self._render_running_row()

    # ------------------------------------------------------------------ rendering
    def _render_all(self) -> None:
        self._render_title()
        self._build_outline()
        self._render_steps()
        self._render_verdict()

    def _render_title(self) -> None:
        t = Text()
        t.append(self.ttree.title, style="bold")
        t.append(f" on {self.target.ref}")
        if self.target.namespace:
            t.append(f" -n {self.target.namespace}", style="dim")
        status = "walking…" if self.walking else (self.walk.status if self.walk else "")
        if status:
            t.append(f"  [{status}]", style="italic")
        if self.choices:
            t.append(f"  manual: {', '.join(f'{k}→{v}' for k, v in self.choices.items())}", style="italic")
        self.query_one("#walk-title", Static).update(t)

    def _node_label(self, node_id: str, status: str | None) -> Text:
        icon = STATUS_ICON.get(status, " ") if status else " "
        label = Text(f"{icon} {node_kind_icon(self.ttree, node_id)} {node_id}")
        label.stylize("bold reverse" if status == "running" else ("bold" if status else "dim"))
        return label

    def _build_outline(self) -> None:
        """Every node once, decisions with their branches under them; later steps only relabel."""
        outline: Tree[str] = self.query_one("#outline", Tree)  # type: ignore[assignment]
        outline.clear()
        self._outline: dict[str, Any] = {}
        self._branches: dict[tuple[str, str], Any] = {}
        for node_id, node in self.ttree.nodes.items():
            branches: list[tuple[str, str]] = []
            if isinstance(node, DecisionNode):
                branches = [(b.goto, b.label or f"branch {i}") for i, b in enumerate(node.branches, 1)]
                if node.default:
                    branches.append((node.default, "default"))
                if node.unknown:
                    branches.append((node.unknown, "unknown"))
            if branches:
                parent = outline.root.add(self._node_label(node_id, None), data=node_id, expand=False)
                for goto, blabel in branches:
                    self._branches[(node_id, goto)] = parent.add_leaf(Text(f"→ {goto}  ({blabel})", style="dim"))
                self._outline[node_id] = parent
            else:
                self._outline[node_id] = outline.root.add_leaf(self._node_label(node_id, None), data=node_id)
        outline.root.expand()
        for step in self.steps:
            self._mark_outline(step.node, step.status, step.next)

    def _mark_outline(self, node_id: str, status: str, goto: str | None = None) -> None:
        tnode = getattr(self, "_outline", {}).get(node_id)
        if tnode is None:
            return
        tnode.set_label(self._node_label(node_id, status))
        if goto is not None and (node_id, goto) in self._branches:
            tnode.expand()
            branch = self._branches[(node_id, goto)]
            branch.set_label(Text(str(branch.label), style="bold"))

    def _render_steps(self) -> None:
        ol = self.query_one("#steps", OptionList)
        keep = ol.highlighted
        ol.clear_options()
        ol.add_options([Option(step_line(s), id=f"s{i}") for i, s in enumerate(self.steps)])
        self._shown_steps, self._running_shown, self._dirty = len(self.steps), False, False
        if self.running is not None:
            ol.add_option(Option(self._running_text(), id="running"))
            self._running_shown = True
        if self.steps or self.running:
            last = len(self.steps) - (0 if self.running else 1)
            ol.highlighted = keep if (keep is not None and not self.walking) else max(0, last)
        self._render_title()

    def _running_text(self) -> Text:
        assert self.running is not None
        node_id, title, started = self.running
        elapsed = time.monotonic() - started
        spin = SPINNER[int(elapsed * 10) % len(SPINNER)]
        t = Text(f"{spin} {node_id}", style="bold")
        t.append(f"  {elapsed:.1f}s", style="dim")
        if title:
            t.append(f"  {title}", style="italic")
        return t

    def _render_running_row(self) -> None:
        ol = self.query_one("#steps", OptionList)
        try:
            idx = ol.get_option_index("running")
        except Exception:
            return
        ol.replace_option_prompt_at_index(idx, self._running_text())

    def _render_verdict(self) -> None:
        v = self.query_one("#verdict", Static)
        w = self.walk
        if w is None:
            v.update(Text("walking… Esc cancels" if self.walking else ""))
            return
        t = Text()
        if w.leaf:
            t.append_text(severity_text(w.leaf.severity))
            t.append(f" {w.leaf.verdict}", style="bold")
            t.append("   f: the fix", style="dim")
        else:
            t.append(f"no verdict: {w.reason}", style="bold")
        if w.unknown_steps:
            t.append(f"   {len(w.unknown_steps)} unknown step(s): r retries, b picks a branch by hand", style="italic")
        v.update(t)

    # ------------------------------------------------------------------ actions
    def _selected_step(self) -> StepRecord | None:
        idx = self.query_one("#steps", OptionList).highlighted
        if idx is None or idx >= len(self.steps):
            return None
        return self.steps[idx]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        step = self._selected_step()
        if step is None:
            return
        if step.kind == "leaf":
            self.action_fix()
            return
        from llmd_triage.tui.screens.evidence import EvidenceScreen

        self.app.push_screen(EvidenceScreen(self.walk or self._partial_walk(), step))

    def _partial_walk(self) -> Walk:
        return Walk(
            self.ttree.id, self.ttree.title, self.target.as_dict(), self.tapp.session.cluster.name, "", self.steps
        )

    def action_fix(self) -> None:
        if self.walk is None or self.walk.leaf is None:
            self.notify("no verdict yet", severity="warning")
            return
        self.tapp.open_fix(self.walk)

    def action_retry(self) -> None:
        if self.walking:
            return
        step = self._selected_step()
        unknown = [s for s in self.steps if s.status == "unknown"]
        if step is None or step.status != "unknown":
            step = unknown[0] if unknown else None
        if step is None:
            self.notify("no unknown step to retry", severity="information")
            return
        # keep what every other probe read; run the chosen one (and everything after it that is not recorded) again
        recorded = {k: v for k, v in self.results.items() if k != step.node}
        self.choices.pop(step.node, None)
        self.start_walk(recorded)

    def action_branch(self) -> None:
        if self.walking:
            return
        step = self._selected_step()
        if step is None or step.kind != "decision":
            decisions = [s for s in self.steps if s.kind == "decision" and s.status == "unknown"]
            step = decisions[0] if decisions else None
        if step is None:
            self.notify("select a decision step to choose its branch by hand", severity="information")
            return
        node = self.ttree.nodes[step.node]
        assert isinstance(node, DecisionNode)
        options: list[tuple[str, str]] = []
        for i, b in enumerate(node.branches, 1):
            options.append((b.goto, f"{b.label or f'branch {i}'} → {b.goto}"))
        if node.default:
            options.append((node.default, f"default → {node.default}"))
        from llmd_triage.tui.screens.picker import ChoiceScreen

        def chosen(goto: str | None) -> None:
            if goto:
                self.choices[step.node] = goto
                self.start_walk(dict(self.results))

        self.app.push_screen(
            ChoiceScreen(f"{step.node}: which branch holds? (recorded as a manual choice)", options), chosen
        )

    def action_export(self) -> None:
        if self.walk is None:
            self.notify("nothing to export yet", severity="warning")
            return
        self.tapp.export([self.walk])

    def action_node(self, tool: str) -> None:
        self.tapp.into_node(self.walk or self._partial_walk(), tool)

    def action_back(self) -> None:
        self.workers.cancel_group(self, "walk")
        self.app.pop_screen()
