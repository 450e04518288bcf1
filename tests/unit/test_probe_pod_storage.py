"""pod.storage: a pod's volumes followed to PVC -> PV -> StorageClass, and where the model and caches live."""

from __future__ import annotations

from typing import Any

import pytest

from llmd_triage.cluster.base import TargetRef
from llmd_triage.cluster.snapshot import SnapshotCluster, SnapshotData
from llmd_triage.probes.base import ProbeFailure
from llmd_triage.probes.pod_storage import classify_driver, tokens, vllm_flags
from llmd_triage.probes.registry import default_registry

PROBE = default_registry().get("pod.storage")
T = TargetRef("pod", "p", "ns")


def _pod(container: dict[str, Any], volumes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": [{"name": "vllm", **container}], "volumes": volumes},
        "status": {"phase": "Running"},
    }


def _cluster(*objects: dict[str, Any], errors: list[dict[str, Any]] | None = None) -> SnapshotCluster:
    data = SnapshotData(namespace="ns")
    data.add_inline({"objects": list(objects), "errors": errors or []})
    return SnapshotCluster(data)


PVC = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {"name": "model-pvc", "namespace": "ns"},
    "spec": {"storageClassName": "nfs-csi", "volumeName": "pvc-1", "accessModes": ["ReadWriteMany"]},
    "status": {"phase": "Bound", "capacity": {"storage": "2Ti"}},
}
PV = {
    "apiVersion": "v1",
    "kind": "PersistentVolume",
    "metadata": {"name": "pvc-1"},
    "spec": {
        "storageClassName": "nfs-csi",
        "csi": {"driver": "nfs.csi.k8s.io", "volumeAttributes": {"server": "10.0.0.5", "share": "/models"}},
    },
}
SC = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": "nfs-csi"},
    "provisioner": "nfs.csi.k8s.io",
    "parameters": {"server": "10.0.0.5", "share": "/models", "csi.storage.k8s.io/provisioner-secret-name": "x"},
}
HF_ON_PVC = _pod(
    {
        "command": ["vllm", "serve"],
        "args": ["Qwen/Qwen3-32B", "--tensor-parallel-size", "2", "--safetensors-load-strategy=eager"],
        "env": [
            {"name": "HF_HOME", "value": "/model-cache"},
            {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "t", "key": "k"}}},
        ],
        "volumeMounts": [
            {"name": "model-cache", "mountPath": "/model-cache"},
            {"name": "dshm", "mountPath": "/dev/shm"},
            {"name": "token", "mountPath": "/var/run/token"},
        ],
    },
    [
        {"name": "model-cache", "persistentVolumeClaim": {"claimName": "model-pvc"}},
        {"name": "dshm", "emptyDir": {"medium": "Memory"}},
        {"name": "token", "secret": {"secretName": "t"}},
    ],
)


async def test_pvc_followed_to_pv_and_storage_class() -> None:
    res = await PROBE.run({}, T, _cluster(HF_ON_PVC, PVC, PV, SC))
    d = res.data
    assert d["container"] == "vllm"
    assert d["model"] == {
        "ref": "Qwen/Qwen3-32B",
        "scheme": "hf",
        "read_path": "/model-cache/hub",
        "volume": "model-cache",
        "mount_path": "/model-cache",
        "backing": "network-fs",
        "lifetime": "cluster",
        "chain": "volume model-cache -> PVC model-pvc -> PV pvc-1 -> StorageClass nfs-csi (nfs.csi.k8s.io: network-fs)",
    }
    assert (d["backing"], d["lifetime"]) == ("network-fs", "cluster")
    vol = d["volumes"][0]
    assert vol["claim"] == "model-pvc" and vol["pv"] == "pvc-1" and vol["storage_class"] == "nfs-csi"
    assert (vol["provisioner"], vol["driver"]) == ("nfs.csi.k8s.io", "nfs.csi.k8s.io")
    assert vol["access_modes"] == ["ReadWriteMany"] and vol["capacity"] == "2Ti"
    assert "csi.storage.k8s.io/provisioner-secret-name" not in vol["parameters"]
    assert [v["name"] for v in d["volumes"]] == ["model-cache", "dshm"]  # the secret volume is left out
    assert d["volumes"][1]["backing"] == "memory"
    assert d["hf_cache"]["source"] == "HF_HOME"
    assert d["vllm_cache"] == {
        "path": "/root/.cache/vllm",
        "source": "default",
        "volume": None,
        "mount_path": None,
        "backing": "container-fs",
        "lifetime": "container",
        "chain": "the container filesystem (no volume)",
    }
    assert d["flags"]["tensor_parallel_size"] == 2
    assert d["flags"]["safetensors_load_strategy"] == "eager"
    assert "HF_TOKEN" not in d["env"] and d["env"] == {"HF_HOME": "/model-cache"}
    assert d["errors"] == []
    assert "PVC model-pvc -> PV pvc-1 -> StorageClass nfs-csi" in res.summary
    assert res.evidence[0].startswith("/model-cache: volume model-cache -> PVC model-pvc")


async def test_a_failed_hop_is_recorded_and_the_storage_class_still_answers() -> None:
    err = [{"op": "get", "kind": "PersistentVolume", "error": {"kind": "forbidden", "message": "pv is forbidden"}}]
    res = await PROBE.run({}, T, _cluster(HF_ON_PVC, PVC, PV, SC, errors=err))
    vol = res.data["volumes"][0]
    assert vol["error"] == "PersistentVolume pvc-1: forbidden: pv is forbidden"
    assert vol["backing"] == "network-fs"  # from the StorageClass provisioner
    assert res.data["errors"] == ["PersistentVolume pvc-1: forbidden: pv is forbidden"]


