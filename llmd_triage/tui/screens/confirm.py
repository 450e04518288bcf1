"""A typed confirmation: the exact command first, then `yes` (or the target's name for a dangerous action)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from llmd_triage.engine.actions import ActionPlan


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, plan: ActionPlan) -> None:
        super().__init__()
        self.plan = plan
        self.expected = plan.name if plan.dangerous else "yes"

    def compose(self) -> ComposeResult:
        p = self.plan
        t = Text()
        if p.dangerous:
            t.append("DANGEROUS  ", style="bold reverse")
        t.append(f"{p.title}\n\n")
        t.append("This runs, after a server-side dry run, the equivalent of:\n")
        t.append(f"  {p.command}\n\n", style="bold")
        t.append(f"Type {self.expected!r} and press Enter to run it; Esc cancels. It is written to the audit log.")
        with Vertical(classes="dialog"):
            yield Static(t, id="confirm-text")
            yield Input(placeholder=self.expected, id="confirm-input")
            yield Static("", id="confirm-error")

    def on_mount(self) -> None:
        self.query_one("#confirm-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip() == self.expected:
            self.dismiss(True)
        else:
            self.query_one("#confirm-error", Static).update(
                Text(f"that is not {self.expected!r}: nothing was run", style="bold")
            )

    def action_cancel(self) -> None:
        self.dismiss(False)
