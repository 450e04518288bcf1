"""Shared fixtures: paths to the bundled trees and snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def demo_snapshot() -> Path:
    return ROOT / "trees" / "snapshots" / "demo"
