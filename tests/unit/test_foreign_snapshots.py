"""Other people's snapshots: an OpenShift must-gather and a kubectl cluster-info dump, laid out by hand
here in their published shapes (the cluster-info dump made by real kubectl is tested in integration)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from llmd_triage.cli.main import load_tree_set
from llmd_triage.cluster.base import parse_target
from llmd_triage.cluster.snapshot import SnapshotCluster, load_snapshot
from llmd_triage.engine.walk import walk

ROOT = Path(__file__).resolve().parents[2]
DEMO = load_snapshot(ROOT / "trees" / "snapshots" / "demo")
TREE = load_tree_set(ROOT / "trees")["oom-kill"]
DECODE = "qwen3-32b-decode-5f7d9c8b6-7xk2p"


def _pods() -> list[dict]:
    return [o for (k, _, _), o in DEMO.objects.items() if k == "pod"]


def _must_gather(root: Path) -> Path:
    base = root / "must-gather.local.123" / "quay-io-openshift-must-gather-sha256-abc"
    ns_dir = base / "namespaces" / "llm-d-demo"
    (ns_dir / "core").mkdir(parents=True)
    (ns_dir / "core" / "pods.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "PodList", "items": _pods()})
    )
    events = [o for (k, _, _), o in DEMO.objects.items() if k == "event"]
    (ns_dir / "core" / "events.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "EventList", "items": events})
    )
    logs = ns_dir / "pods" / DECODE / "vllm" / "vllm" / "logs"
    logs.mkdir(parents=True)
    (logs / "previous.log").write_text(DEMO.logs[("llm-d-demo", DECODE, "vllm", True)])
    (logs / "current.log").write_text(DEMO.logs[("llm-d-demo", DECODE, "vllm", False)])
    (base / "cluster-scoped-resources" / "core" / "nodes").mkdir(parents=True)
    (base / "cluster-scoped-resources" / "core" / "nodes" / "broken.yaml").write_text("kind: [\n")
    return root / "must-gather.local.123"


async def test_must_gather_replays_objects_and_logs_exec_is_unknown(tmp_path: Path) -> None:
    data = load_snapshot(_must_gather(tmp_path))
    assert data.manifest["format"] == "must-gather"
    assert data.namespace == "llm-d-demo"
    assert len(data.manifest["skipped_files"]) == 1  # the broken file is skipped, not fatal
    assert ("llm-d-demo", DECODE, "vllm", True) in data.logs
    w = await walk(TREE, parse_target(f"pod/{DECODE}"), SnapshotCluster(data))
    # the termination record is there; /dev/shm was never listed, so the walk says what to run
    assert w.path == ["read-termination", "termination-kind", "list-shm", "host-ram", "check-shm-by-hand"]
    assert w.steps[3].error["kind"] == "not_captured"
    assert w.steps[3].error["hint"].endswith(f"kubectl exec -n llm-d-demo {DECODE} -c vllm -- ls -la /dev/shm")


async def test_cluster_info_dump_layout(tmp_path: Path) -> None:
    root = tmp_path / "dump"
    (root / "llm-d-demo" / DECODE).mkdir(parents=True)
    (root / "nodes.json").write_text(json.dumps({"kind": "NodeList", "apiVersion": "v1", "items": []}))
    (root / "llm-d-demo" / "pods.json").write_text(
        json.dumps({"kind": "PodList", "apiVersion": "v1", "items": _pods()})
    )
    (root / "llm-d-demo" / DECODE / "logs.txt").write_text("routing proxy log\n")
    data = load_snapshot(root)
    assert data.manifest["format"] == "kubectl cluster-info dump"
    # NS/POD/logs.txt is the pod's first container (the routing proxy here)
    assert data.logs[("llm-d-demo", DECODE, "routing-proxy", False)] == "routing proxy log\n"
    w = await walk(TREE, parse_target(f"pod/{DECODE}", "llm-d-demo"), SnapshotCluster(data))
    assert w.leaf is not None and w.leaf.id == "check-shm-by-hand"
