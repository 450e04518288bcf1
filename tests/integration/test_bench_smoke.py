"""Smoke test of the scale benchmark's harness (bench/scan.py) at its smallest size, for correctness only.

It generates a 10-node synthetic install, serves it with the loopback API server (no added latency),
runs `llmd-triage scan` and the kubectl runbook (when kubectl is installed) as bench/scan.py does,
and checks what the benchmark's table reports: every injected fault found, no false finding, about
one LIST per kind and scope, and exec/log calls only for the targets the entry conditions picked.
No timing is asserted: `python bench/scan.py` measures.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest

from llmd_triage.cluster.snapshot import load_snapshot

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import scan as bench_scan  # noqa: E402
import synth  # noqa: E402

KUBECTL = shutil.which("kubectl")


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(folder)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def test_generator_is_deterministic_and_declares_six_faults(tmp_path: Path) -> None:
    a = synth.generate(12, tmp_path / "a", seed=3)
    synth.generate(12, tmp_path / "b", seed=3)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert len(a.faults) == 6 and a.pods > 80
    assert {f.expect[0][0] for f in a.faults} == {
        "oom-kill",
        "gpu-xid",
        "rdma-link-down",
        "slow-model-load",
        "p2p-disabled",
    }
    with pytest.raises(ValueError):
        synth.generate(5, tmp_path / "c")


def test_scan_of_a_ten_node_install_through_the_real_client(tmp_path: Path) -> None:
    res = bench_scan.run_size(10, latency=0.0, baseline=False, workdir=tmp_path)
    t = res.triage
    assert t.returncode == 1, t.note  # findings
    assert (t.found, t.false, t.false_targets) == (t.faults, 0, [])
    assert t.faults == 6 and res.runbook is None

    # about one LIST per kind and scope: pods and nodes (discovery), events in the model namespace
    assert t.by_verb.get("list", 0) <= 6, t.by_verb
    # exec and logs only for the picked targets: their pods, and the driver pods of their nodes
    report = json.loads((tmp_path / "triage.json").read_text())
    data = load_snapshot(tmp_path / "snapshot")
    picked_pods = {w["target"]["name"] for w in report["walks"] if w["target"]["kind"] == "pod"}
    nodes = {w["target"]["name"] for w in report["walks"] if w["target"]["kind"] == "node"}
    nodes |= {data.objects[("pod", "llm-d", p)]["spec"]["nodeName"] for p in picked_pods}
    drivers = {
        name
        for (kind, ns, name), obj in data.objects.items()
        if kind == "pod" and ns == "gpu-operator" and obj["spec"].get("nodeName") in nodes
    }
    touched = set()
    for line in (tmp_path / "triage.journal").read_text().splitlines():
        verb, _status, _ms, request = line.split("\t")
        if verb in ("exec", "logs"):
            touched.add(request.split("/pods/")[1].split("/")[0])
    assert touched and touched <= picked_pods | drivers
    assert len(nodes) < 10  # healthy nodes were never exec'd into


def test_the_kubectl_runbook_at_ten_nodes(tmp_path: Path) -> None:
    version = bench_scan.kubectl_version(KUBECTL) if KUBECTL else None
    if KUBECTL is None or version is None or version < bench_scan.WEBSOCKET_EXEC:
        pytest.skip(f"needs kubectl 1.30 or later on PATH (exec over WebSocket); found {KUBECTL} {version}")
    res = bench_scan.run_size(10, latency=0.0, baseline=True, kubectl=KUBECTL, workdir=tmp_path)
    b = res.runbook
    assert b is not None and b.returncode == 0 and not b.note
    # the runbook's greps flag every fault that shows in its output (all but the ACS one) and trip
    # over the node with old application Xids
    assert b.found == 5 and b.false_targets and all(t.startswith("node/") for t in b.false_targets)
    assert b.by_verb.get("exec", 0) == 4 * 10  # dmesg, nvidia-smi, ibstat, topo on every GPU node
    assert len((tmp_path / "runbook" / "restarted.txt").read_text().splitlines()) >= 3
