"""Every action kind through the real client: the kubectl equivalent, a dry run first, then the change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmd_triage.cluster.live import KubeContext, LiveCluster
from llmd_triage.cluster.snapshot import load_snapshot
from llmd_triage.engine.actions import apply, make_plan
from tests.integration.apiserver import FakeApiServer

DEMO = Path(__file__).resolve().parents[2] / "trees" / "snapshots" / "demo"


@pytest.mark.parametrize(
    ("kind", "target", "value", "command", "dangerous"),
    [
        (
            "rollout-restart",
            "deploy/qwen3-32b-decode",
            None,
            "kubectl rollout restart deployment/qwen3-32b-decode -n llm-d-demo",
            True,
        ),
        ("scale", "lws/deepseek-r1", "2", "kubectl scale leaderworkerset/deepseek-r1 -n llm-d-demo --replicas=2", True),
        (
            "annotate",
            "pod/deepseek-r1-0",
            "llm-d.ai/triaged=xid-79",
            "kubectl annotate pod/deepseek-r1-0 -n llm-d-demo llm-d.ai/triaged=xid-79 --overwrite",
            False,
        ),
        (
            "annotate",
            "node/gpu-node-c",
            "llm-d.ai/quarantine=true",
            "kubectl annotate node/gpu-node-c llm-d.ai/quarantine=true --overwrite",
            False,
        ),
    ],
)
def test_plans_say_the_exact_kubectl(kind: str, target: str, value: Any, command: str, dangerous: bool) -> None:
    plan = make_plan(kind, target, "llm-d-demo", None, value)
    assert plan.command == command and plan.dangerous is dangerous


@pytest.mark.parametrize(
    ("kind", "target", "value"),
    [
        ("rollout-restart", "lws/deepseek-r1", None),  # kubectl rollout restart does not know LWS
        ("scale", "deploy/x", "-1"),
        ("scale", "deploy/x", "all"),
        ("scale", "pod/x", "2"),
        ("annotate", "deploy/x", "no-equals-sign"),
        ("annotate", "secret/x", "a=b"),
        ("scale", "deploy", "1"),
    ],
)
def test_bad_targets_and_values_are_refused(kind: str, target: str, value: Any) -> None:
    with pytest.raises(ValueError):
        make_plan(kind, target, "ns", None, value)


async def test_each_kind_runs_after_a_dry_run(tmp_path: Path) -> None:
    srv = FakeApiServer(load_snapshot(DEMO)).start()
    srv.allow_object_writes = True
    try:
        kc = srv.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm-d-demo")
        cluster = LiveCluster(KubeContext(str(kc)), timeout=5.0)
        for kind, target, value in [
            ("rollout-restart", "deploy/qwen3-32b-decode", None),
            ("scale", "lws/deepseek-r1", "2"),
            ("annotate", "pod/deepseek-r1-0", "llm-d.ai/triaged=xid-79"),
        ]:
            outcome = await apply(make_plan(kind, target, "llm-d-demo", None, value), cluster)
            assert outcome.ok and outcome.dry_run == "ok", (kind, outcome)
        objs = srv.data.objects
        deploy = objs[("deployment", "llm-d-demo", "qwen3-32b-decode")]
        assert "kubectl.kubernetes.io/restartedAt" in deploy["spec"]["template"]["metadata"]["annotations"]
        assert objs[("leaderworkerset", "llm-d-demo", "deepseek-r1")]["spec"]["replicas"] == 2
        assert objs[("pod", "llm-d-demo", "deepseek-r1-0")]["metadata"]["annotations"]["llm-d.ai/triaged"] == "xid-79"
        patches = [j for j in srv.journal if j.method == "PATCH"]
        assert [j.query.get("dryRun") for j in patches] == [["All"], None] * 3
        assert srv.object_writes == [
            "patch Deployment/qwen3-32b-decode",
            "patch LeaderWorkerSet/deepseek-r1",
            "patch Pod/deepseek-r1-0",
        ]
    finally:
        srv.stop()
