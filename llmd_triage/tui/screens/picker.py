"""Pickers: a fuzzy-filtered target list (pods, nodes, llm-d resources) and small choice lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from llmd_triage.tui.session import Candidate, fuzzy_score

if TYPE_CHECKING:
    from llmd_triage.tui.app import TriageApp


class TargetPicker(Screen[Candidate | None]):
    """Type to filter (fzf-like); Enter picks; Esc goes back."""

    BINDINGS = [
        Binding("escape", "cancel", "Back"),
        Binding("down", "down", "Down", show=False),
        Binding("up", "up", "Up", show=False),
    ]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.heading = title
        self.candidates: list[Candidate] = []
        self.shown: list[Candidate] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.heading, classes="pane-title")
        yield Input(placeholder="filter: pods, nodes, lws, deploy … (fuzzy)", id="filter")
        yield OptionList(id="candidates")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).focus()
        self.run_worker(self._load(), group="load", exclusive=True)

    async def _load(self) -> None:
        tapp: TriageApp = self.app  # type: ignore[assignment]
        try:
            self.candidates = await tapp.session.candidates()
        except Exception as exc:  # a cluster error must not end the app: say it and stay
            self.notify(f"could not list targets: {exc}", severity="error")
            self.candidates = []
        self._refilter(self.query_one("#filter", Input).value)

    def _refilter(self, query: str) -> None:
        scored = []
        for i, c in enumerate(self.candidates):
            score = fuzzy_score(query.strip(), c.label)
            if score is not None:
                scored.append((score, i, c))
        scored.sort(key=lambda x: (x[0], x[1]))
        self.shown = [c for _, _, c in scored]
        ol = self.query_one("#candidates", OptionList)
        ol.clear_options()
        for c in self.shown:
            label = Text(c.label)
            label.append(f"  {c.detail}", style="dim")
            if c.target is None:
                label.append("  (listed only)", style="italic dim")
            ol.add_option(Option(label))
        if self.shown:
            ol.highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._refilter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._pick(self.query_one("#candidates", OptionList).highlighted)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._pick(event.option_index)

    def _pick(self, index: int | None) -> None:
        if index is None or not (0 <= index < len(self.shown)):
            return
        chosen = self.shown[index]
        if chosen.target is None:
            self.notify(f"{chosen.label} is listed for reference; pick a pod, node or workload", severity="warning")
            return
        self.dismiss(chosen)

    def action_down(self) -> None:
        self.query_one("#candidates", OptionList).action_cursor_down()

    def action_up(self) -> None:
        self.query_one("#candidates", OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceScreen(ModalScreen[str | None]):
    """Pick one of a few labelled values (a tree for a target, a branch for an unknown decision)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        self.heading = title
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.heading, classes="pane-title")
            yield OptionList(*[Option(label, id=value) for value, label in self.choices], id="choices")
            yield Static("Enter choose · Esc cancel", classes="hint")

    def on_mount(self) -> None:
        ol = self.query_one("#choices", OptionList)
        ol.focus()
        ol.highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
