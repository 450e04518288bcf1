"""Engine behaviour: branch order, unknown routes on probe error and timeout, deadlines, evidence."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from llmd_triage.cluster.base import ClusterError, TargetRef
from llmd_triage.cluster.snapshot import SnapshotCluster, SnapshotData
from llmd_triage.engine.walk import walk
from llmd_triage.probes.base import Probe, ProbeFailure, ProbeResult
from llmd_triage.probes.registry import Registry
from llmd_triage.tree.loader import load_tree_text

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "namespace": "ns"},
    "spec": {"containers": [{"name": "vllm"}]},
    "status": {"phase": "Running"},
}


class Value(Probe):
    """Binds whatever `value` param it is given; records calls."""

    name = "t.value"
    description = "test"
    params_schema = {"type": "object"}
    calls: list[dict[str, Any]] = []

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Any) -> ProbeResult:
        Value.calls.append(params)
        return ProbeResult({"v": params.get("value")}, f"value {params.get('value')}", ["evidence line"], "cmd")


class Fails(Probe):
    name = "t.fails"
    description = "test"
    params_schema = {"type": "object"}

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Any) -> ProbeResult:
        raise ClusterError("forbidden", 'pods "p" is forbidden', "kubectl auth can-i get pods -n ns")


class Sleeps(Probe):
    name = "t.sleeps"
    description = "test"
    params_schema = {"type": "object"}

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Any) -> ProbeResult:
        await asyncio.sleep(params.get("seconds", 10))
        return ProbeResult({"v": 1}, "slept")


class Crashes(Probe):
    name = "t.crashes"
    description = "test"
    params_schema = {"type": "object"}

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Any) -> ProbeResult:
        raise ZeroDivisionError("division by zero")


REG = Registry()
for _cls in (Value, Fails, Sleeps, Crashes):
    REG.add(_cls)


def _tree(probe: str, params: str = "{value: 5}", branches: str | None = None) -> Any:
    branches = (
        branches
        or """
      - when: r.v > 10
        goto: big
      - when: r.v > 3
        goto: medium
      - when: r.v > 1
        goto: small"""
    )
    text = f"""
id: t
title: T
symptom: s
applies_to: [pod]
nodes:
  - id: read
    kind: probe
    probe: {probe}
    params: {params}
    bind: r
    next: decide
  - id: decide
    kind: decision
    branches:{branches}
    default: none
    unknown: manual
  - {{id: big, kind: leaf, outcome: fix, severity: high, verdict: "big {{{{ r.v }}}}", why: w}}
  - {{id: medium, kind: leaf, outcome: fix, severity: medium, verdict: "medium {{{{ r.v }}}} on {{{{ target.name }}}}", why: w}}
  - {{id: small, kind: leaf, outcome: fix, severity: low, verdict: small, why: w}}
  - {{id: none, kind: leaf, outcome: healthy, severity: info, verdict: none, why: w}}
  - {{id: manual, kind: leaf, outcome: inconclusive, severity: medium, verdict: check by hand, why: w}}
