"""TUI timings: `python bench/tui.py [--runs N] [--first-frame] [--stall]`.

- first frame: a fresh `llmd-triage tui --demo` in a pseudo-terminal (80x24), from spawn until the start screen's
  text is on the terminal (target: 0.7 s on the 2-core dev machine).
- stall: the longest gap between the ticks of a 5 ms timer while a 100-probe walk runs in its worker and renders
  each step (target: under 50 ms): how long the UI could not answer a key.

Not a test: it reports. `bench/scan.py` prints the first-frame row too.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import select
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MARKER = b"Trees"


def first_frame_ms(timeout: float = 10.0) -> float:
    """Spawn the TUI on a pty and time until the start screen shows; then quit it."""
    exe = Path(sys.executable).with_name("llmd-triage")
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "llmd_triage.cli.main"]
    argv += ["tui", "--demo"]
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "TERM": "xterm-256color", "HOME": home, "XDG_STATE_HOME": home, "COLUMNS": "80"}
        t0 = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # child
            os.chdir(home)
            os.execvpe(argv[0], argv, env)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        seen = b""
        elapsed = float("nan")
        end = t0 + timeout
        while time.perf_counter() < end:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                seen += chunk
                if MARKER in seen:
                    elapsed = (time.perf_counter() - t0) * 1000
                    break
        os.write(fd, b"q")
        deadline = time.perf_counter() + 5
        while time.perf_counter() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            try:
                if select.select([fd], [], [], 0.05)[0]:
                    os.read(fd, 65536)
            except OSError:
                pass
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
        return elapsed


def _chain_tree(n: int) -> Any:
    from llmd_triage.tree.loader import load_tree_text

    nodes = [
        f"  - {{id: p{i}, kind: probe, probe: k8s.get, params: {{kind: Pod}}, bind: b{i}, next: "
        + (f"p{i + 1}}}" if i + 1 < n else "d}")
        for i in range(n)
    ]
    nodes.append('  - {id: d, kind: decision, branches: [{when: "true", goto: l}], unknown: l}')
    nodes.append("  - {id: l, kind: leaf, outcome: healthy, severity: info, verdict: v, why: w}")
    text = "id: chain\ntitle: Chain\nsymptom: s\napplies_to: [pod]\nnodes:\n" + "\n".join(nodes) + "\n"
    return load_tree_text(text, "chain.yaml")


async def _stall(probes: int) -> tuple[float, float]:
    from textual.widgets import OptionList

    from llmd_triage.cluster.base import TargetRef
    from llmd_triage.tui.app import TriageApp
    from llmd_triage.tui.screens.walk import WalkScreen
    from tests.tui.conftest import demo_session

    tree = _chain_tree(probes)
    with tempfile.TemporaryDirectory() as tmp:
        session = demo_session(Path(tmp))
        session.trees = {**session.trees, tree.id: tree}
        app = TriageApp(session)
        gaps: list[float] = []
        async with app.run_test(size=(120, 40)) as pilot:
            last = time.perf_counter()

            def tick() -> None:
                nonlocal last
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

            app.set_interval(0.005, tick)
            await pilot.pause(0.2)
            gaps.clear()
            t0 = time.perf_counter()
            last = t0
            app.open_walk(tree.id, TargetRef("pod", "qwen3-32b-decode-5f7d9c8b6-7xk2p", "llm-d-demo"))
            while not (isinstance(app.screen, WalkScreen) and app.screen.walk is not None):
                await asyncio.sleep(0.005)
            wall = (time.perf_counter() - t0) * 1000
            assert app.screen.query_one("#steps", OptionList).option_count == probes + 3  # target, probes, d, l
        return max(gaps) * 1000 if gaps else float("nan"), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--first-frame", action="store_true", help="only the first-frame time")
    ap.add_argument("--stall", action="store_true", help="only the stall measurement")
    ap.add_argument("--probes", type=int, default=100)
    args = ap.parse_args()
    both = not (args.first_frame or args.stall)
    if args.first_frame or both:
        samples = [first_frame_ms() for _ in range(args.runs)]
        print(f"{'TUI first frame (tui --demo, 80x24)':44} median {statistics.median(samples):6.0f} ms"
              f"   min {min(samples):6.0f} ms   (runs={args.runs}, target 700 ms)")  # fmt: skip
    if args.stall or both:
        results = [asyncio.run(_stall(args.probes)) for _ in range(max(1, args.runs // 2))]
        worst = max(r[0] for r in results)
        walls = [r[1] for r in results]
        print(f"{f'longest UI stall, {args.probes}-probe walk':44} max    {worst:6.1f} ms"
              f"   walk {statistics.median(walls):6.0f} ms   (target < 50 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
