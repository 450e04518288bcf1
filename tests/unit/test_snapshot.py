"""The snapshot cluster: objects, selectors, logs, exec records and injected failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmd_triage.cluster.base import ClusterError, parse_target
from llmd_triage.cluster.selectors import field_matcher, label_matcher
from llmd_triage.cluster.snapshot import SnapshotCluster, SnapshotData, load_snapshot
from llmd_triage.errors import SnapshotError

DEMO = Path(__file__).resolve().parents[2] / "trees" / "snapshots" / "demo"
DECODE = "qwen3-32b-decode-5f7d9c8b6-7xk2p"


async def test_demo_snapshot_serves_objects_logs_exec() -> None:
    c = SnapshotCluster.from_path(DEMO)
    assert c.name == "snapshot:demo" and c.default_namespace == "llm-d-demo"
    pod = await c.get("v1", "Pod", DECODE, "llm-d-demo")
    assert pod["metadata"]["labels"]["llm-d.ai/role"] == "decode"
    node = await c.get("v1", "Node", "gpu-node-a")
    assert node["status"]["capacity"]["nvidia.com/gpu"] == "8"
    decode = await c.list(
        "v1", "Pod", "llm-d-demo", label_selector="llm-d.ai/role in (decode),llm-d.ai/model=qwen3-32b"
    )
    assert [p["metadata"]["name"] for p in decode] == [DECODE]
    unlabelled = await c.list("v1", "Pod", "llm-d-demo", label_selector="!llm-d.ai/role")
    assert sorted(p["metadata"]["name"].split("-epp-")[0] for p in unlabelled) == [
        "deepseek-r1",
        "llama-3-3-70b",
        "qwen3-32b",
    ]  # only the endpoint pickers
    everywhere = await c.list("v1", "Pod", None, label_selector="!llm-d.ai/role")
    assert len(everywhere) == len(unlabelled) + 10  # plus a driver and a DCGM exporter pod on each of 5 nodes
    ev = await c.list("v1", "Event", "llm-d-demo", field_selector=f"involvedObject.name={DECODE}")
    assert {e["reason"] for e in ev} == {"Pulled", "BackOff"}
    prev = await c.logs("llm-d-demo", DECODE, "vllm", previous=True, tail_lines=1)
    assert prev.startswith("(APIServer pid=1) INFO 11-20 03:09:48") and prev.count("\n") == 1
    res = await c.exec("llm-d-demo", DECODE, "vllm", ["ls", "-la", "/dev/shm"])
    assert res.exit_code == 0 and "nccl-3BpXq1" in res.stdout
    pools = await c.list("inference.networking.k8s.io/v1", "InferencePool", "llm-d-demo")
    assert pools[0]["spec"]["targetPorts"] == [{"number": 8000}]


async def test_missing_things_are_cluster_errors_with_a_manual_command() -> None:
    c = SnapshotCluster.from_path(DEMO)
    with pytest.raises(ClusterError) as e:
        await c.get("v1", "Pod", "nope", "llm-d-demo")
    assert e.value.kind == "not_found"
    with pytest.raises(ClusterError) as e:
        await c.logs("llm-d-demo", DECODE, "routing-proxy", previous=True)
    assert e.value.kind == "not_captured"
    assert e.value.hint == f"kubectl logs -n llm-d-demo {DECODE} -c routing-proxy --previous"
    with pytest.raises(ClusterError) as e:
        await c.exec("llm-d-demo", DECODE, "vllm", ["df", "-h"])
    assert e.value.kind == "not_captured" and e.value.hint == f"kubectl exec -n llm-d-demo {DECODE} -c vllm -- df -h"


async def test_injected_errors() -> None:
    data = SnapshotData(namespace="ns")
    data.add_inline(
        {
            "objects": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}}],
            "errors": [{"op": "get", "kind": "Pod", "name": "p", "error": {"kind": "forbidden", "message": "no"}}],
        }
    )
    with pytest.raises(ClusterError) as e:
        await SnapshotCluster(data).get("v1", "Pod", "p", "ns")
    assert (e.value.kind, e.value.message) == ("forbidden", "no")


def test_selectors() -> None:
    obj = {"metadata": {"name": "a", "labels": {"app": "x", "tier": "gpu"}}, "spec": {"nodeName": "n1"}}
    assert label_matcher("app=x,tier!=cpu")(obj)
    assert not label_matcher("app notin (x,y)")(obj)
    assert label_matcher("tier")(obj) and not label_matcher("!tier")(obj)
    assert field_matcher("spec.nodeName=n1,metadata.name==a")(obj)
    assert not field_matcher("spec.nodeName!=n1")(obj)
    with pytest.raises(ValueError):
        label_matcher("app >> x")


def test_bad_snapshots_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="is not a directory"):
        load_snapshot(tmp_path / "missing")
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / "x.yaml").write_text("kind: Pod\nmetadata: [1\n")
    with pytest.raises(SnapshotError, match=r"x\.yaml: cannot be parsed"):
        load_snapshot(tmp_path)
    (tmp_path / "objects" / "x.yaml").write_text("kind: Pod\nmetadata: {}\n")
    with pytest.raises(SnapshotError, match=r"without kind or metadata\.name"):
        load_snapshot(tmp_path)
    (tmp_path / "objects" / "x.yaml").unlink()
    (tmp_path / "snapshot.yaml").write_text("format: other/v9\n")
    with pytest.raises(SnapshotError, match="format 'other/v9'"):
        load_snapshot(tmp_path)


def test_parse_target() -> None:
    assert parse_target("pod/a", "ns").namespace == "ns"
    assert parse_target("node/n").resource_kind == "Node"
    lws = parse_target("lws/g", "ns")
    assert (lws.kind, lws.api_version, lws.resource_kind) == (
        "workload",
        "leaderworkerset.x-k8s.io/v1",
        "LeaderWorkerSet",
    )
    with pytest.raises(ValueError, match="is not KIND/NAME"):
        parse_target("justaname")
    with pytest.raises(ValueError, match="is not one of"):
        parse_target("banana/x")
