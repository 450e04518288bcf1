"""Golden files: the demo scan in every report format, byte for byte after normalising what varies between
runs (walk timings, start times, the tool version).

A change to a renderer, a tree or the demo snapshot shows up here as a diff to read. When the change is
intended, regenerate and review the diff before committing:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/golden
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from llmd_triage import __version__
from llmd_triage.cli.main import main
from llmd_triage.resources import schema

HERE = Path(__file__).resolve().parent
FORMATS = {"md": "markdown", "json": "json", "html": "html", "xml": "junit"}


def normalise(text: str, ext: str) -> str:
    text = text.replace(__version__, "VERSION")
    if ext == "json":
        text = re.sub(r'"elapsed_ms": [0-9.]+', '"elapsed_ms": 0', text)
        text = re.sub(r'"started_at": "[^"]+"', '"started_at": "2026-01-01T00:00:00+00:00"', text)
    elif ext == "md":
        text = re.sub(r"walked in [0-9.]+ s", "walked in 0.00 s", text)
    elif ext == "xml":
        text = re.sub(r'time="[0-9.]+"', 'time="0.000"', text)
    return text


@pytest.mark.parametrize("ext", list(FORMATS))
def test_demo_scan_matches_its_golden_file(ext: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"demo-scan.{ext}"
    assert main(["scan", "--demo", "-q", "-o", str(out)]) == 1
    assert capsys.readouterr().out == ""
    got = normalise(out.read_text(encoding="utf-8"), ext)
    golden = HERE / f"demo-scan.{ext}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(got, encoding="utf-8")
    assert golden.exists(), f"{golden.name} is missing: run UPDATE_GOLDEN=1 pytest tests/golden"
    want = golden.read_text(encoding="utf-8")
    assert got == want, f"{golden.name} differs; if intended, regenerate with UPDATE_GOLDEN=1 and review the diff"


def test_golden_files_are_valid_in_their_format() -> None:
    data = json.loads((HERE / "demo-scan.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema("report")).validate(data)
    root = ET.fromstring((HERE / "demo-scan.xml").read_text(encoding="utf-8"))
    assert int(root.get("tests", "0")) == len(data["walks"]) and int(root.get("failures", "0")) == len(data["findings"])
    html = (HERE / "demo-scan.html").read_text(encoding="utf-8")
    assert html.count("<svg ") == len(data["walks"])
    md = (HERE / "demo-scan.md").read_text(encoding="utf-8")
    assert md.count("\n| ") == len(data["findings"]) + 1  # header (and rule) + one row per finding