"""
    return load_tree_text(text, "t.yaml")


def _cluster() -> SnapshotCluster:
    data = SnapshotData(namespace="ns")
    data.add_object(POD)
    return SnapshotCluster(data)


TARGET = TargetRef("pod", "p", "ns")


async def test_first_true_branch_wins_in_order() -> None:
    w = await walk(_tree("t.value"), TARGET, _cluster(), registry=REG)
    # 5 > 3 and 5 > 1 are both true: the earlier branch must win
    assert w.leaf is not None and w.leaf.id == "medium"
    assert w.leaf.verdict == "medium 5 on p"
    assert w.path == ["read", "decide", "medium"]
    decide = w.steps[2]
    assert decide.condition == "r.v > 3"
    assert decide.values == {"r.v": 5}
    assert decide.branch == "branch 2"
    assert w.status == "complete"


async def test_default_when_no_branch_matches() -> None:
    w = await walk(_tree("t.value", "{value: 0}"), TARGET, _cluster(), registry=REG)
    assert w.leaf is not None and w.leaf.id == "none"
    assert w.steps[2].branch.startswith("default")


async def test_probe_error_takes_unknown_route_with_hint() -> None:
    w = await walk(_tree("t.fails"), TARGET, _cluster(), registry=REG)
    assert w.leaf is not None and w.leaf.id == "manual"
    probe_step, decide_step = w.steps[1], w.steps[2]
    assert probe_step.status == "unknown"
    assert probe_step.error == {
        "kind": "forbidden",
        "message": 'pods "p" is forbidden',
        "hint": "kubectl auth can-i get pods -n ns",
    }
    assert decide_step.status == "unknown"
    assert "'r' is unknown because pods \"p\" is forbidden" in decide_step.error["message"]
    assert w.status == "partial"


async def test_probe_timeout_takes_unknown_route() -> None:
    tree = _tree("t.sleeps", "{seconds: 5}")
    w = await walk(tree, TARGET, _cluster(), registry=REG, probe_timeout=0.05)
    assert w.leaf is not None and w.leaf.id == "manual"
    assert w.steps[1].error["kind"] == "timeout"
    assert "0.05s" in w.steps[1].error["message"]
    assert w.steps[1].elapsed_ms < 2000


async def test_walk_deadline_ends_unknown_without_leaf() -> None:
    tree = _tree("t.sleeps", "{seconds: 5}")
    w = await walk(tree, TARGET, _cluster(), registry=REG, probe_timeout=10, deadline=0.1)
    assert w.leaf is None
    assert w.status == "unknown"
    assert "0.1s deadline" in (w.reason or "")


async def test_per_node_timeout_overrides_default() -> None:
    tree = load_tree_text(
        """
id: t
title: T
symptom: s
applies_to: [pod]
nodes:
  - {id: read, kind: probe, probe: t.sleeps, params: {seconds: 5}, bind: r, next: d, timeout: 0.05}
  - {id: d, kind: decision, branches: [{when: r.v == 1, goto: ok}], unknown: manual}
  - {id: ok, kind: leaf, outcome: healthy, severity: info, verdict: ok, why: w}
  - {id: manual, kind: leaf, outcome: inconclusive, severity: info, verdict: m, why: w}
