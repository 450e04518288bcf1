"""The non-interactive commands against the loopback API server, as a cron job or CI step runs them:
a real Ctrl-C or SIGTERM in the middle of a scan still leaves a valid, interrupted report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from llmd_triage.cluster.snapshot import load_snapshot
from llmd_triage.resources import schema
from tests.integration.apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parents[2]
BUNDLED_DEMO = ROOT / "trees" / "snapshots" / "demo"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "LLMD_TRIAGE_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_mid_scan_writes_the_walks_so_far(sig: signal.Signals, tmp_path: Path) -> None:
    srv = FakeApiServer(load_snapshot(BUNDLED_DEMO), latency=0.15).start()
    try:
        kc = srv.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm-d-demo")
        out = tmp_path / "report.json"
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmd_triage.cli.main", "scan", "--kubeconfig", str(kc), "-o", str(out)],
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        assert proc.stderr is not None
        lines = []
        deadline = time.monotonic() + 60
        for line in proc.stderr:  # plain progress lines: stderr is a pipe
            lines.append(line)
            if line.startswith("[1/"):
                proc.send_signal(sig)
                break
            assert time.monotonic() < deadline, lines
        _out, tail = proc.communicate(timeout=60)
        err = "".join(lines) + (tail or "")
    finally:
        srv.stop()
    assert proc.returncode == 130, err
    data = json.loads(out.read_text())
    jsonschema.Draft202012Validator(schema("report")).validate(data)
    assert data["interrupted"] is True
    assert 1 <= len(data["walks"]) < 9
    assert f"interrupted: writing the {len(data['walks'])} walk(s) finished so far" in err
    assert "Traceback" not in err and "never retrieved" not in err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def _service_account(srv: FakeApiServer, folder: Path, token: str) -> Path:
    folder.mkdir(parents=True)
    assert srv.ca_file is not None
    (folder / "token").write_text(token)
    (folder / "ca.crt").write_bytes(srv.ca_file.read_bytes())
    (folder / "namespace").write_text("llm-d-demo\n")
    return folder


@pytest.fixture
def in_cluster_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that looks like it runs in a pod: no kubeconfig anywhere, KUBERNETES_SERVICE_* set."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.kube/config


def test_scan_in_cluster_with_the_pod_service_account(
    in_cluster_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from llmd_triage.cli.main import main

    srv = FakeApiServer(load_snapshot(BUNDLED_DEMO), token="projected-sa-token").start()
    try:
        sa = _service_account(srv, tmp_path / "sa", "projected-sa-token")
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(srv.port))
        monkeypatch.setenv("LLMD_TRIAGE_SA_DIR", str(sa))
        assert main(["scan", "-q", "-o", "json"]) == 1  # the CronJob's command line
        data = json.loads(capsys.readouterr().out)
        assert data["scope"]["cluster"] == "in-cluster" and data["scope"]["namespace"] == "llm-d-demo"
        assert len(data["findings"]) == 5
        # the API server saw the service account's bearer token: every request passed its authentication
        assert srv.journal and not [j for j in srv.journal if j.status == 401]
        journal_len = len(srv.journal)
        _service_account(srv, tmp_path / "sa2", "a-revoked-token")
        monkeypatch.setenv("LLMD_TRIAGE_SA_DIR", str(tmp_path / "sa2"))
        assert main(["scan", "-q", "-o", "json"]) == 3  # rejected token: cluster unauthorized
        assert "credentials rejected" in capsys.readouterr().err
        assert {j.status for j in srv.journal[journal_len:]} == {401}
    finally:
        srv.stop()


def test_configuration_errors_exit_2(in_cluster_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from llmd_triage.cli.main import main

    assert main(["scan", "--kubeconfig", str(tmp_path / "missing"), "-q"]) == 2
    assert "cannot load cluster configuration" in capsys.readouterr().err
    kc = tmp_path / "kubeconfig"
    kc.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    assert main(["run", "--kubeconfig", str(kc), "--context", "nope", "--target", "pod/x", "-q"]) == 2
    err = capsys.readouterr().err
    assert "cannot load cluster configuration" in err and err.count("\n") == 1
