"""The command line as a contract: run, graph, version, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from llmd_triage import __version__
from llmd_triage.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DECODE = "pod/qwen3-32b-decode-5f7d9c8b6-7xk2p"


def test_run_demo_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--demo", "--tree", "oom-kill"])
    out = capsys.readouterr().out
    assert code == 1  # a finding at or above the default --fail-on
    assert out.startswith("# llmd-triage report\n")
    assert "| 🟠 high | pod/qwen3-32b-decode-5f7d9c8b6-7xk2p | oom-kill |" in out
    assert "5 nccl-* files (42 GiB)" in out
    assert "kubectl exec -n llm-d-demo qwen3-32b-decode-5f7d9c8b6-7xk2p -c vllm -- ls -la /dev/shm" in out
    assert 'condition `term.reason == "OOMKilled"` with `term.reason` = `OOMKilled`' in out


def test_run_json_is_the_same_walk(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "run",
            "--snapshot",
            str(ROOT / "trees/snapshots/demo"),
            "--tree",
            "oom-kill",
            "--target",
            DECODE,
            "-o",
            "json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["schema_version"] == 1
    [finding] = data["findings"]
    assert {k: finding[k] for k in ("tree", "leaf", "severity", "outcome", "target", "verdict", "failing")} == {
        "tree": "oom-kill",
        "leaf": "clear-shm",
        "severity": "high",
        "outcome": "fix",
        "target": data["walks"][0]["target"],
        "verdict": "/dev/shm of qwen3-32b-decode-5f7d9c8b6-7xk2p filled with leftover NCCL / offload segments",
        "failing": True,  # at or above the default --fail-on info
    }
    assert (
        finding["steps"][0]["run"]
        == "kubectl exec -n llm-d-demo qwen3-32b-decode-5f7d9c8b6-7xk2p -c vllm -- ls -la /dev/shm"
    )
    # the evidence that decided each branch: the condition, its values, and the probe lines it read
    decided = {e["node"]: e for e in finding["evidence"]}
    assert decided["termination-kind"]["values"] == {"term.reason": "OOMKilled"}
    assert decided["termination-kind"]["probes"][0]["lines"][0] == "lastState.terminated.reason: OOMKilled"
    assert [p["node"] for p in decided["host-ram"]["probes"]] == ["list-shm"]
    walk = data["walks"][0]
    assert walk["path"] == ["read-termination", "termination-kind", "list-shm", "host-ram", "clear-shm"]
    assert walk["steps"][3]["probe"] == "k8s.exec"
    assert walk["steps"][3]["params"]["argv"] == ["ls", "-la", "/dev/shm"]


def test_fail_on_threshold_and_healthy_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--demo", "--fail-on", "critical"]) == 0
    assert main(["run", "--demo", "--target", "pod/qwen3-32b-prefill-6b8c7d9f5-m4q8z"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["run", "--demo", "--target", "banana/x"], "target kind 'banana' is not one of"),
        (["run", "--demo", "--tree", "nope"], "no tree with id 'nope'; known: "),
        (["run", "--snapshot", "/nonexistent"], "snapshot /nonexistent is not a directory"),
        (["run", "--demo", "--tree", "oom-kill", "--target", "node/gpu-node-a"], "no tree applies to a node target"),
        (["graph", "nope"], "no tree with id 'nope'"),
    ],
)
def test_usage_errors_are_one_line_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_graph_mermaid_and_dot(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "oom-kill"]) == 0
    mermaid = capsys.readouterr().out
    assert mermaid.startswith("flowchart TD\n")
    assert "classDef high fill:#f57c00" in mermaid
    assert '(["clear-shm [high]"])' in mermaid
    assert main(["graph", "oom-kill", "--format", "dot"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith('digraph "oom-kill" {')
    assert '"termination-kind" -> "list-shm" [label="killed by the kernel OOM killer at the …"];' in dot
    assert '"clear-shm" [shape=box, style="rounded,filled", fillcolor="#f57c00"' in dot


def test_probes_lists_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probes"]) == 0
    out = capsys.readouterr().out
    for name in ("k8s.get", "k8s.events", "k8s.logs", "k8s.exec", "pod.termination"):
        assert f"{name}\n" in out


def test_version_and_help_are_fast_and_light() -> None:
    code = (
        "import sys, llmd_triage.cli.main as m\n"
        "try:\n    m.main(['--version'])\nexcept SystemExit:\n    pass\n"
        "heavy = [x for x in ('networkx', 'kubernetes', 'textual', 'jsonschema', 'cel') if x in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [f"llmd-triage {__version__}", "[]"]


def test_report_json_validates_walk_shape(capsys: pytest.CaptureFixture[str]) -> None:
    main(["run", "--demo", "-o", "json"])
    data = json.loads(capsys.readouterr().out)
    step_schema = {
        "type": "object",
        "required": ["node", "kind", "status", "elapsed_ms", "summary", "evidence"],
    }
    for step in data["walks"][0]["steps"]:
        jsonschema.validate(step, step_schema)


def test_scan_finds_targets_by_entry_condition(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scan", "--snapshot", str(ROOT / "trees/snapshots/oom-zoo"), "-o", "json"])
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    leaves = sorted((w["target"]["name"], w["leaf"]["id"]) for w in data["walks"])
    assert code == 1
    assert ("oom-plain", "raise-memory-limit") in leaves and ("cuda-oom", "cuda-oom-at-runtime") in leaves
    assert ("kv-pressure", "kv-cache-pressure") not in leaves  # never restarted: the entry condition skips it
    assert "scanned 14 target(s)" in captured.err  # 14 pods; the zoo has no Node objects
    # most severe first
    sev = [w["leaf"]["severity"] for w in data["walks"]]
    order = ["critical", "high", "medium", "low", "info"]
    assert sev == sorted(sev, key=order.index)


def test_scan_namespace_and_selector_narrow_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--demo", "-l", "llm-d.ai/role=prefill", "-o", "json"]) == 1
    walks = json.loads(capsys.readouterr().out)["walks"]
    pods = {w["target"]["name"] for w in walks if w["target"]["kind"] == "pod"}
    assert pods == {"qwen3-32b-prefill-6b8c7d9f5-w9r3t"}  # the decode pod's OOM is out of the selector
    assert main(["scan", "--demo", "-n", "nowhere", "-o", "json"]) == 1
    captured = capsys.readouterr()
    assert "scanned 5 target(s)" in captured.err  # only the five GPU nodes, which are cluster-scoped
    walks = json.loads(captured.out)["walks"]
    assert [(w["target"]["kind"], w["target"]["name"], w["leaf"]["id"]) for w in walks] == [
        ("node", "gpu-node-c", "reboot-node")
    ]
    # a node target is read as a Node: the walk did not stop on "Pod gpu-node-c not found"
    assert walks[0]["status"] == "complete" and walks[0]["target"]["resourceKind"] == "Node"


def test_demo_scan_lists_one_finding_per_tree(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's first command: the demo holds one fault for each of the five trees, nothing else."""
    assert main(["scan", "--demo", "-o", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    findings = {(f["tree"], f["target"]["name"], f["leaf"]) for f in data["findings"]}
    assert findings == {
        ("oom-kill", "qwen3-32b-decode-5f7d9c8b6-7xk2p", "clear-shm"),
        ("gpu-xid", "gpu-node-c", "reboot-node"),
        ("rdma-link-down", "deepseek-r1-0", "port-physically-down"),
        ("slow-model-load", "qwen3-32b-prefill-6b8c7d9f5-w9r3t", "startup-budget-too-short"),
        ("p2p-disabled", "llama-3-3-70b-decode-84f6c9d7b5-r8vtz", "p2p-disabled-by-config"),
    }
    assert all(w["status"] == "complete" for w in data["walks"])


def test_graph_merges_parallel_edges_with_their_labels() -> None:
    from llmd_triage.tree.graph import to_digraph
    from llmd_triage.tree.loader import load_tree_text

    tree = load_tree_text(
        """
id: t
title: T
symptom: s
applies_to: [pod]
nodes:
  - {id: d, kind: decision, branches: [{when: "true", goto: l, label: first}, {when: "false", goto: l, label: second}], unknown: l}
  - {id: l, kind: leaf, outcome: healthy, severity: info, verdict: v, why: w}
""",
        "t.yaml",
    )
    assert to_digraph(tree).edges["d", "l"]["label"] == "first, second, unknown"
