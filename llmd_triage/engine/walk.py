"""The async walk of one tree over one target.

Every failure on the way becomes data: a probe that errs, is forbidden or times out marks its
binding failed, and the first condition that needs it takes the decision's `unknown` route with
the reason and what to check by hand. Deadlines bound each probe and the whole walk.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef
from llmd_triage.engine.record import LeafResult, StepRecord, StepText, Walk
from llmd_triage.probes.base import ProbeFailure, ProbeResult
from llmd_triage.probes.registry import Registry, default_registry
from llmd_triage.tree.conditions import Bindings, ConditionUnknown
from llmd_triage.tree.model import DecisionNode, Leaf, ProbeNode, Tree
from llmd_triage.tree.templating import render_value

DEFAULT_PROBE_TIMEOUT = 20.0
DEFAULT_WALK_DEADLINE = 120.0

StepCallback = Callable[[StepRecord], Awaitable[None] | None]
#: called with (node id, kind, title) as a node starts, so a UI can show a probe while it runs
StartCallback = Callable[[str, str, str | None], None]
#: a recorded result for a probe node, used instead of running the probe (tree tests, replays)
Recorded = ProbeResult | ProbeFailure


def build_context(target: TargetRef, obj: dict[str, Any] | None) -> dict[str, Any]:
    """What conditions see before any probe ran: `target`, and the target object under its kind."""
    ctx: dict[str, Any] = {"target": target.as_dict()}
    if obj is not None:
        ctx[target.kind] = obj
    return ctx


async def walk(
    tree: Tree,
    target: TargetRef,
    cluster: Cluster,
    *,
    registry: Registry | None = None,
    recorded: Mapping[str, Recorded] | None = None,
    choices: Mapping[str, str] | None = None,
    forbidden: Mapping[str, str] | None = None,
    probe_timeout: float = DEFAULT_PROBE_TIMEOUT,
    deadline: float = DEFAULT_WALK_DEADLINE,
    on_step: StepCallback | None = None,
    on_start: StartCallback | None = None,
    results: dict[str, Recorded] | None = None,
) -> Walk:
    """Walk `tree` for `target`. `choices` maps a decision id to the node a person picked for it.

    `results`, when given, receives every probe's result or failure by node id: passed back as `recorded`, it
    lets a second walk (a manual branch, a retry of one step) reuse what the first one read.
    """
    registry = registry or default_registry()
    if target.namespace is None and target.kind != "node":
        target = TargetRef(
            target.kind, target.name, cluster.default_namespace, target.api_version, target.resource_kind
        )
    record = Walk(
        tree=tree.id,
        tree_title=tree.title,
        target=target.as_dict(),
        cluster=cluster.name,
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    t0 = time.perf_counter()
    walker = _Walker(tree, target, cluster, registry, recorded or {}, choices or {}, probe_timeout, record, on_step)
    walker.forbidden = dict(forbidden or {})
    walker.on_start, walker.results = on_start, results
    try:
        async with asyncio.timeout(deadline):
            await walker.run()
    except TimeoutError:
        record.status = "unknown"
        record.reason = f"the walk did not finish within its {deadline:g}s deadline"
    record.elapsed_ms = round((time.perf_counter() - t0) * 1000, 1)
    return record


def _smuggled_argv(node: ProbeNode, params: dict[str, Any]) -> str | None:
    """A templated argv word is data from the cluster (a path from a pod spec, a name from a log): it may not
    turn into an option (`--output=/etc/x`) or carry a newline, whatever the command."""
    argv = params.get("argv")
    if not isinstance(argv, list):
        return None
    for path in node.param_templates:
        if not path.startswith("argv["):
            continue
        try:
            value = str(argv[int(path[5 : path.index("]")])])
        except (ValueError, IndexError):
            continue
        if value.startswith("-"):
            return f"{value!r} starts with '-'"
        if any(ord(c) < 32 or c == "\x7f" for c in value):
            return f"{value!r} holds control characters"
    return None


class _Walker:
    def __init__(
        self,
        tree: Tree,
        target: TargetRef,
        cluster: Cluster,
        registry: Registry,
        recorded: Mapping[str, Recorded],
        choices: Mapping[str, str],
        probe_timeout: float,
        record: Walk,
        on_step: StepCallback | None,
    ) -> None:
        self.tree, self.target, self.cluster, self.registry = tree, target, cluster, registry
        self.recorded, self.choices, self.probe_timeout = recorded, choices, probe_timeout
        self.record, self.on_step = record, on_step
        self.context: dict[str, Any] = {}
        self.failed: dict[str, ProbeFailure] = {}
        #: probe name -> why preflight says it may not run
        self.forbidden: dict[str, str] = {}
        self.on_start: StartCallback | None = None
        self.results: dict[str, Recorded] | None = None

    async def emit(self, step: StepRecord) -> None:
        self.record.steps.append(step)
        if self.on_step is not None:
            res = self.on_step(step)
            if asyncio.iscoroutine(res):
                await res
        # A probe answered from a cache or a snapshot never suspends: without this, a long walk would hold the
        # event loop from start to leaf, and a UI sharing it could not draw or read a key until it ended.
        await asyncio.sleep(0)

    async def run(self) -> None:
        await self.load_target()
        node_id: str | None = self.tree.start
        budget = len(self.tree.nodes) + 1  # a valid tree is acyclic; this guards a bad one
        while node_id is not None and budget > 0:
            budget -= 1
            node = self.tree.nodes[node_id]
            if isinstance(node, ProbeNode):
                node_id = await self.probe(node)
            elif isinstance(node, DecisionNode):
                node_id = await self.decide(node)
            elif isinstance(node, Leaf):
                await self.finish(node)
                return
        self.record.status = "unknown"
        self.record.reason = self.record.reason or "the walk ended without reaching a leaf"

    async def load_target(self) -> None:
        t = self.target
        step = StepRecord(node=t.ref, kind="target", title=f"read {t.resource_kind} {t.name}")
        start = time.perf_counter()
        obj = None
        try:
            obj = await asyncio.wait_for(
                self.cluster.get(t.api_version, t.resource_kind, t.name, t.namespace), self.probe_timeout
            )
            step.summary = f"{t.resource_kind} {t.name} found"
        except (ClusterError, TimeoutError) as exc:
            failure = (
                ProbeFailure.from_cluster(exc)
                if isinstance(exc, ClusterError)
                else ProbeFailure("timeout", f"reading {t.ref} took over {self.probe_timeout:g}s")
            )
            step.status, step.error, step.summary = "unknown", failure.as_dict(), failure.message
            self.failed[t.kind] = failure
        step.elapsed_ms = round((time.perf_counter() - start) * 1000, 1)
        self.context = build_context(t, obj)
        await self.emit(step)

    async def probe(self, node: ProbeNode) -> str:
        step = StepRecord(
            node=node.id, kind="probe", title=node.title, probe=node.probe, bind=node.bind, next=node.next
        )
        start = time.perf_counter()
        if self.on_start is not None:
            self.on_start(node.id, "probe", node.title)
        try:
            result = await self._run_probe(node, step)
            self.context[node.bind] = result.data
            step.summary, step.evidence, step.command = result.summary, result.evidence, result.command
            if self.results is not None:
                self.results[node.id] = result
        except ProbeFailure as failure:
            if self.results is not None:
                self.results[node.id] = failure
            self.failed[node.bind] = failure
            self.context.pop(node.bind, None)
            step.status, step.error, step.summary = "unknown", failure.as_dict(), failure.message
        step.elapsed_ms = round((time.perf_counter() - start) * 1000, 1)
        await self.emit(step)
        return node.next

    async def _run_probe(self, node: ProbeNode, step: StepRecord) -> ProbeResult:
        if node.id in self.recorded:
            rec = self.recorded[node.id]
            step.params = dict(node.params)
            if isinstance(rec, ProbeFailure):
                raise rec
            return rec
        if node.probe in self.forbidden:
            step.params = dict(node.params)
            raise ProbeFailure(
                "forbidden",
                f"{node.probe} skipped: {self.forbidden[node.probe]}",
                self.forbidden[node.probe].rpartition("check with: ")[2],
            )
        probe = self.registry.get(node.probe)
        if probe is None:
            raise ProbeFailure("error", f"no probe named {node.probe!r} is installed", "run `llmd-triage probes`")
        try:
            params = render_value(node.params, self.context)
        except ConditionUnknown as exc:
            raise self._explain_unknown(exc, f"a parameter of {node.probe} could not be computed") from None
        step.params = params
        smuggled = _smuggled_argv(node, params)
        if smuggled:
            raise ProbeFailure(
                "refused",
                f"not run: a value from the cluster would change the command: {smuggled}",
                "a templated argument must be a plain word (no leading '-', no control characters); check it by hand",
            )
        problems = self.registry.check_params(node.probe, params)
        if problems:
            raise ProbeFailure(
                "error",
                f"parameters of {node.probe} are invalid: {'; '.join(message for _, message in problems)}",
                "fix the tree (llmd-triage lint)",
            )
        timeout = node.timeout or self.probe_timeout
        try:
            return await asyncio.wait_for(probe.run(params, self.target, self.cluster), timeout)
        except TimeoutError:
            raise ProbeFailure("timeout", f"{node.probe} did not answer within {timeout:g}s") from None
        except ProbeFailure:
            raise
        except ClusterError as exc:
            raise ProbeFailure.from_cluster(exc) from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a probe bug must end in `unknown`, not a traceback
            raise ProbeFailure(
                "error",
                f"{node.probe} failed: {type(exc).__name__}: {exc}",
                "report this as a bug in the probe; check the same thing by hand",
            ) from None

    def _explain_unknown(self, exc: ConditionUnknown, what: str) -> ProbeFailure:
        missing = exc.missing
        if missing and missing in self.failed:
            f = self.failed[missing]
            return ProbeFailure(f.kind, f"{what}: '{missing}' is unknown because {f.message}", f.hint)
        return ProbeFailure("error", f"{what}: {exc}", "check the values by hand")

    async def decide(self, node: DecisionNode) -> str | None:
        step = StepRecord(node=node.id, kind="decision", title=node.title)
        start = time.perf_counter()
        chosen = self._manual(node, step) if node.id in self.choices else self._evaluate(node, step)
        step.next = chosen
        step.elapsed_ms = round((time.perf_counter() - start) * 1000, 1)
        if step.status == "ok":
            step.summary = f"{step.branch} -> {chosen}"
        await self.emit(step)
        return chosen

    def _manual(self, node: DecisionNode, step: StepRecord) -> str | None:
        """A person chose the branch (the TUI's answer to an unknown step); recorded as such."""
        chosen = self.choices[node.id]
        step.status, step.branch = "manual", "chosen by hand"
        if chosen in self.tree.nodes:
            return chosen
        step.status, step.branch = "unknown", "unknown"
        step.error = {
            "kind": "error",
            "message": f"the choice '{chosen}' is not a node of this tree",
            "hint": f"choose one of: {', '.join(t for t, _ in node.successors())}",
        }
        self.record.reason = f"decision '{node.id}': invalid manual choice"
        return None

    def _evaluate(self, node: DecisionNode, step: StepRecord) -> str | None:
        """First true branch wins; no match takes `default`; anything unevaluable takes `unknown`."""
        current = None
        env = Bindings(self.context)  # converted to CEL once for every branch and its deciding values
        try:
            for i, branch in enumerate(node.branches, 1):
                current = branch
                if branch.condition.test(env):
                    step.condition = branch.condition.source
                    step.values = branch.condition.deciding_values(env)
                    step.branch = branch.label or f"branch {i}"
                    return branch.goto
            current = None
            step.values = {k: v for b in node.branches for k, v in b.condition.deciding_values(env).items()}
            if node.default:
                step.branch = "default (no branch matched)"
                return node.default
            raise ConditionUnknown("no branch matched and the decision has no default")
        except ConditionUnknown as exc:
            failure = self._explain_unknown(exc, "could not decide")
            step.status, step.error, step.branch = "unknown", failure.as_dict(), "unknown"
            step.condition = current.condition.source if current else None
            step.summary = failure.message
            if node.unknown is None:
                self.record.reason = f"decision '{node.id}' could not be evaluated and has no unknown route"
            return node.unknown

    def _actions(self, leaf: Leaf) -> list[dict[str, Any]]:
        """Render the leaf's actions; one whose target cannot be computed is left out, never guessed."""
        from llmd_triage.engine.actions import make_plan

        out = []
        for a in leaf.actions:
            try:
                name = str(a.target.render(self.context, strict=True)).strip()
                ns = a.namespace.render(self.context, strict=True).strip() if a.namespace else self.target.namespace
                title = a.title.render(self.context) if a.title else None
            except ConditionUnknown:
                continue
            if name:
                out.append(make_plan(a.kind, name, ns, title).as_dict())
        return out

    async def finish(self, leaf: Leaf) -> None:
        ctx = Bindings(self.context)  # converted to CEL once for all the leaf's texts
        result = LeafResult(
            id=leaf.id,
            outcome=leaf.outcome,
            severity=leaf.severity,
            verdict=leaf.verdict.render(ctx),
            why=leaf.why.render(ctx),
            steps=[StepText(s.do.render(ctx), s.run.render(ctx) if s.run else None) for s in leaf.steps],
            escalation=leaf.escalation.render(ctx) if leaf.escalation else None,
            handover=leaf.handover,
            references=[{"title": r.title, "url": r.url} for r in leaf.references],
            actions=self._actions(leaf),
        )
        self.record.leaf = result
        self.record.status = "partial" if self.record.unknown_steps else "complete"
        await self.emit(StepRecord(node=leaf.id, kind="leaf", title=leaf.title, summary=result.verdict))
