"""An app factory for Pilot and snapshot tests: the demo snapshot, the bundled trees, a temp export dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmd_triage.cli.main import load_tree_set
from llmd_triage.cluster.snapshot import SnapshotCluster
from llmd_triage.tui.app import TriageApp
from llmd_triage.tui.session import Session

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "trees" / "snapshots" / "demo"
TREES = load_tree_set(ROOT / "trees")


def demo_session(tmp: Path, **kw: Any) -> Session:
    cluster = kw.pop("cluster", None) or SnapshotCluster.from_path(DEMO)
    return Session(
        cluster=cluster,
        trees=TREES,
        context=cluster.name,
        namespace=kw.pop("namespace", cluster.default_namespace),
        is_snapshot=kw.pop("is_snapshot", True),
        audit_path=tmp / "audit.jsonl",
        export_dir=tmp / "reports",
        **kw,
    )


@pytest.fixture
def make_app(tmp_path: Path) -> Any:
    def factory(**kw: Any) -> TriageApp:
        app_kw = {k: kw.pop(k) for k in ("scan_on_start", "target", "tree_id", "run_interactive") if k in kw}
        return TriageApp(demo_session(tmp_path, **kw), **app_kw)

    return factory
