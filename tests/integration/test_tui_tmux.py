"""The installed `llmd-triage` in a real terminal (tmux) against the loopback API server: scan, open the worst
finding, read the fix, copy a command, go back, quit. What the SRE sees is what `tmux capture-pane` returns."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmd_triage.cluster.snapshot import load_snapshot
from tests.integration.apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "trees" / "snapshots" / "demo"
TMUX = shutil.which("tmux")
EXE = Path(sys.executable).with_name("llmd-triage")


def _need_tmux() -> str:
    if TMUX and EXE.exists():
        return TMUX
    reason = "tmux (Debian package tmux) and an installed llmd-triage are needed: run ./dev test"
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI must run the tmux test: {reason}")
    pytest.skip(reason)


class Pane:
    """One tmux pane on a private tmux server (`-L`), never the developer's own."""

    def __init__(self, tmux: str, socket: str) -> None:
        self.base = [tmux, "-L", socket]
        self.target = socket

    def text(self) -> str:
        return subprocess.run(
            [*self.base, "capture-pane", "-p", "-t", self.target], capture_output=True, text=True
        ).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.base, "send-keys", "-t", self.target, *keys], check=True)

    def wait_for(self, needle: str, timeout: float = 20.0) -> str:
        end = time.monotonic() + timeout
        text = ""
        while time.monotonic() < end:
            text = self.text()
            if needle in text:
                return text
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} never appeared; the pane shows:\n{text}")


@pytest.fixture
def pane(tmp_path: Path) -> Iterator[Pane]:
    tmux = _need_tmux()
    srv = FakeApiServer(load_snapshot(DEMO)).start()
    kc = srv.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm-d-demo")
    session = f"llmd-triage-test-{os.getpid()}"
    env = {
        "HOME": str(tmp_path),
        "PATH": os.environ.get("PATH", ""),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    cmd = f"cd {tmp_path} && {EXE} tui --kubeconfig {kc} --audit-log {tmp_path / 'audit.jsonl'}; sleep 30"
    p = Pane(tmux, session)
    subprocess.run(
        [*p.base, "-f", "/dev/null", "new-session", "-d", "-s", session, "-x", "100", "-y", "32", cmd],
        check=True,
        env=env,
    )
    try:
        yield p
    finally:
        subprocess.run([*p.base, "kill-server"], capture_output=True)
        srv.stop()


def test_a_whole_walk_in_a_real_terminal(pane: Pane, tmp_path: Path) -> None:
    first = pane.wait_for("finding(s) over", timeout=30)  # the start screen scans by itself
    assert "context loopback" in first and "namespace llm-d-demo" in first
    assert "5 finding(s) over 11 target(s)" in first
    assert "CRIT  node/gpu-node-c" in first
    pane.keys("Enter")  # worst first: the Xid 79 node
    walk = pane.wait_for("GPU Xid fault on node/gpu-node-c", timeout=20)
    assert "read-kernel-log" in walk and "Reboot node gpu-node-c" in walk
    pane.keys("f")
    fix = pane.wait_for("Steps — c copies the command")
    assert "kubectl cordon gpu-node-c" in fix
    assert "Actions — a runs one after you confirm it" in fix  # live cluster: actions are offered
    pane.keys("c")
    pane.wait_for("copied: kubectl cordon gpu-node-c")
    pane.keys("e")
    pane.wait_for("wrote ")
    assert len(list(tmp_path.glob("llmd-triage-gpu-node-c-*.json"))) == 1
    pane.keys("Escape")
    pane.wait_for("GPU Xid fault on node/gpu-node-c")
    pane.keys("Escape")
    pane.wait_for("Trees — Enter picks a target for one")
    pane.keys("q")
    deadline = time.monotonic() + 10
    while "Trees — Enter" in pane.text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Trees — Enter" not in pane.text()  # the app left the alternate screen
