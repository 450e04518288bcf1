"""A real Prometheus for the tests: backfilled DCGM-exporter and vLLM series, loopback only.

`running_prometheus(dir)` writes an OpenMetrics file spanning the last 30 minutes at 15 s, turns it
into TSDB blocks with `promtool tsdb create-blocks-from openmetrics`, starts `prometheus` on
127.0.0.1 at a free port, waits for /-/ready, and stops it (terminate, then kill) on exit.

Without the `prometheus`/`promtool` binaries (Debian package `prometheus`) the tests skip with the
reason, except under CI (env CI set), where they fail: CI must run them.

What the installed version (2.42, Debian bookworm) needed: nothing special for recent data. A fresh
server has an empty head, so blocks reaching up to "now" load without overlap complaints; the data
ends 30 s before the fixture starts. `--query.lookback-delta=1h` keeps instant queries at "now"
answering even if a slow run queries minutes later (the default lookback is 5 minutes).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SPAN_S = 1800
STEP_S = 15
MODEL = "Qwen/Qwen3-32B"
NODE_A_GPU3 = {
    "gpu": "3",
    "UUID": "GPU-5f1c3a9e-8d2b-4c6f-9a71-0e4b2d6c8f13",
    "device": "nvidia3",
    "modelName": "NVIDIA H100 80GB HBM3",
    "Hostname": "gpu-node-a",
    "err_code": "79",
    "err_msg": "GPU has fallen off the bus",
    "container": "vllm",
    "namespace": "llm-d",
    "pod": "vllm-decode-0",
}
NODE_A_GPU0 = {
    **NODE_A_GPU3,
    "gpu": "0",
    "UUID": "GPU-0a7e61d2-3b94-4f08-b1c5-7d2e9f4a6b30",
    "device": "nvidia0",
    "err_code": "0",
    "err_msg": "",
    "pod": "vllm-decode-1",
}
NODE_B_GPU1 = {
    **NODE_A_GPU3,
    "gpu": "1",
    "UUID": "GPU-c4d8e2f1-6a3b-49e7-8f20-b1d5a9c7e346",
    "device": "nvidia1",
    "Hostname": "gpu-node-b",
    "err_code": "13",
    "err_msg": "Graphics Engine Exception",
    "pod": "vllm-decode-2",
}
#: preemptions of vllm-decode-0 grow by this much every STEP_S: the last value is 3 * (SPAN_S / STEP_S)
PREEMPTIONS_PER_STEP = 3


@dataclass
class PromServer:
    url: str
    port: int
    data_dir: Path
    #: unix seconds of the first and last backfilled sample
    start: int
    end: int
    process: subprocess.Popen[bytes]
    log: Path


def require_binaries() -> tuple[str, str]:
    """Paths of prometheus and promtool; skip (fail under CI) with the exact reason when missing."""
    found = {name: shutil.which(name) for name in ("prometheus", "promtool")}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        reason = (
            f"{' and '.join(missing)} not on PATH: install the Debian package `prometheus` "
            "(./dev test does) to run the real-Prometheus tests"
        )
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(f"CI must run the real-Prometheus tests: {reason}")
        pytest.skip(reason)
    return found["prometheus"] or "", found["promtool"] or ""


def _labels(labels: dict[str, str]) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels.items()) + "}"


def openmetrics(end: int, span: int = SPAN_S, step: int = STEP_S) -> str:
    """The backfill file: one family after another, each series' points in time order, `# EOF` last."""
    times = list(range(end - span, end + 1, step))
    n = len(times)
    out: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")

    def points(name: str, labels: dict[str, str], values: list[float], first: int = 0) -> None:
        lab = _labels(labels)
        out.extend(f"{name}{lab} {v:g} {t}" for t, v in zip(times[first:], values[first:], strict=True))

    family("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered.")
    points("DCGM_FI_DEV_XID_ERRORS", NODE_A_GPU0, [0.0] * n)
    # the Xid 79 series appears two thirds into the window, the Xid 13 one near the end
    points("DCGM_FI_DEV_XID_ERRORS", NODE_A_GPU3, [79.0] * n, first=2 * n // 3)
    points("DCGM_FI_DEV_XID_ERRORS", NODE_B_GPU1, [13.0] * n, first=5 * n // 6)

    decode0 = {"model_name": MODEL, "namespace": "llm-d", "pod": "vllm-decode-0"}
    decode1 = {**decode0, "pod": "vllm-decode-1"}
    family("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.")
    points("vllm:kv_cache_usage_perc", decode0, [round(0.5 + 0.47 * i / (n - 1), 4) for i in range(n)])
    points("vllm:kv_cache_usage_perc", decode1, [0.41] * n)
    family("vllm:num_preemptions", "counter", "Cumulative number of preemption from the engine.")
    points("vllm:num_preemptions_total", decode0, [float(PREEMPTIONS_PER_STEP * i) for i in range(n)])
    points("vllm:num_preemptions_total", decode1, [0.0] * n)
    family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.")
    points("vllm:num_requests_waiting", decode0, [57.0] * n)
    out.append("# EOF")
    return "\n".join(out) + "\n"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def running_prometheus(workdir: Path, ready_within: float = 30.0) -> Iterator[PromServer]:
    prometheus, promtool = require_binaries()
    end = int(time.time()) - 30
    om = workdir / "backfill.om"
    om.write_text(openmetrics(end), encoding="utf-8")
    data_dir = workdir / "data"
    made = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(om), str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if made.returncode != 0:
        pytest.fail(f"promtool could not backfill {om}:\n{made.stdout}\n{made.stderr}")
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\n  evaluation_interval: 1h\n", encoding="utf-8")
    log = workdir / "prometheus.log"
    last_problem = ""
    for _attempt in range(3):  # another process may take the free port between probe and bind
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={data_dir}",
                    "--storage.tsdb.retention.time=10y",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--query.lookback-delta=1h",
                    "--log.level=warn",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            deadline = time.monotonic() + ready_within
            while time.monotonic() < deadline and proc.poll() is None and not _ready(url):
                time.sleep(0.05)
            if proc.poll() is None and _ready(url):
                yield PromServer(url, port, data_dir, end - SPAN_S, end, proc, log)
                return
            last_problem = _tail(log)
            if proc.poll() is None:
                pytest.fail(f"prometheus at {url} was not ready within {ready_within:g}s:\n{last_problem}")
            if "address already in use" not in last_problem:
                pytest.fail(f"prometheus exited with {proc.returncode}:\n{last_problem}")
        finally:
            _stop(proc)
    pytest.fail(f"prometheus could not bind a free port in 3 tries:\n{last_problem}")