async def test_static_nfs_pv_without_storage_class() -> None:
    pvc = {**PVC, "spec": {"storageClassName": "", "volumeName": "models-nfs"}}
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "models-nfs"},
        "spec": {"nfs": {"server": "filer.lan", "path": "/export/models"}},
    }
    res = await PROBE.run({}, T, _cluster(HF_ON_PVC, pvc, pv))
    vol = res.data["volumes"][0]
    assert (vol["backing"], vol["server"], vol["path"]) == ("network-fs", "filer.lan", "/export/models")
    assert vol["storage_class"] is None and res.data["errors"] == []


async def test_object_store_model_and_shell_script_args() -> None:
    pod = _pod(
        {
            "command": ["/bin/sh", "-c"],
            "args": [
                "vllm serve s3://models/llama-70b \\\n  --load-format runai_streamer"
                " --model-loader-extra-config '{\"concurrency\": 16}' -tp 4"
            ],
        },
        [],
    )
    d = (await PROBE.run({}, T, _cluster(pod))).data
    assert d["model"]["scheme"] == "s3" and d["backing"] == "object-store" and d["lifetime"] == "cluster"
    assert d["flags"]["load_format"] == "runai_streamer"
    assert d["flags"]["model_loader_extra_config"] == '{"concurrency": 16}'
    assert d["flags"]["tensor_parallel_size"] == 4


async def test_host_path_cache_and_local_path_model() -> None:
    pod = _pod(
        {
            "args": ["--model", "/models/llama", "--download-dir=/hf"],
            "env": [{"name": "VLLM_CACHE_ROOT", "value": "/hf/vllm"}],
            "volumeMounts": [{"name": "hf", "mountPath": "/hf"}, {"name": "models", "mountPath": "/models"}],
        },
        [
            {"name": "hf", "hostPath": {"path": "/mnt/nvme/hf", "type": "DirectoryOrCreate"}},
            {"name": "models", "emptyDir": {}},
        ],
    )
    d = (await PROBE.run({}, T, _cluster(pod))).data
    assert d["model"]["read_path"] == "/models/llama" and d["model"]["backing"] == "node-ephemeral"
    assert d["model"]["lifetime"] == "pod"
    assert d["hf_cache"]["path"] == "/hf" and d["hf_cache"]["source"] == "--download-dir"
    assert (d["vllm_cache"]["backing"], d["vllm_cache"]["lifetime"]) == ("host-path", "node")
    assert d["volumes"][0]["path"] == "/mnt/nvme/hf"


async def test_generic_ephemeral_volume_uses_the_pod_volume_claim_name() -> None:
    pod = _pod(
        {"args": ["--model", "/data/m"], "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
        [{"name": "data", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}],
    )
    pvc = {**PVC, "metadata": {"name": "p-data", "namespace": "ns"}, "spec": {"storageClassName": "gp3"}}
    sc = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "gp3"},
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3", "throughput": "125"},
    }
    vol = (await PROBE.run({}, T, _cluster(pod, pvc, sc))).data["volumes"][0]
    assert vol["claim"] == "p-data" and vol["backing"] == "network-block"
    assert vol["parameters"] == {"type": "gp3", "throughput": "125"}


async def test_unreadable_pod_fails_the_probe() -> None:
    with pytest.raises(ProbeFailure) as e:
        await PROBE.run({}, T, _cluster())
    assert e.value.kind == "not_found"


@pytest.mark.parametrize(
    ("name", "backing"),
    [
        ("nfs.csi.k8s.io", "network-fs"),
        ("rook-ceph.cephfs.csi.ceph.com", "network-fs"),
        ("fsx.csi.aws.com", "network-fs"),
        ("lustre.csi.storage.gke.io", "network-fs"),
        ("s3.csi.aws.com", "object-fuse"),
        ("gcsfuse.csi.storage.gke.io", "object-fuse"),
        ("rook-ceph.rbd.csi.ceph.com", "network-block"),
        ("ebs.csi.aws.com", "network-block"),
        ("rancher.io/local-path", "local-disk"),
        ("kubernetes.io/no-provisioner", "local-disk"),
        ("example.com/mystery", "unknown"),
        (None, "unknown"),
    ],
)
def test_classify_driver(name: str | None, backing: str) -> None:
    assert classify_driver(name) == backing


def test_azure_blob_over_nfs_is_a_network_filesystem() -> None:
    assert classify_driver("blob.csi.azure.com") == "object-fuse"
    assert classify_driver("blob.csi.azure.com", {"protocol": "nfs"}) == "network-fs"


def test_flags_from_api_server_entrypoint() -> None:
    argv = tokens(["python3", "-m", "vllm.entrypoints.openai.api_server"], ["--model=/mnt/models", "--enforce-eager"])
    flags = vllm_flags(argv)
    assert flags["model"] == "/mnt/models" and flags["enforce_eager"] is True


def test_model_first_in_args_for_the_vllm_openai_entrypoint() -> None:
    args = ["Qwen/Qwen3-8B", "--max-model-len", "131072"]
    assert vllm_flags(tokens([], args), args_only=True)["model"] == "Qwen/Qwen3-8B"
    assert vllm_flags(tokens(["python3", "app.py"], args))["model"] is None
    assert vllm_flags(tokens([], ["--port", "8000"]), args_only=True)["model"] is None


def test_cluster_scoped_reads_are_not_required_by_preflight() -> None:
    needs = {(n.resource, n.group) for n in PROBE.needs({}, T) if not n.optional}
    assert needs == {("pods", ""), ("persistentvolumeclaims", "")}
    optional = {(n.resource, n.group) for n in PROBE.needs({}, T) if n.optional}
    assert optional == {("persistentvolumes", ""), ("storageclasses", "storage.k8s.io")}  # `rbac` grants them
