"""One step in full: what ran, what it read, and the values that decided the branch."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from llmd_triage.engine.record import StepRecord, Walk
from llmd_triage.tui.render import evidence_text


class EvidenceScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Back"),
        Binding("enter", "dismiss", "Back", show=False),
        Binding("c", "copy", "Copy command"),
    ]

    def __init__(self, walk: Walk, step: StepRecord) -> None:
        super().__init__()
        self.walk_record = walk
        self.step = step

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide", id="evidence-scroll"):
            yield Static(evidence_text(self.walk_record, self.step), id="evidence")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#evidence-scroll").focus()

    def action_copy(self) -> None:
        if self.step.command:
            self.app.copy_to_clipboard(self.step.command)
            self.notify("command copied (OSC 52)")
        else:
            self.notify("this step ran no command", severity="warning")
