"""Layering is a contract: the engine must not drag in the UI or the Kubernetes client."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_engine_imports_neither_textual_nor_kubernetes() -> None:
    code = (
        "import sys\n"
        "import llmd_triage.engine.walk, llmd_triage.tree.loader, llmd_triage.tree.lint, llmd_triage.report.markdown\n"
        "import llmd_triage.testing.cases\n"
        "from llmd_triage.probes.registry import default_registry; default_registry()\n"
        "print(sorted(m for m in ('textual', 'kubernetes') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("import-linter is a dev dependency; install the dev extras")
    res = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
