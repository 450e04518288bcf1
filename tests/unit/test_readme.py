"""The README's contracts stay true: its exit-code table is the Exit enum, and its CronJob runs a command
line the CLI accepts with the ServiceAccount `llmd-triage rbac` creates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from llmd_triage.cli.exit_codes import Exit
from llmd_triage.cli.main import _parser, main

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_exit_code_table_is_the_exit_enum() -> None:
    rows = re.findall(r"^\| `(\d+)` \| (.+) \|$", README, re.M)
    assert sorted(int(code) for code, _ in rows) == sorted(int(e) for e in Exit)
    text = dict(rows)
    assert "cluster unreachable or unauthorized" in text["3"] and "usage or configuration" in text["2"]
    assert "--fail-on" in text["1"] and "interrupted" in text["130"]


def test_cronjob_runs_a_scan_the_cli_accepts_with_the_rbac_service_account(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, re.S)
    cron = next(yaml.safe_load(b) for b in blocks if "kind: CronJob" in b)
    spec = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["command"] == ["llmd-triage"]
    args = _parser().parse_args(container["args"])
    assert args.command == "scan" and args.all_namespaces and args.quiet and args.output == "json"
    assert main(["rbac"]) == 0
    rbac = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    sa = next(d for d in rbac if d["kind"] == "ServiceAccount")
    assert spec["serviceAccountName"] == sa["metadata"]["name"]
    assert cron["metadata"]["namespace"] == sa["metadata"]["namespace"]
    assert spec["restartPolicy"] == "Never" and cron["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
