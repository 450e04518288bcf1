"""The on-call app: screens over a `Session`. Probes run in workers; the app only routes and renders."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.command import Hit, Hits, Provider

from llmd_triage.cluster.base import TargetRef
from llmd_triage.engine.actions import ActionPlan
from llmd_triage.engine.record import Walk
from llmd_triage.tui.session import Candidate, Session


class TriageCommands(Provider):
    """`:` commands: the same verbs as the keys, findable by name."""

    async def search(self, query: str) -> Hits:
        app: TriageApp = self.app  # type: ignore[assignment]
        matcher = self.matcher(query)
        commands: list[tuple[str, Callable[[], Any], str]] = [
            ("scan", app.action_scan, "Run every tree's entry condition over llm-d pods and GPU nodes"),
            ("target", app.pick_target, "Pick a pod, node or llm-d resource (fuzzy filter)"),
            ("help", app.action_help, "Keys and what they do"),
            ("light/dark", app.action_toggle_theme, "Switch between the light and the dark theme"),
            ("quit", app.exit, "Leave llmd-triage"),
        ]
        for tree_id in sorted(app.session.trees):
            commands.append(
                (f"walk {tree_id}", partial(app.pick_target, tree_id=tree_id), app.session.trees[tree_id].title)
            )
        for name, callback, help_text in commands:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


class TriageApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "llmd-triage"
    COMMAND_PALETTE_BINDING = "colon"
    COMMANDS = App.COMMANDS | {TriageCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+t", "toggle_theme", "Light/dark", show=False),
    ]

    def __init__(
        self,
        session: Session,
        *,
        scan_on_start: bool = False,
        target: TargetRef | None = None,
        tree_id: str | None = None,
        run_interactive: Callable[[list[str]], int] | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.scan_on_start = scan_on_start
        self.initial_target = target
        self.initial_tree = tree_id
        #: how `n` runs kubectl exec -it once the app is suspended (tests swap it)
        self.run_interactive = run_interactive or subprocess.call
        self._custom_runner = run_interactive is not None
        theme = os.environ.get("LLMD_TRIAGE_THEME")
        if theme in ("light", "dark"):
            self.theme = f"textual-{theme}"
        self.sub_title = f"{session.context} · {session.namespace or 'all namespaces'}"

    def on_mount(self) -> None:
        import gc

        from llmd_triage.tui.screens.start import StartScreen

        # Trees, the Xid catalog, a snapshot and Textual itself live as long as the app: moving them out of the
        # collector's view keeps each full collection from pausing the UI for tens of milliseconds.
        gc.freeze()

        self.push_screen(StartScreen())
        if self.initial_target is not None:
            self._walk_target(self.initial_target, self.initial_tree)

    # ------------------------------------------------------------------ navigation
    def action_scan(self) -> None:
        from llmd_triage.tui.screens.start import StartScreen

        while len(self.screen_stack) > 2 and not isinstance(self.screen, StartScreen):
            self.pop_screen()
        if isinstance(self.screen, StartScreen):
            self.screen.action_scan()

    def pick_target(self, tree_id: str | None = None) -> None:
        from llmd_triage.tui.screens.picker import TargetPicker

        title = f"Target for {tree_id}" if tree_id else "Pick a target"

        def picked(c: Candidate | None) -> None:
            if c is not None and c.target is not None:
                self._walk_target(c.target, tree_id)

        self.push_screen(TargetPicker(title), picked)

    def _walk_target(self, target: TargetRef, tree_id: str | None) -> None:
        from llmd_triage.tui.screens.picker import ChoiceScreen

        if target.kind == "workload":  # a Deployment or a LeaderWorkerSet is walked through one of its pods
            self.run_worker(self._pick_workload_pod(target, tree_id), group="resolve", exit_on_error=False)
            return
        if tree_id:
            tree = self.session.trees.get(tree_id)
            if tree is None:
                self.notify(f"no tree {tree_id!r}", severity="error")
                return
            if target.kind not in tree.applies_to:
                self.notify(f"{tree_id} does not apply to a {target.kind}", severity="warning")
                return
            self.open_walk(tree.id, target)
            return
        trees = self.session.trees_for(target)
        if not trees:
            self.notify(f"no tree applies to a {target.kind}", severity="warning")
            return
        if len(trees) == 1:
            self.open_walk(trees[0].id, target)
            return

        def chosen(tid: str | None) -> None:
            if tid:
                self.open_walk(tid, target)

        self.push_screen(
            ChoiceScreen(f"Which tree for {target.ref}?", [(t.id, f"{t.id}: {t.title}") for t in trees]), chosen
        )

    async def _pick_workload_pod(self, target: TargetRef, tree_id: str | None) -> None:
        from llmd_triage.engine.targets import workload_pods
        from llmd_triage.tui.screens.picker import ChoiceScreen

        try:
            pods = await workload_pods(self.session.cluster, target)
        except Exception as exc:  # a cluster error: say it, stay where we are
            self.notify(f"cannot list the pods of {target.ref}: {exc}", severity="error")
            return
        if not pods:
            self.notify(f"{target.ref} has no pods", severity="warning")
            return
        by_name = {ref.name: ref for ref, _ in pods}

        def chosen(name: str | None) -> None:
            if name:
                self._walk_target(by_name[name], tree_id)

        choices = [(ref.name, f"{ref.name}  ({(obj.get('status') or {}).get('phase', '?')})") for ref, obj in pods]
        self.push_screen(ChoiceScreen(f"Which pod of {target.ref}?", choices), chosen)

    def open_walk(self, tree_id: str, target: TargetRef) -> None:
        from llmd_triage.tui.screens.walk import WalkScreen

        self.push_screen(WalkScreen(self.session.trees[tree_id], target))

    def open_walk_record(self, w: Walk) -> None:
        from llmd_triage.tui.screens.walk import WalkScreen

        t = w.target
        target = TargetRef(
            t["kind"], t["name"], t.get("namespace"), t.get("apiVersion", "v1"), t.get("resourceKind", "")
        )
        self.push_screen(WalkScreen(self.session.trees[w.tree], target, walk=w))

    def open_fix(self, w: Walk) -> None:
        from llmd_triage.tui.screens.fix import FixScreen

        self.push_screen(FixScreen(w))

    def action_help(self) -> None:
        from llmd_triage.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    # ------------------------------------------------------------------ side effects
    def export(self, walks: list[Walk]) -> None:
        try:
            md, js = self.session.export(walks)
        except OSError as exc:
            self.notify(f"export failed: {exc}", severity="error")
            return
        self.notify(f"wrote {md} and {js.name}", timeout=8)

    def into_node(self, w: Walk, tool: str) -> None:
        """Suspend, run nvtop (or a shell) in the node's GPU pod through kubectl exec -it, come back."""
        if self.session.is_snapshot:
            self.notify("a snapshot has no live node to open", severity="warning")
            return
        self.run_worker(self._into_node(w, tool), group="node", exclusive=True, exit_on_error=False)

    async def _into_node(self, w: Walk, tool: str) -> None:
        argv = await self.session.find_node_pod_command(w, tool)
        if argv is None:
            self.notify("no pod on this node can run it: see `llmd-triage toolbox status`", severity="warning")
            return
        if not self._custom_runner and shutil.which(argv[0]) is None:
            self.notify(f"{argv[0]} is not on PATH: run {' '.join(argv)}", severity="error")
            return
        from textual.app import SuspendNotSupported

        try:
            try:
                with self.suspend():
                    code = self.run_interactive(argv)
            except SuspendNotSupported:
                if not self._custom_runner:  # a headless or web driver: say what to run instead
                    raise
                code = self.run_interactive(argv)
        except Exception as exc:
            self.notify(f"could not open {tool}: {exc}; run: {' '.join(argv)}", severity="error")
            return
        self.notify(f"back from {tool} (exit {code})")

    def confirm_action(self, w: Walk, plan: ActionPlan) -> None:
        from llmd_triage.tui.screens.confirm import ConfirmScreen

        walk_target = f"{w.target['kind']}/{w.target['name']}"

        def decided(ok: bool | None) -> None:
            if not ok:
                self.session.cancelled_action(plan, walk_target)
                self.notify("cancelled: nothing was run (written to the audit log)")
                return
            self.run_worker(self._act(plan, walk_target), group="action", exit_on_error=False)

        self.push_screen(ConfirmScreen(plan), decided)

    async def _act(self, plan: ActionPlan, walk_target: str) -> None:
        try:
            outcome = await self.session.run_action(plan, walk_target)
        except Exception as exc:
            self.notify(f"{plan.kind} failed: {exc}", severity="error")
            return
        if outcome.ok:
            self.notify(f"{plan.kind} {plan.name}: {outcome.result}; " + "; ".join(outcome.details[:3]), timeout=10)
        else:
            self.notify(f"{plan.kind} {plan.name}: dry run {outcome.dry_run}; {outcome.result}", severity="error")


def run_tui(
    args: argparse.Namespace,
    *,
    open_cluster: Callable[[argparse.Namespace], tuple[Any, str | None]],
    load_trees: Callable[[], dict[str, Any]],
) -> int:
    from llmd_triage.cluster.base import parse_target
    from llmd_triage.engine.actions import default_audit_path
    from llmd_triage.errors import UsageError

    cluster, _default_target = open_cluster(args)
    is_snapshot = bool(getattr(args, "snapshot", None) or getattr(args, "demo", False))
    session = Session(
        cluster=cluster,
        trees=load_trees(),
        context=cluster.name,
        namespace=args.namespace or getattr(cluster, "default_namespace", None),
        is_snapshot=is_snapshot,
        grafana_url=args.grafana_url,
        audit_path=Path(args.audit_log) if args.audit_log else default_audit_path(),
        probe_timeout=args.probe_timeout,
        deadline=args.deadline,
    )
    target = None
    if args.target:
        try:
            target = parse_target(args.target, args.namespace)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    app = TriageApp(session, scan_on_start=target is None, target=target, tree_id=args.tree)
    app.run()
    return int(app.return_code or 0)
