"""run and scan without a terminal: output destinations and formats, workload and namespace targets,
progress on stderr, the exit-code matrix, and an interrupted run that still leaves a valid report."""

from __future__ import annotations

import io
import json
import re
import signal
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from llmd_triage.cli import main as cli
from llmd_triage.cli.main import main
from llmd_triage.cli.output import resolve_output
from llmd_triage.cli.progress import Progress
from llmd_triage.cluster.base import ClusterError
from llmd_triage.cluster.snapshot import SnapshotCluster
from llmd_triage.errors import UsageError
from llmd_triage.resources import demo_snapshot, schema

ROOT = Path(__file__).resolve().parents[2]


def _validate(data: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(schema("report")).validate(data)


# ---------------------------------------------------------------- -o FORMAT | FILE


@pytest.mark.parametrize(
    "output,fmt,expect",
    [
        (None, None, ("markdown", None)),
        ("json", None, ("json", None)),
        ("junit", None, ("junit", None)),
        ("-", "html", ("html", None)),
        (None, "junit", ("junit", None)),
        ("r.md", None, ("markdown", "r.md")),
        ("r.markdown", None, ("markdown", "r.markdown")),
        ("r.JSON", None, ("json", "r.JSON")),
        ("r.htm", None, ("html", "r.htm")),
        ("junit.xml", None, ("junit", "junit.xml")),
        ("report.txt", "markdown", ("markdown", "report.txt")),
        ("r.json", "html", ("html", "r.json")),  # --format wins over the extension
    ],
)
def test_output_is_a_format_or_a_file(output: str | None, fmt: str | None, expect: tuple[str, str | None]) -> None:
    spec = resolve_output(output, fmt)
    assert (spec.format, str(spec.path) if spec.path else None) == expect


@pytest.mark.parametrize(
    "output,fmt,message",
    [
        ("report.txt", None, "the extension does not say one"),
        ("json", "html", "disagree"),
        ("/nonexistent/dir/r.json", None, "does not exist"),
    ],
)
def test_output_usage_errors(output: str, fmt: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        resolve_output(output, fmt)


@pytest.mark.parametrize("ext,fmt", [("md", "markdown"), ("json", "json"), ("html", "html"), ("xml", "junit")])
def test_scan_writes_each_format_to_a_file(
    ext: str, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / f"report.{ext}"
    assert main(["scan", "--demo", "-o", str(dest)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # the report went to the file
    assert f"wrote {dest} ({fmt})" in captured.err
    text = dest.read_text()
    if fmt == "json":
        _validate(json.loads(text))
    elif fmt == "junit":
        assert ET.fromstring(text).tag == "testsuites"
    elif fmt == "html":
        assert text.startswith("<!DOCTYPE html>")
    else:
        assert text.startswith("# llmd-triage report")
    assert [p.name for p in tmp_path.iterdir()] == [dest.name]  # no temporary file left behind


def test_a_failed_write_leaves_the_old_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "r.json"
    dest.write_text("previous report\n")

    def boom(*_a: Any, **_k: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", boom)
    assert main(["scan", "--demo", "-q", "-o", str(dest)]) == 2
    assert dest.read_text() == "previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


# ---------------------------------------------------------------- targets


def _report(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, Any], str]:
    code = main(argv)
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    _validate(data)
    return code, data, captured.err


def test_lws_target_walks_the_leader_and_its_workers(capsys: pytest.CaptureFixture[str]) -> None:
    code, data, err = _report(capsys, ["run", "--demo", "--target", "lws/deepseek-r1", "-o", "json"])
    assert code == 1
    assert "lws/deepseek-r1: 2 pod(s): deepseek-r1-0, deepseek-r1-0-1" in err
    pods = {w["target"]["name"] for w in data["walks"]}
    assert pods == {"deepseek-r1-0", "deepseek-r1-0-1"}
    assert {w["tree"] for w in data["walks"]} == {
        "oom-kill",
        "gpu-xid",
        "rdma-link-down",
        "p2p-disabled",
        "slow-model-load",
    }
    assert [(f["tree"], f["target"]["name"]) for f in data["findings"]] == [("rdma-link-down", "deepseek-r1-0")]


def test_deployment_target_walks_the_pods_its_selector_picks(capsys: pytest.CaptureFixture[str]) -> None:
    code, data, _ = _report(
        capsys, ["run", "--demo", "--tree", "slow-model-load", "--target", "deploy/qwen3-32b-prefill", "-o", "json"]
    )
    assert code == 1
    assert sorted(w["target"]["name"] for w in data["walks"]) == [
        "qwen3-32b-prefill-6b8c7d9f5-m4q8z",
        "qwen3-32b-prefill-6b8c7d9f5-w9r3t",
    ]
    assert data["scope"]["target"] == "deploy/qwen3-32b-prefill"


def test_namespace_target_is_the_scan_of_that_namespace(capsys: pytest.CaptureFixture[str]) -> None:
    code, by_run, _ = _report(capsys, ["run", "--demo", "--target", "ns/llm-d-demo", "-o", "json"])
    assert main(["scan", "--demo", "-n", "llm-d-demo", "-o", "json"]) == code == 1
    by_scan = json.loads(capsys.readouterr().out)
    assert by_run["findings"] == by_scan["findings"] and by_run["scope"]["namespace"] == "llm-d-demo"


def test_missing_workload_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--demo", "--target", "deploy/nope"]) == 2
    assert "nope" in capsys.readouterr().err


# ---------------------------------------------------------------- progress


def test_progress_plain_lines_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--demo", "-o", "json"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "scanned 11 target(s), walking 9 tree(s)"
    walked = [line for line in err if line.startswith("[")]
    assert len(walked) == 9 and walked[-1].startswith("[9/9] ")
    assert "\r" not in "".join(err)


def test_quiet_prints_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["scan", "--demo", "-q", "-o", str(tmp_path / "r.json")]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


class _W:
    def __init__(self, i: int) -> None:
        self.tree, self.target, self.leaf, self.reason = "oom-kill", {"kind": "pod", "name": f"p{i}"}, None, "x"


def test_progress_bar_on_a_terminal() -> None:
    buf = io.StringIO()
    p = Progress(buf, tty=True)
    p.start(4)
    for i in range(4):
        p.walk_done(_W(i))
        if i == 1:
            p.note("a note stays")
    p.close()
    text = buf.getvalue()
    assert "\r[######------------------] 1/4 oom-kill pod/p0" in text
    assert "\r[########################] 4/4" in text
    assert "a note stays\n" in text and text.endswith("\r")
    quiet = io.StringIO()
    q = Progress(quiet, tty=True, quiet=True)
    q.start(2)
    q.walk_done(_W(0))
    q.note("x")
    q.close()
    assert quiet.getvalue() == ""


# ---------------------------------------------------------------- exit codes


class _Failing(SnapshotCluster):
    """The demo, but every LIST fails with one kind of ClusterError."""

    kind = "unavailable"

    async def list(self, *a: Any, **k: Any) -> list[dict[str, Any]]:
        raise ClusterError(self.kind, f"list failed ({self.kind})", "check the cluster")


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["run", "--demo"], 1),  # the demo's crash-looping pod: a high finding
        (["run", "--demo", "--fail-on", "critical"], 0),
        (["run", "--demo", "--target", "pod/qwen3-32b-prefill-6b8c7d9f5-m4q8z"], 0),
        (["scan", "--demo"], 1),
        (["scan", "--demo", "--fail-on", "critical"], 1),  # gpu-node-c's Xid 79 is critical
        (["scan", "--demo", "--tree", "slow-model-load", "-l", "llm-d.ai/role=decode"], 0),
        (["scan", "--demo", "--tree", "nope"], 2),
        (["run", "--demo", "--target", "banana/x"], 2),
        (["run", "--demo", "--target", "ns/"], 2),
        (["scan", "--demo", "-o", "report.txt"], 2),
        (["scan", "--demo", "-o", "json", "--format", "html"], 2),
        (["scan", "--demo", "--fail-on", "severe"], 2),  # argparse: SystemExit(2)
        (["scan", "--demo", "--format", "pdf"], 2),
    ],
)
def test_exit_code_matrix(argv: list[str], expected: int, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main([*argv, "-q"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == expected
    capsys.readouterr()


@pytest.mark.parametrize("kind,expected", [("unavailable", 3), ("unauthorized", 3), ("forbidden", 3), ("timeout", 4)])
def test_exit_code_when_the_cluster_cannot_be_read(
    kind: str, expected: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = _Failing.from_path(demo_snapshot())
    cluster.kind = kind
    monkeypatch.setattr(cli, "open_cluster", lambda args: (cluster, None))
    assert main(["scan", "-o", "json"]) == expected
    captured = capsys.readouterr()
    assert captured.out == "" and f"list failed ({kind})" in captured.err and captured.err.count("\n") == 1


def test_unreachable_api_server_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kc = tmp_path / "kubeconfig"
    kc.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    assert main(["scan", "--kubeconfig", str(kc), "--probe-timeout", "2", "-q"]) == 3
    assert main(["run", "--kubeconfig", str(kc), "--target", "pod/x", "--probe-timeout", "2", "-q"]) == 3
    assert "cannot reach the API server" in capsys.readouterr().err


def test_help_documents_exit_codes_and_output(capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in (["run"], ["scan"], []):
        with pytest.raises(SystemExit):
            main([*cmd, "--help"])
        out = capsys.readouterr().out
        for line in ("0    no finding", "1    a finding at or above --fail-on", "2    usage or configuration",
                     "3    cluster unreachable or unauthorized", "130  interrupted", "-o FILE"):  # fmt: skip
            assert line in out, (cmd, line)


# ---------------------------------------------------------------- interrupted


@pytest.mark.parametrize("fmt", ["json", "markdown", "junit", "html"])
def test_interrupted_scan_writes_the_walks_so_far(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C as the third walk finishes: the walks finished so far are written, marked interrupted, exit 130."""
    import llmd_triage.engine.scan as scan_mod

    real = scan_mod.walk
    finished = 0

    async def walk_then_ctrl_c(*a: Any, **k: Any) -> Any:
        nonlocal finished
        w = await real(*a, **k)
        finished += 1
        if finished == 3:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C, delivered as asyncio.run handles it
        return w

    monkeypatch.setattr(scan_mod, "walk", walk_then_ctrl_c)
    ext = {"json": "json", "markdown": "md", "junit": "xml", "html": "html"}[fmt]
    dest = tmp_path / f"partial.{ext}"
    assert main(["scan", "--demo", "-o", str(dest)]) == 130
    err = capsys.readouterr().err
    # walks already past their last wait finish as the others are cancelled (Python 3.11's wait_for can return a
    # result that raced its cancellation): at least the three, never all nine
    m = re.search(r"interrupted: writing the (\d+) walk\(s\) finished so far", err)
    assert m and 3 <= int(m.group(1)) < 9, err
    done = int(m.group(1))
    text = dest.read_text()
    if fmt == "json":
        data = json.loads(text)
        _validate(data)
        assert data["interrupted"] is True and len(data["walks"]) == done
    elif fmt == "junit":
        root = ET.fromstring(text)
        assert root.get("tests") == str(done)
        assert {p.get("value") for p in root.iter("property") if p.get("name") == "interrupted"} == {"true"}
    elif fmt == "html":
        assert "<b>Interrupted</b>" in text
    else:
        assert "> **Interrupted**" in text