""",
        "t.yaml",
    )
    w = await walk(tree, TARGET, _cluster(), registry=REG, probe_timeout=30)
    assert w.leaf is not None and w.leaf.id == "manual"


async def test_probe_crash_becomes_unknown_not_exception() -> None:
    w = await walk(_tree("t.crashes"), TARGET, _cluster(), registry=REG)
    assert w.leaf is not None and w.leaf.id == "manual"
    assert "ZeroDivisionError" in w.steps[1].error["message"]


async def test_evidence_params_and_timing_recorded() -> None:
    Value.calls.clear()
    tree = _tree("t.value", '{value: "{{ 2 + 1 }}"}')
    w = await walk(tree, TARGET, _cluster(), registry=REG)
    step = w.steps[1]
    assert step.params == {"value": 3}  # a lone {{ }} keeps its type
    assert Value.calls == [{"value": 3}]
    assert step.evidence == ["evidence line"]
    assert step.command == "cmd"
    assert step.summary == "value 3"
    assert step.elapsed_ms >= 0
    assert w.steps[0].kind == "target" and w.steps[0].status == "ok"
    d = w.as_dict()
    assert d["path"] == ["read", "decide", "small"]  # 3 is not > 3, but is > 1
    assert d["steps"][1]["evidence"] == ["evidence line"]


async def test_manual_choice_is_recorded() -> None:
    w = await walk(_tree("t.fails"), TARGET, _cluster(), registry=REG, choices={"decide": "big"})
    assert w.leaf is not None and w.leaf.id == "big"
    assert w.steps[2].status == "manual"
    assert w.leaf.verdict == "big <unknown: r.v>"


async def test_recorded_results_replace_probes() -> None:
    Value.calls.clear()
    w = await walk(
        _tree("t.value"),
        TARGET,
        _cluster(),
        registry=REG,
        recorded={"read": ProbeResult({"v": 20}, "recorded")},
    )
    assert w.leaf is not None and w.leaf.id == "big"
    assert Value.calls == []
    w = await walk(
        _tree("t.value"), TARGET, _cluster(), registry=REG, recorded={"read": ProbeFailure("timeout", "slow")}
    )
    assert w.leaf is not None and w.leaf.id == "manual"


async def test_missing_target_object_is_unknown_not_fatal() -> None:
    tree = _tree(
        "t.value",
        branches="""
      - when: pod.status.phase == "Running"
        goto: big""",
    )
    w = await walk(tree, TargetRef("pod", "gone", "ns"), _cluster(), registry=REG)
    assert w.steps[0].status == "unknown"
    assert w.steps[0].error["kind"] == "not_found"
    assert w.leaf is not None and w.leaf.id == "manual"


async def test_unknown_probe_name_is_unknown() -> None:
    w = await walk(_tree("t.nope"), TARGET, _cluster(), registry=REG)
    assert w.leaf is not None and w.leaf.id == "manual"
    assert "no probe named 't.nope'" in w.steps[1].error["message"]


async def test_on_step_callback_sees_every_step() -> None:
    seen: list[str] = []

    async def cb(step: Any) -> None:
        seen.append(step.node)

    await walk(_tree("t.value"), TARGET, _cluster(), registry=REG, on_step=cb)
    assert seen == ["pod/p", "read", "decide", "medium"]


@pytest.mark.parametrize("value,leaf", [(11, "big"), (4, "medium"), (2, "small"), (1, "none")])
async def test_thresholds(value: int, leaf: str) -> None:
    w = await walk(_tree("t.value", f"{{value: {value}}}"), TARGET, _cluster(), registry=REG)
    assert w.leaf is not None and w.leaf.id == leaf


async def test_preflight_forbidden_probe_is_unknown_without_running() -> None:
    Value.calls.clear()
    w = await walk(
        _tree("t.value"),
        TARGET,
        _cluster(),
        registry=REG,
        forbidden={"t.value": "not allowed to get pods; check with: kubectl auth can-i get pods -n ns"},
    )
    assert Value.calls == []
    assert w.steps[1].error["kind"] == "forbidden"
    assert w.steps[1].error["hint"] == "kubectl auth can-i get pods -n ns"
    assert w.leaf is not None and w.leaf.id == "manual"


async def test_mixed_text_param_with_unknown_value_never_reaches_the_probe() -> None:
    Value.calls.clear()
    tree = _tree("t.value", '{value: "pid {{ nope.x }}"}')
    w = await walk(tree, TARGET, _cluster(), registry=REG)
    assert Value.calls == []
    assert w.steps[1].status == "unknown"
    assert "a parameter of t.value could not be computed" in w.steps[1].error["message"]


async def test_manual_choice_of_a_missing_node_is_unknown_not_a_crash() -> None:
    w = await walk(_tree("t.value"), TARGET, _cluster(), registry=REG, choices={"decide": "nowhere"})
    assert w.leaf is None and w.status == "unknown"
    assert w.steps[-1].error["message"] == "the choice 'nowhere' is not a node of this tree"


def test_deciding_values_read_the_same_every_run() -> None:
    """CEL hands maps back in hash order; the values a report shows are sorted so reports are stable."""
    from llmd_triage.tree.conditions import Condition

    cond = Condition.compile("size(x.m) > 0")
    ctx = {"x": {"m": {"zeta": 1, "alpha": {"y": 2, "b": 3}, "b": 1}}}
    values = cond.deciding_values(ctx)
    assert list(values["x.m"]) == ["alpha", "b", "zeta"] and list(values["x.m"]["alpha"]) == ["b", "y"]
