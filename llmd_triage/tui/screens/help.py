"""Keys, the k9s way."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
Everywhere
  :          command palette (scan, target, walk TREE, help, light/dark, quit)
  ?          this help
  esc        back (and cancel the probes of the screen you leave)
  q          quit
  ctrl+t     light / dark theme
Start
  s          scan: every tree's entry condition over llm-d pods and GPU nodes
  t  /       pick a target (pods, nodes, llm-d resources; fuzzy filter)
  enter      open a finding, or pick a target for a tree
Walk
  enter      the evidence of a step, with the values that decided it
  r          retry an unknown step
  b          choose the branch of an unknown decision by hand (recorded)
  f          the fix
  e          export the walk as Markdown and JSON
  n  !       nvtop / a shell in the node's GPU pod (kubectl exec -it)
Fix
  c          copy the selected step's command (OSC 52)
  a          run the selected action: dry run, typed confirmation, audit log
  e  n       export, nvtop
Probes run in the background: the screen never waits on the cluster."""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "Back"), Binding("question_mark", "dismiss", "Back", show=False)]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide"):
            yield Static(HELP, id="help-text")
