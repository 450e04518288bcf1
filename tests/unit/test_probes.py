"""Probe kinds over the snapshot cluster: results, evidence, commands and failures as data."""

from __future__ import annotations

from typing import Any

import pytest

from llmd_triage.cluster.base import ClusterError, TargetRef
from llmd_triage.cluster.snapshot import SnapshotCluster, SnapshotData
from llmd_triage.engine.preflight import forbidden_probes, permissions_for, preflight
from llmd_triage.probes.base import ProbeFailure
from llmd_triage.probes.registry import default_registry
from llmd_triage.tree.loader import load_tree

REG = default_registry()


def _node_pod(name: str, node: str, labels: dict[str, str], phase: str = "Running") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "gpu-operator", "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "nvidia-driver-ctr"}]},
        "status": {"phase": phase},
    }


def _cluster(**inline: Any) -> SnapshotCluster:
    data = SnapshotData(namespace="ns")
    data.add_inline(inline)
    return SnapshotCluster(data)


async def test_k8s_list_with_selectors_and_all_namespaces() -> None:
    c = _cluster(
        objects=[
            _node_pod("a", "n1", {"app": "nvidia-driver-daemonset"}),
            _node_pod("b", "n2", {"app": "nvidia-driver-daemonset"}),
        ]
    )
    probe = REG.get("k8s.list")
    res = await probe.run(
        {"kind": "Pod", "namespace": "*", "fieldSelector": "spec.nodeName=n2"}, TargetRef("node", "n2"), c
    )
    assert res.data["installed"] is True and res.data["count"] == 1
    assert res.evidence == ["gpu-operator/b"]
    assert res.command == "kubectl get pods -A --field-selector spec.nodeName=n2"


async def test_k8s_list_not_installed_is_a_result() -> None:
    class NoCrd(SnapshotCluster):
        async def list(self, *a: Any, **k: Any) -> list[dict[str, Any]]:
            raise ClusterError("not_installed", "the cluster does not serve InferencePool")

    probe = REG.get("k8s.list")
    res = await probe.run(
        {"apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool"},
        TargetRef("pod", "p", "ns"),
        NoCrd(SnapshotData()),
    )
    assert res.data == {"installed": False, "items": [], "count": 0}
    assert res.command == "kubectl get inferencepools.inference.networking.k8s.io -n ns"


async def test_node_exec_prefers_toolbox_then_driver_pod() -> None:
    objects = [
        _node_pod("driver", "n1", {"app": "nvidia-driver-daemonset"}),
        _node_pod("toolbox-down", "n1", {"app.kubernetes.io/name": "llmd-triage-toolbox"}, phase="Pending"),
    ]
    execs = [
        {"namespace": "gpu-operator", "pod": "driver", "argv": ["nvidia-smi", "topo", "-m"], "stdout": "GPU0\tX\n"}
    ]
    c = _cluster(objects=objects, exec=execs)
    res = await REG.get("node.exec").run({"argv": ["nvidia-smi", "topo", "-m"]}, TargetRef("node", "n1"), c)
    assert res.data["pod"] == "gpu-operator/driver"
    assert res.data["source"] == "GPU operator driver pod"
    assert res.command == "kubectl exec -n gpu-operator driver -c nvidia-driver-ctr -- nvidia-smi topo -m"
    assert res.data["stdout"] == "GPU0\tX\n"


async def test_node_exec_without_node_pod_says_what_to_do() -> None:
    with pytest.raises(ProbeFailure) as e:
        await REG.get("node.exec").run({"argv": ["dmesg"]}, TargetRef("node", "n9"), _cluster())
    assert e.value.kind == "not_found"
    assert "no pod on node n9 can run node-level commands" in e.value.message
    assert "kubectl debug node/n9" in e.value.hint


async def test_exec_missing_binary_names_the_image_problem() -> None:
    c = _cluster(exec=[{"namespace": "ns", "pod": "p", "argv": ["ibstat"], "exit_code": 127, "stdout": ""}])
    with pytest.raises(ProbeFailure) as e:
        await REG.get("k8s.exec").run({"argv": ["ibstat"], "container": "vllm"}, TargetRef("pod", "p", "ns"), c)
    assert e.value.kind == "exec_failed"
    assert "the container image lacks ibstat" in e.value.hint


