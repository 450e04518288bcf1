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
