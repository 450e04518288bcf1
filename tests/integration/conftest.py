"""Fixtures for integration tests against the loopback Kubernetes API server.

- `apiserver`: a started FakeApiServer serving the demo snapshot (stopped at teardown)
- `apiserver_factory(data, **kw)`: start more servers (other data, latency, token); all stopped at teardown
- `kubeconfig`: a kubeconfig for `apiserver`, written to tmp_path, default namespace llm-d-demo
- `kubectl(*args)`: run the real kubectl against `apiserver` (skips when there is no kubectl)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmd_triage.cluster.snapshot import SnapshotData, load_snapshot
from tests.integration.apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tests" / "fixtures" / "snapshots" / "small"  # frozen: the bundled demo grows
DEMO_NS = "llm-d-demo"
KUBECTL = shutil.which("kubectl")


@pytest.fixture
def demo_data() -> SnapshotData:
    """A fresh copy of the demo snapshot, free to change in a test."""
    return load_snapshot(DEMO)


@pytest.fixture
def apiserver_factory() -> Iterator[Callable[..., FakeApiServer]]:
    servers: list[FakeApiServer] = []

    def make(data: SnapshotData, **kw: Any) -> FakeApiServer:
        if kw.get("tls", True) and shutil.which("openssl") is None:
            pytest.skip("the loopback API server needs the openssl command to make its TLS certificate")
        server = FakeApiServer(data, **kw)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def apiserver(apiserver_factory: Callable[..., FakeApiServer], demo_data: SnapshotData) -> FakeApiServer:
    return apiserver_factory(demo_data)


@pytest.fixture
def kubeconfig(apiserver: FakeApiServer, tmp_path: Path) -> Path:
    return apiserver.write_kubeconfig(tmp_path / "kubeconfig", namespace=DEMO_NS)


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """kubectl(*args, kubeconfig=None, timeout=30) -> CompletedProcess; it never touches ~/.kube."""
    if KUBECTL is None:
        pytest.skip("kubectl is not installed")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env["HOME"] = str(home)

    default = kubeconfig

    def run(*args: str, kubeconfig: Path | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        cfg = kubeconfig or default
        cmd = [KUBECTL, "--kubeconfig", str(cfg), "--cache-dir", str(home / "cache"), "--request-timeout", "10s", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)

    return run
