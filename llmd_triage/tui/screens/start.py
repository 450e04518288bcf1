"""The start screen: where am I, which trees exist, and what does a scan find (worst first)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from llmd_triage.engine.record import Walk
from llmd_triage.tui.render import severity_text, walk_verdict

if TYPE_CHECKING:
    from llmd_triage.tui.app import TriageApp


class StartScreen(Screen[None]):
    BINDINGS = [
        Binding("s", "scan", "Scan"),
        Binding("t", "pick", "Target"),
        Binding("slash", "pick", "Filter", show=False),
        Binding("enter", "open", "Open", show=False),
        Binding("tab", "app.focus_next", "Next pane", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.scan_walks: list[Walk] = []

    @property
    def tapp(self) -> TriageApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        s = self.tapp.session
        yield Header()
        where = Text()
        where.append("context ", style="dim")
        where.append(s.context, style="bold")
        if not s.is_snapshot:
            where.append("  cluster ", style="dim")
            where.append(s.server)
        where.append("  namespace ", style="dim")
        where.append(s.namespace or "all")
        if s.is_snapshot:
            where.append("  read-only snapshot", style="italic")
        yield Static(where, id="where")
        with Vertical(id="panes"):
            yield Static("Trees — Enter picks a target for one", classes="pane-title")
            trees = DataTable(id="trees", cursor_type="row", zebra_stripes=False)
            yield trees
            yield Static("Scan — s runs every tree's entry condition over llm-d pods and GPU nodes", id="scan-title")
            yield DataTable(id="findings", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        trees = self.query_one("#trees", DataTable)
        trees.add_columns("tree", "symptom")
        for t in sorted(self.tapp.session.trees.values(), key=lambda t: t.id):
            trees.add_row(t.id, " ".join(t.symptom.split()), key=t.id)
        findings = self.query_one("#findings", DataTable)
        findings.add_columns("sev", "target", "tree", "verdict")
        findings.focus()
        if self.tapp.scan_on_start:
            self.action_scan()

    def action_scan(self) -> None:
        self.query_one("#scan-title", Static).update("Scan — running…")
        self.run_worker(self._scan(), group="scan", exclusive=True)

    async def _scan(self) -> None:
        table = self.query_one("#findings", DataTable)
        table.clear()
        self.scan_walks = []
        result = await self.tapp.session.scan()
        self.scan_walks = result.walks
        for i, w in enumerate(result.walks):
            leaf = w.leaf
            sev = severity_text(leaf.severity if leaf else "info") if (leaf and leaf.is_finding) else Text("ok", "dim")
            if leaf is None:
                sev = Text("?", style="bold")
            target = f"{w.target['kind']}/{w.target['name']}"
            table.add_row(sev, target, w.tree, walk_verdict(w), key=str(i))
        found = sum(1 for w in result.walks if w.leaf and w.leaf.is_finding)
        self.query_one("#scan-title", Static).update(
            f"Scan — {found} finding(s) over {result.targets} target(s), {len(result.walks)} walk(s); Enter opens one"
        )
        if result.walks:
            table.focus()

    def action_open(self) -> None:
        focused = self.focused
        if isinstance(focused, DataTable) and focused.id == "findings" and self.scan_walks:
            row = focused.cursor_row
            if 0 <= row < len(self.scan_walks):
                self.tapp.open_walk_record(self.scan_walks[row])
        elif isinstance(focused, DataTable) and focused.id == "trees" and focused.row_count:
            tree_id = focused.coordinate_to_cell_key(focused.cursor_coordinate).row_key.value
            self.tapp.pick_target(tree_id=tree_id)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_pick(self) -> None:
        self.tapp.pick_target()
