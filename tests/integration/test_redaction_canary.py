"""Redaction canaries: secrets planted where a cluster really holds them (a pod's env, a log line, exec
output, the kubeconfig) never reach any byte the tool writes, in any format: stdout, stderr, report
files, capture folders and archives.

Each planted secret carries a marker (`canary1` ... `canary7`, any case) in its secret part, so a partial
leak (a clipped value, half a key) is caught too. A control run with redaction switched off shows the
canaries do reach the writers, so the test proves redaction, not that nothing looked.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmd_triage.cli.main import main
from llmd_triage.cluster.snapshot import load_snapshot
from tests.integration.apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "trees" / "snapshots" / "demo"
DECODE = "qwen3-32b-decode-5f7d9c8b6-7xk2p"
NS = "llm-d-demo"
MARKER = re.compile(r"canary\d", re.I)

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnk0IiwiY2FuYXJ5NCI6MX0.canary4SignatureBytesXyZ0123456789"
PEM_BODY = ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCcanary5aaaaaaaa", "c2VjcmV0Y2FuYXJ5NWJvZHkK"]
PLANTED = {
    "pod env HF_TOKEN": "hf_canary1HuggingFaceTokenABCDEFGH",
    "pod env AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/canary2/bPxRfiCY",
    "pod env DB_PASSWORD": "hunter2-canary3-hunter2",
    "log JWT": JWT,
    "log bearer": "Canary6BearerTokenQwErTy0123456789",
    "exec PEM private key": PEM_BODY[0],
    "exec AWS access key id": "AKIACANARY7XAMPLE123",
}


def _plant(dest: Path) -> Path:
    """The bundled demo with secrets in the decode pod's env, a log line the slow-model-load tree quotes, and
    the /dev/shm listing the oom-kill tree quotes."""
    shutil.copytree(DEMO, dest)
    pods_file = dest / "objects" / "pods.yaml"
    pods = yaml.safe_load(pods_file.read_text())
    decode = next(p for p in pods["items"] if p["metadata"]["name"] == DECODE)
    vllm = next(c for c in decode["spec"]["containers"] if c["name"] == "vllm")
    vllm["env"] = [
        {"name": "HF_TOKEN", "value": PLANTED["pod env HF_TOKEN"]},
        {"name": "AWS_SECRET_ACCESS_KEY", "value": PLANTED["pod env AWS_SECRET_ACCESS_KEY"]},
        {"name": "DB_PASSWORD", "value": PLANTED["pod env DB_PASSWORD"]},
        *[e for e in vllm.get("env") or [] if e.get("name") != "HF_TOKEN"],
    ]
    pods_file.write_text(yaml.safe_dump(pods, sort_keys=False))
    log = dest / "logs" / NS / "deepseek-r1-0" / "vllm.log"
    text = log.read_text()
    line = next(x for x in text.splitlines() if "Loading weights took" in x)
    planted = f"{line} (hub auth Authorization: Bearer {PLANTED['log bearer']} id {JWT})"
    log.write_text(text.replace(line, planted))
    execs_file = dest / "exec" / NS / f"{DECODE}.yaml"
    execs = yaml.safe_load(execs_file.read_text())
    ls = next(r for r in execs if r["argv"] == ["ls", "-la", "/dev/shm"])
    ls["stdout"] += (
        "\n".join(
            [
                "-----BEGIN PRIVATE KEY-----",
                *PEM_BODY,
                "-----END PRIVATE KEY-----",
                f"aws_key {PLANTED['exec AWS access key id']}",
            ]
        )
        + "\n"
    )
    execs_file.write_text(yaml.safe_dump(execs, sort_keys=False))
    return dest


@pytest.fixture(scope="module")
def canary_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _plant(tmp_path_factory.mktemp("canary") / "demo")


def _client_key(folder: Path) -> tuple[str, str]:
    """A real client certificate and key (kubeconfig client-certificate-data / client-key-data), base64."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs openssl")
    key, crt = folder / "client.key", folder / "client.crt"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(crt), "-days", "1", "-subj", "/CN=canary-user"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return base64.b64encode(crt.read_bytes()).decode(), base64.b64encode(key.read_bytes()).decode()


def _everything_written(root: Path, streams: list[str]) -> Iterator[tuple[str, str]]:
    yield from (("stdout/stderr", s) for s in streams)
    for f in sorted(root.rglob("*")):
        if not f.is_file():
            continue
        if f.name.endswith(".tar.gz"):
            with tarfile.open(f) as tar:
                for m in tar.getmembers():
                    fh = tar.extractfile(m)
                    if fh is not None:
                        yield f"{f.name}:{m.name}", fh.read().decode("utf-8", "replace")
        else:
            yield str(f.relative_to(root)), f.read_bytes().decode("utf-8", "replace")


