"""The TUI's headless core: fuzzy matching, dashboards, node commands, candidates."""

from __future__ import annotations

import asyncio
from pathlib import Path

from llmd_triage.cluster.base import TargetRef
from llmd_triage.tui.session import fuzzy_score
from tests.tui.conftest import demo_session


def test_fuzzy_prefers_contiguous_and_word_start_matches() -> None:
    assert fuzzy_score("zz", "pod/qwen3-decode") is None
    names = ["pod/qwen3-32b-prefill-6b8c7d9f5-m4q8z", "pod/qwen3-32b-decode-5f7d9c8b6-7xk2p", "node/gpu-node-d"]
    ranked = sorted((s, n) for n in names if (s := fuzzy_score("dec7x", n)) is not None)
    assert ranked[0][1] == "pod/qwen3-32b-decode-5f7d9c8b6-7xk2p"
    assert fuzzy_score("node", "node/gpu-node-a") < fuzzy_score("node", "pod/n-o-d-e")  # type: ignore[operator]


def test_candidates_list_pods_nodes_and_llmd_resources(tmp_path: Path) -> None:
    session = demo_session(tmp_path)
    cands = asyncio.run(session.candidates())
    refs = [c.ref for c in cands]
    assert refs[0].startswith("pod/") and "node/gpu-node-c" in refs
    assert "lws/deepseek-r1" in refs and "inferencepool/qwen3-32b" in refs
    lws = next(c for c in cands if c.ref == "lws/deepseek-r1")
    assert lws.target is not None and lws.target.resource_kind == "LeaderWorkerSet"
    assert next(c for c in cands if c.ref == "inferencepool/qwen3-32b").target is None  # listed, not walked


def test_grafana_link_only_when_configured(tmp_path: Path) -> None:
    session = demo_session(tmp_path)
    w = asyncio.run(session.walk(session.trees["gpu-xid"], TargetRef("node", "gpu-node-c")))
    assert session.dashboard_url(w) is None
    session.grafana_url = "https://grafana.example.com/"
    assert session.dashboard_url(w) == "https://grafana.example.com/dashboards?query=DCGM"


def test_node_pod_command_follows_the_pod_the_walk_used(tmp_path: Path) -> None:
    session = demo_session(tmp_path, is_snapshot=False)
    w = asyncio.run(session.walk(session.trees["gpu-xid"], TargetRef("node", "gpu-node-c")))
    argv = session.node_pod_command(w, "shell")
    assert argv is not None
    assert argv[argv.index("-n") + 1 :][:4] == [
        "gpu-operator",
        "nvidia-driver-daemonset-z6k9d",
        "-c",
        "nvidia-driver-ctr",
    ]
    assert session.can_remediate is False  # a snapshot cluster has no writer, whatever the flag says
