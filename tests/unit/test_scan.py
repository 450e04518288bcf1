"""Whole-cluster scan: walks start while the remaining targets are tested, and keep their order."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import llmd_triage.engine.scan as scan_mod
from llmd_triage.cli.main import load_tree_set
from llmd_triage.cluster.snapshot import SnapshotCluster
from llmd_triage.engine.record import Walk
from llmd_triage.tree.conditions import Bindings

ROOT = Path(__file__).resolve().parents[2]
TREES = list(load_tree_set(ROOT / "trees").values())


def demo() -> SnapshotCluster:
    return SnapshotCluster.from_path(ROOT / "trees" / "snapshots" / "demo")


async def _expected_jobs(cluster: SnapshotCluster) -> list[tuple[str, str]]:
    out = []
    for target, obj in await scan_mod.discover(cluster, None):
        env = Bindings(scan_mod.build_context(target, obj))
        for t in TREES:
            if t.entry is not None and target.kind in t.applies_to and t.entry.test(env):
                out.append((t.id, target.ref))
    return out


async def test_walks_keep_the_order_of_targets_and_trees() -> None:
    result = await scan_mod.scan(TREES, demo(), namespace=None)
    got = [(w.tree, f"{w.target['kind']}/{w.target['name']}") for w in result.walks]
    assert got == await _expected_jobs(demo())
    assert len(got) == 9 and result.targets == 11


async def test_walks_start_before_every_target_is_tested(monkeypatch: pytest.MonkeyPatch) -> None:
    tested: list[str] = []
    started: list[int] = []

    class Counting(Bindings):
        def __init__(self, context: dict[str, Any]) -> None:
            tested.append(context["target"]["name"])
            super().__init__(context)

    async def fake_walk(tree: Any, target: Any, cluster: Any, **kw: Any) -> Walk:
        started.append(len(tested))
        await asyncio.sleep(0)
        return Walk(tree=tree.id, tree_title=tree.title, target=target.as_dict(), cluster="x", started_at="")

    monkeypatch.setattr(scan_mod, "Bindings", Counting)
    monkeypatch.setattr(scan_mod, "walk", fake_walk)
    monkeypatch.setattr(scan_mod, "ENTRY_BATCH", 1)
    result = await scan_mod.scan(TREES, demo(), namespace=None)
    assert len(result.walks) == 9 and len(tested) == 11
    assert started[0] < len(tested)  # the first walk ran while targets were still being tested
