"""Keys, the k9s way."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
Everywhere        :  command palette     ?  this help     esc  back     q  quit     ctrl+t  light/dark
Start             s  scan the install    t or /  pick a target (fuzzy)     enter  open a finding or a tree
Walk              enter  evidence of a step     r  retry an unknown step     b  choose a branch by hand
                  f  the fix     e  export Markdown + JSON     n  nvtop on the node     !  shell on the node
Fix               c  copy the selected command (OSC 52)     a  run an action (typed confirmation)
                  e  export     n  nvtop on the node
Probes run in the background: the screen never waits on the cluster; esc cancels a walk in flight."""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "Back"), Binding("question_mark", "dismiss", "Back", show=False)]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide"):
            yield Static(HELP, id="help-text")