async def test_preflight_lists_permissions_and_marks_forbidden() -> None:
    tree = load_tree("trees/oom-kill.yaml")
    target = TargetRef("pod", "p", "ns")
    perms = permissions_for([tree], target)
    assert {(p.verb, p.resource, p.subresource) for p in perms} == {
        ("get", "pods", None),
        ("get", "pods", "log"),
        ("create", "pods", "exec"),
        ("list", "events", None),
    }

    class Reviewer(SnapshotCluster):
        async def self_subject_access_review(self, attrs: dict[str, Any]) -> bool:
            return attrs.get("subresource") != "exec"

    checks = await preflight([tree], target, Reviewer(SnapshotData()))
    assert forbidden_probes(checks) == {
        "k8s.exec": "not allowed to create pods/exec; check with: kubectl auth can-i create pods --subresource=exec -n ns"
    }
    snapshot_checks = await preflight([tree], target, SnapshotCluster(SnapshotData()))
    assert all(c.allowed is None for c in snapshot_checks)


async def test_events_k8s_io_v1_shape_is_normalised() -> None:
    ev = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e1", "namespace": "ns"},
        "regarding": {"kind": "Pod", "name": "p", "namespace": "ns"},
        "type": "Warning",
        "reason": "Unhealthy",
        "note": "Startup probe failed: connection refused",
        "series": {"count": 12, "lastObservedTime": "2026-11-20T02:04:30Z"},
        "reportingController": "kubelet",
    }
    c = _cluster(objects=[ev])
    res = await REG.get("k8s.events").run({"api": "events.k8s.io/v1"}, TargetRef("pod", "p", "ns"), c)
    assert res.data["items"] == [
        {
            "type": "Warning",
            "reason": "Unhealthy",
            "message": "Startup probe failed: connection refused",
            "count": 12,
            "last_seen": "2026-11-20T02:04:30Z",
            "source": "kubelet",
        }
    ]
    assert res.command == "kubectl get events.events.k8s.io -n ns --field-selector regarding.name=p,regarding.kind=Pod"


async def test_pod_proxy_snapshot_and_not_captured() -> None:
    c = _cluster(proxy={"ns/p/8000/metrics": "vllm:num_requests_waiting 3\n"})
    assert await c.pod_proxy("ns", "p", 8000) == "vllm:num_requests_waiting 3\n"
    with pytest.raises(ClusterError) as e:
        await c.pod_proxy("ns", "p", 9090)
    assert e.value.hint == "kubectl get --raw /api/v1/namespaces/ns/pods/p:9090/proxy/metrics"


async def test_node_exec_falls_back_when_a_node_pod_lacks_the_tool() -> None:
    objects = [
        _node_pod("toolbox", "n1", {"app.kubernetes.io/name": "llmd-triage-toolbox"}),
        _node_pod("driver", "n1", {"app": "nvidia-driver-daemonset"}),
    ]
    execs = [
        {"namespace": "gpu-operator", "pod": "toolbox", "argv": ["dmesg", "-T"], "exit_code": 127, "stdout": ""},
        {
            "namespace": "gpu-operator",
            "pod": "driver",
            "argv": ["dmesg", "-T"],
            "stdout": "[Thu Nov 20 03:00:00 2026] boot noise\n"
            "[Thu Nov 20 03:01:00 2026] NVRM: Xid (PCI:0000:a1:00): 79, pid=1234, GPU has fallen off the bus.\n",
        },
    ]
    c = _cluster(objects=objects, exec=execs)
    res = await REG.get("node.exec").run({"argv": ["dmesg", "-T"], "parser": "kernel_xid"}, TargetRef("node", "n1"), c)
    assert res.data["pod"] == "gpu-operator/driver"
    assert res.evidence == ["Xid 79 (0000:a1:00): pid=1234, GPU has fallen off the bus."]
    execs[1]["exit_code"] = 127
    with pytest.raises(ProbeFailure) as e:
        await REG.get("node.exec").run(
            {"argv": ["dmesg", "-T"]}, TargetRef("node", "n1"), _cluster(objects=objects, exec=execs)
        )
    assert e.value.kind == "exec_failed"
    assert "llmd-triage toolbox gpu-operator/toolbox, GPU operator driver pod gpu-operator/driver" in e.value.message
