"""Startup and walk timings, printed as a table: `python bench/startup.py [--runs N]`.

Measures what an SRE feels first: how long `llmd-triage --version` and `--help` take (a fresh
interpreter each time, as from a shell), and one demo walk end to end. Not a test: it asserts
nothing, it reports.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _time(argv: list[str], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), min(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    py = [sys.executable, "-m", "llmd_triage.cli.main"]
    rows = [
        ("python -c pass (floor)", [sys.executable, "-c", "pass"]),
        ("llmd-triage --version", [*py, "--version"]),
        ("llmd-triage --help", [*py, "--help"]),
        ("llmd-triage run --demo (one walk)", [*py, "run", "--demo"]),
        ("llmd-triage lint (bundled trees)", [*py, "lint"]),
        ("llmd-triage test (bundled cases)", [*py, "test", "-q"]),
    ]
    print(f"{'command':40} {'median ms':>10} {'min ms':>8}   (runs={args.runs})")
    for label, argv in rows:
        med, low = _time(argv, args.runs)
        print(f"{label:40} {med:10.0f} {low:8.0f}")


if __name__ == "__main__":
    main()
