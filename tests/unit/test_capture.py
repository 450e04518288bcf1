"""Capture records exactly what the walk read; replaying the capture gives the same walk."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from llmd_triage.cli.main import load_tree_set
from llmd_triage.cluster.base import parse_target
from llmd_triage.cluster.capture import RecordingCluster, write_snapshot
from llmd_triage.cluster.snapshot import SnapshotCluster, load_snapshot
from llmd_triage.engine.walk import walk
from llmd_triage.errors import SnapshotError
from llmd_triage.testing.cases import build_cluster, discover_cases, load_case

ROOT = Path(__file__).resolve().parents[2]
TREES = load_tree_set(ROOT / "trees")
CASES = [c for c in discover_cases([ROOT / "trees" / "tests"]) if "results:" not in c.read_text()]


def _shape(w):  # what must be equal between the original and the replay
    return [(s.node, s.status, s.summary, s.next, s.evidence, (s.error or {}).get("kind")) for s in w.steps], (
        w.leaf.id if w.leaf else None,
        w.leaf.verdict if w.leaf else None,
    )


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
@pytest.mark.parametrize("archive", [False, True])
async def test_capture_then_replay_gives_the_same_walk(path: Path, archive: bool, tmp_path: Path) -> None:
    case = load_case(path)
    tree = TREES[case.tree]
    target = parse_target(case.data["target"], case.data.get("namespace"))
    rec = RecordingCluster(build_cluster(case))
    original = await walk(tree, target, rec)
    dest = write_snapshot(rec.data, tmp_path / ("cap.tar.gz" if archive else "cap"), default_target=target.ref)
    replay = await walk(tree, target, SnapshotCluster(load_snapshot(dest)))
    assert _shape(replay) == _shape(original)


async def test_capture_redacts_secrets(tmp_path: Path) -> None:
    from llmd_triage.cluster.snapshot import SnapshotData

    data = SnapshotData(namespace="ns")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "containers": [{"name": "vllm", "env": [{"name": "HF_TOKEN", "value": "hf_abcdefghijklmnopqrstuvwx"}]}]
        },
        "status": {},
    }
    data.add_inline(
        {
            "objects": [pod],
            "logs": {"ns/p/vllm": "Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123\n"},
            "exec": [
                {"pod": "p", "namespace": "ns", "argv": ["env"], "stdout": "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI\n"}
            ],
        }
    )
    rec = RecordingCluster(SnapshotCluster(data))
    await rec.get("v1", "Pod", "p", "ns")
    await rec.logs("ns", "p", "vllm")
    await rec.exec("ns", "p", None, ["env"])
    out = write_snapshot(rec.data, tmp_path / "cap")
    text = "".join(f.read_text() for f in out.rglob("*") if f.is_file())
    for secret in ("hf_abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwxyz0123", "wJalrXUtnFEMI"):
        assert secret not in text
    assert "<redacted>" in text


def test_archive_with_path_traversal_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar.gz"
    payload = tmp_path / "passwd"
    payload.write_text("root:x:0:0\n")
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(payload, arcname="../../etc/passwd")
    with pytest.raises(SnapshotError, match=r"refusing archive entry '\.\./\.\./etc/passwd'"):
        load_snapshot(evil)


def test_bad_errors_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "errors.yaml").write_text("op: get\nkind: Pod\n")
    with pytest.raises(SnapshotError, match="injected errors must be a list of mappings"):
        load_snapshot(tmp_path)