def _leaks(root: Path, streams: list[str], secrets: dict[str, str]) -> list[str]:
    out = []
    for where, text in _everything_written(root, streams):
        for m in MARKER.finditer(text):
            out.append(f"{where}: ...{text[max(m.start() - 60, 0) : m.end() + 20]}...")
        for name, secret in secrets.items():
            if secret in text:
                out.append(f"{where}: {name}")
    return out


def _run_everything(snapshot: Path, out: Path, capsys: pytest.CaptureFixture[str], *, full: bool = True) -> list[str]:
    streams: list[str] = []

    def cli(argv: list[str]) -> None:
        main(argv)
        cap = capsys.readouterr()
        streams.extend([cap.out, cap.err])

    out.mkdir()
    decode = f"pod/{DECODE}"
    if not full:  # the control: enough to show every canary reaches a writer
        cli(["scan", "--snapshot", str(snapshot), "-o", "json"])
        cli(["capture", "--snapshot", str(snapshot), "--target", decode, "-n", NS, "-o", str(out / "cap")])
        return streams
    for ext in ("md", "json", "html", "xml"):
        cli(["scan", "--snapshot", str(snapshot), "-o", str(out / f"scan.{ext}")])
        cli(["run", "--snapshot", str(snapshot), "--target", decode, "-o", str(out / f"run.{ext}")])
    for fmt in ("markdown", "junit"):  # and on stdout
        cli(["scan", "--snapshot", str(snapshot), "-o", fmt])
    cli(
        ["run", "--snapshot", str(snapshot), "--target", "pod/deepseek-r1-0", "--tree", "slow-model-load", "-o", "html"]
    )
    cli(["capture", "--snapshot", str(snapshot), "--target", decode, "-n", NS, "-o", str(out / "cap-decode")])
    cli(
        [
            "capture",
            "--snapshot",
            str(snapshot),
            "--target",
            "pod/deepseek-r1-0",
            "-n",
            NS,
            "-o",
            str(out / "ds.tar.gz"),
        ]
    )
    return streams


def test_no_canary_reaches_any_output(
    canary_snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    streams = _run_everything(canary_snapshot, tmp_path / "out", capsys)
    assert _leaks(tmp_path / "out", streams, PLANTED) == []
    written = "".join(t for _, t in _everything_written(tmp_path / "out", streams))
    assert "<redacted>" in written


def test_control_without_redaction_the_canaries_do_reach_the_writers(
    canary_snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import llmd_triage.cluster.capture as capture
    import llmd_triage.report.json_report as json_report

    def same(value: Any, key: str | None = None) -> Any:
        return value

    monkeypatch.setattr(json_report, "redact", same)
    monkeypatch.setattr(capture, "redact", same)
    monkeypatch.setattr(capture, "redact_text", lambda text: text)
    streams = _run_everything(canary_snapshot, tmp_path / "out", capsys, full=False)
    leaked = "\n".join(_leaks(tmp_path / "out", streams, PLANTED))
    for name, secret in PLANTED.items():
        assert name in leaked or secret in leaked, f"{name} never reached a writer: the canary would prove nothing"


def test_kubeconfig_credentials_never_reach_output(
    canary_snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A live scan and capture through a kubeconfig whose token and client key are canaries."""
    cert_b64, key_b64 = _client_key(tmp_path)
    token = "kubeconfig-canary8-token-0123456789abcdef"
    srv = FakeApiServer(load_snapshot(canary_snapshot), token=token).start()
    try:
        kc = srv.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS)
        cfg = yaml.safe_load(kc.read_text())
        cfg["users"][0]["user"].update({"client-certificate-data": cert_b64, "client-key-data": key_b64})
        kc.write_text(yaml.safe_dump(cfg))
        out = tmp_path / "out"
        out.mkdir()
        streams: list[str] = []
        for argv in (
            ["scan", "--kubeconfig", str(kc), "-o", str(out / "live.json")],
            ["run", "--kubeconfig", str(kc), "--target", f"pod/{DECODE}", "-o", str(out / "live.html")],
            ["capture", "--kubeconfig", str(kc), "--target", f"pod/{DECODE}", "-o", str(out / "live.tar.gz")],
        ):
            assert main(argv) in (0, 1)
            cap = capsys.readouterr()
            streams += [cap.out, cap.err]
        assert srv.journal and not [j for j in srv.journal if j.status == 401]  # the token was used
    finally:
        srv.stop()
    key_pem = base64.b64decode(key_b64).decode()
    key_lines = [x for x in key_pem.splitlines() if x and not x.startswith("-----")]
    secrets = {**PLANTED, "kubeconfig token": token, "kubeconfig client-key-data": key_b64}
    secrets |= {f"client key line {i}": line for i, line in enumerate(key_lines)}
    assert _leaks(out, streams, secrets) == []
    assert {p.name for p in out.iterdir()} == {"live.json", "live.html", "live.tar.gz"}
