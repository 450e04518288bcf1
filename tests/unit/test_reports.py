"""The report formats, rendered from one demo scan: JSON against its schema, Markdown's layout, HTML
self-contained and escaped, JUnit's structure and counts."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from llmd_triage.cli.main import load_tree_set
from llmd_triage.cluster.snapshot import SnapshotCluster
from llmd_triage.engine.record import Walk
from llmd_triage.engine.scan import scan
from llmd_triage.report.html import render_html
from llmd_triage.report.json_report import render_json, report_dict
from llmd_triage.report.junit import render_junit
from llmd_triage.report.markdown import render_markdown
from llmd_triage.resources import schema

ROOT = Path(__file__).resolve().parents[2]
SCOPE = {"command": "scan", "cluster": "snapshot:demo", "namespace": "llm-d-demo", "selector": None}


@pytest.fixture(scope="module")
def walks() -> list[Walk]:
    trees = list(load_tree_set(ROOT / "trees").values())
    cluster = SnapshotCluster.from_path(ROOT / "trees" / "snapshots" / "demo")
    return asyncio.run(scan(trees, cluster, namespace="llm-d-demo")).walks


def validate(data: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(
        schema("report"), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(data)


def test_schema_is_a_valid_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema("report"))


def test_json_report_validates_and_carries_what_a_reader_needs(walks: list[Walk]) -> None:
    data = json.loads(render_json(walks, scope=SCOPE, fail_on="high"))
    validate(data)
    assert data["schema_version"] == 1 and data["interrupted"] is False
    assert data["summary"]["walks"] == len(walks) == len(data["walks"])
    assert data["summary"]["by_severity"] == {"critical": 1, "high": 3, "medium": 1, "low": 0, "info": 0}
    assert data["summary"]["failing"] == 4  # critical + 3 high at or above --fail-on high
    for f in data["findings"]:
        for key in ("tree", "leaf", "severity", "target", "verdict", "steps", "evidence"):
            assert f[key] or key == "steps", key
        assert all(e["node"] and ("probes" in e) for e in f["evidence"])
    for w in data["walks"]:
        assert w["steps"] and w["path"] == [s["node"] for s in w["steps"] if s["kind"] != "target"]
    sev = [f["severity"] for f in data["findings"]]
    assert sev == ["critical", "high", "high", "high", "medium"]


def test_schema_rejects_a_finding_without_evidence(walks: list[Walk]) -> None:
    data = report_dict(walks, scope=SCOPE)
    broken = copy.deepcopy(data)
    del broken["findings"][0]["evidence"]
    with pytest.raises(jsonschema.ValidationError, match="evidence"):
        validate(broken)
    broken = copy.deepcopy(data)
    broken["schema_version"] = 2
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_markdown_tables_findings_and_lists_the_rest(walks: list[Walk]) -> None:
    md = render_markdown(walks, scope=SCOPE)
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert table[0] == "| severity | target | tree | verdict |"
    rows = table[1:]
    assert len(rows) == 5 and rows[0].startswith("| 🔴 critical | node/gpu-node-c | gpu-xid |")
    assert not any("healthy" in r or "info" in r for r in rows)
    assert "No finding (4):" in md
    assert "- ✅ p2p-disabled on pod/deepseek-r1-0: healthy:" in md
    section = md[md.index("## 🟠 OOM kill: pod/qwen3-32b-decode-5f7d9c8b6-7xk2p") :]
    section = section[: section.index("\n## ", 5)]
    for part in ("**Target:** `pod/qwen3-32b-decode-5f7d9c8b6-7xk2p` in namespace `llm-d-demo`", "**Verdict (high, fix):**",
                 "**Why:**", "**Fix:**", "**Evidence:**", "**Path:**"):  # fmt: skip
        assert part in section, part
    assert "   kubectl exec -n llm-d-demo qwen3-32b-decode-5f7d9c8b6-7xk2p -c vllm -- ls -la /dev/shm" in section
    assert '  - condition `term.reason == "OOMKilled"` with `term.reason` = `OOMKilled`' in section
    assert "    lastState.terminated.reason: OOMKilled" in section  # the probe lines that decided it
    assert md.count("```") % 2 == 0


def test_markdown_says_interrupted_and_no_finding() -> None:
    md = render_markdown([], interrupted=True, scope=SCOPE)
    assert "> **Interrupted**" in md and "**No finding.**" in md


def _hostile(walks: list[Walk]) -> list[Walk]:
    w = copy.deepcopy(next(w for w in walks if w.leaf and w.leaf.is_finding))
    assert w.leaf is not None
    w.leaf.verdict = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    w.leaf.references = [
        {"title": "evil", "url": "javascript:alert(1)"},
        {"title": "ok", "url": "https://ex.com/a?b=1&c=2"},
    ]
    w.steps[1].summary = "</text></svg><script>alert(2)</script>"
    return [w]


def test_html_is_self_contained_and_escaped(walks: list[Walk]) -> None:
    html = render_html(walks, scope=SCOPE)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<script" not in html.lower() and " src=" not in html and "<link" not in html
    hrefs = set(re.findall(r'href="([^"]+)"', html))
    refs = {r["url"].replace("&", "&amp;") for w in walks if w.leaf for r in w.leaf.references if r.get("url")}
    assert {h for h in hrefs if not h.startswith("#")} <= refs  # no URL but the references' own links
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == len(walks)
    for svg in svgs:
        root = ET.fromstring(svg)  # well-formed
        assert root.tag.endswith("svg") and len(root.findall("{http://www.w3.org/2000/svg}g")) >= 2
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    evil = render_html(_hostile(walks), scope=SCOPE)
    assert "<script" not in evil and "<img" not in evil and "javascript:" not in evil.replace("javascript:alert", "")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in evil
    assert 'href="https://ex.com/a?b=1&amp;c=2"' in evil
    for svg in re.findall(r"<svg.*?</svg>", evil, re.S):
        ET.fromstring(svg)


def test_html_draws_the_taken_edges_labelled(walks: list[Walk]) -> None:
    oom = [w for w in walks if w.tree == "oom-kill"]
    html = render_html(oom, scope=SCOPE)
    svg = re.findall(r"<svg.*?</svg>", html, re.S)[0]
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    boxes = root.findall(f"{ns}g")
    assert len(boxes) == len(oom[0].steps)
    assert len(root.findall(f"{ns}line")) == len(oom[0].steps) - 1
    labels = [t.text for t in root.findall(f"{ns}text")]
    assert "killed by the kernel OOM killer at the container memory limit" in labels


def test_junit_one_case_per_tree_and_target(walks: list[Walk]) -> None:
    xml = render_junit(walks, scope=SCOPE, fail_on="high")
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(walks) == int(root.get("tests", "0"))
    assert {(c.get("classname"), c.get("name")) for c in cases} == {
        (
            w.tree,
            f"{w.target['kind']}/{w.target['name']}"
            + (f" -n {w.target['namespace']}" if w.target["namespace"] else ""),
        )
        for w in walks
    }
    failures = root.findall("testsuite/testcase/failure")
    assert len(failures) == 4 == int(root.get("failures", "0"))  # the medium p2p finding is below --fail-on high
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests", "0")) == len(suite.findall("testcase"))
        assert int(suite.get("failures", "0")) == len(suite.findall("testcase/failure"))
        assert all(c.get("classname") == suite.get("name") for c in suite.findall("testcase"))
    xid = next(f for f in failures if "Xid 79" in (f.get("message") or ""))
    assert xid.get("type") == "critical/reboot-node" and "kubectl cordon gpu-node-c" in (xid.text or "")
    assert int(root.get("skipped", "0")) == 0


def test_junit_skips_walks_without_a_verdict(walks: list[Walk]) -> None:
    w = copy.deepcopy(walks[0])
    w.leaf, w.status, w.reason = None, "unknown", "the walk did not finish within its 1s deadline"
    root = ET.fromstring(render_junit([w], fail_on="info"))
    skipped = root.findall("testsuite/testcase/skipped")
    assert len(skipped) == 1 and skipped[0].get("message") == w.reason and root.get("skipped") == "1"
    assert root.findall("testsuite/testcase/failure") == []
