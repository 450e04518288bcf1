"""The fix: verdict, why, numbered steps ready to copy, references, the dashboard, and confirmed actions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from llmd_triage.engine.actions import ActionPlan
from llmd_triage.engine.record import Walk
from llmd_triage.tui.render import fix_text

if TYPE_CHECKING:
    from llmd_triage.tui.app import TriageApp


class FixScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("c", "copy", "Copy command"),
        Binding("a", "act", "Action"),
        Binding("e", "export", "Export"),
        Binding("n", "node('nvtop')", "nvtop"),
        Binding("tab", "app.focus_next", "Next pane", show=False),
    ]

    def __init__(self, walk: Walk) -> None:
        super().__init__()
        self.walk_record = walk
        self.plans = [ActionPlan(**a) for a in (walk.leaf.actions if walk.leaf else [])]

    @property
    def tapp(self) -> TriageApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        s = self.tapp.session
        yield Header()
        with VerticalScroll(id="fix-scroll"):
            yield Static(fix_text(self.walk_record, s.dashboard_url(self.walk_record)), id="fix-text")
        steps = OptionList(id="fix-steps")
        steps.border_title = "Steps — c copies the command"
        yield steps
        if self.plans and s.can_remediate:
            actions = OptionList(id="fix-actions")
            actions.border_title = "Actions — a runs one after you confirm it"
            yield actions
        elif self.plans:
            n = len(self.plans)
            note = f"{n} action(s) not offered on a snapshot"
            yield Static(Text(note, style="italic"), id="no-actions")
        yield Footer()

    def on_mount(self) -> None:
        steps = self.query_one("#fix-steps", OptionList)
        leaf = self.walk_record.leaf
        for i, st in enumerate(leaf.steps if leaf else [], 1):
            t = Text(f"{i}. ", style="bold")
            t.append(st.do)
            if st.run:
                t.append("\n   $ ", style="dim")
                t.append(st.run, style="bold")
            steps.add_option(Option(t))
        if steps.option_count:
            steps.highlighted = 0
        steps.focus()
        if self.query("#fix-actions"):
            actions = self.query_one("#fix-actions", OptionList)
            for p in self.plans:
                t = Text("DANGEROUS  " if p.dangerous else "", style="bold")
                t.append(p.title)
                t.append(f"\n   $ {p.command}", style="dim")
                actions.add_option(Option(t))
            actions.highlighted = 0

    def action_copy(self) -> None:
        leaf = self.walk_record.leaf
        idx = self.query_one("#fix-steps", OptionList).highlighted
        if leaf is None or idx is None or idx >= len(leaf.steps):
            return
        cmd = leaf.steps[idx].run
        if not cmd:
            self.notify("this step has no command", severity="warning")
            return
        self.app.copy_to_clipboard(cmd)
        self.notify(f"copied: {cmd[:60]}")

    def action_act(self) -> None:
        if not self.plans:
            self.notify("this fix offers no action", severity="information")
            return
        if not self.tapp.session.can_remediate:
            self.notify("actions are never offered on a snapshot", severity="warning")
            return
        idx = self.query_one("#fix-actions", OptionList).highlighted or 0
        self.tapp.confirm_action(self.walk_record, self.plans[idx])

    def action_export(self) -> None:
        self.tapp.export([self.walk_record])

    def action_node(self, tool: str) -> None:
        self.tapp.into_node(self.walk_record, tool)

    def action_back(self) -> None:
        self.app.pop_screen()
