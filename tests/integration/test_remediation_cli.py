"""Remediation without a terminal: only with --apply-remediation, dangerous kinds only with their own flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmd_triage.cli.main import main
from llmd_triage.cluster.snapshot import load_snapshot
from tests.integration.apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "trees" / "snapshots" / "demo"


@pytest.fixture
def srv() -> FakeApiServer:
    s = FakeApiServer(load_snapshot(DEMO)).start()
    s.allow_remediation_writes = True
    yield s  # type: ignore[misc]
    s.stop()


def _scan(srv: FakeApiServer, tmp_path: Path, *flags: str) -> int:
    kc = srv.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm-d-demo")
    audit = tmp_path / "audit.jsonl"
    return main(["scan", "--kubeconfig", str(kc), "-q", "-o", "json", "--audit-log", str(audit), *flags])


def test_without_the_flag_nothing_changes(
    srv: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _scan(srv, tmp_path) == 1
    assert srv.remediations == [] and not (tmp_path / "audit.jsonl").exists()
    assert {j.method for j in srv.journal} <= {"GET", "POST"}  # POST: access reviews only
    assert all("selfsubjectaccessreviews" in j.path for j in srv.journal if j.method == "POST")


def test_the_flag_applies_safe_actions_and_skips_dangerous_ones(
    srv: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _scan(srv, tmp_path, "--apply-remediation") == 1
    err = capsys.readouterr().err
    assert srv.remediations == ["cordon node/gpu-node-c"]
    assert "kubectl cordon gpu-node-c: done" in err
    assert "skipped kubectl drain gpu-node-c" in err and "skipped kubectl delete pod qwen3-32b-decode" in err
    lines = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(x["action"], x["dry_run"], x["result"]) for x in lines] == [("cordon", "ok", "done")]


def test_dangerous_actions_need_their_own_flag(srv: FakeApiServer, tmp_path: Path) -> None:
    assert _scan(srv, tmp_path, "--apply-remediation", "--apply-dangerous-remediation") == 1
    assert srv.remediations == [
        "cordon node/gpu-node-c",
        "cordon node/gpu-node-c",  # drain cordons again (already cordoned: no new annotation), then evicts
        "delete pod/llm-d-demo/qwen3-32b-decode-5f7d9c8b6-7xk2p",
    ]


def test_never_on_a_snapshot(capsys: pytest.CaptureFixture[str]) -> None:
    main(["scan", "--demo", "-q", "-o", "json", "--apply-remediation", "--apply-dangerous-remediation"])
    assert "not applied: 3 action(s), but a snapshot cannot be changed" in capsys.readouterr().err


def test_lint_lists_every_action(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--actions", "--output", "json"]) == 0
    actions = json.loads(capsys.readouterr().out)["actions"]
    assert {(a["tree"], a["leaf"], a["kind"], a["dangerous"]) for a in actions} == {
        ("gpu-xid", "reboot-node", "cordon", False),
        ("gpu-xid", "reboot-node", "drain", True),
        ("gpu-xid", "reset-gpu", "cordon", False),
        ("gpu-xid", "reset-gpu", "drain", True),
        ("gpu-xid", "restart-app", "delete-pod", True),
        ("oom-kill", "clear-shm", "delete-pod", True),
    }
    assert all(a["file"].endswith(".yaml") and a["line"] > 0 for a in actions)
