"""SVG snapshots of every screen at 80x24 (the smallest terminal an SRE may have) and 160x48.

Timings are zeroed so that a screen is the same on every run; `pytest --snapshot-update` rewrites them after a
deliberate change (look at the report pytest-textual-snapshot writes before accepting).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList

from llmd_triage.cluster.base import TargetRef
from llmd_triage.engine.actions import make_plan
from llmd_triage.engine.walk import walk
from llmd_triage.tui.app import TriageApp
from llmd_triage.tui.screens.confirm import ConfirmScreen
from llmd_triage.tui.screens.picker import TargetPicker
from llmd_triage.tui.screens.start import StartScreen
from llmd_triage.tui.screens.walk import WalkScreen
from tests.tui.conftest import demo_session

SIZES = [(80, 24), (160, 48)]
DECODE = TargetRef("pod", "qwen3-32b-decode-5f7d9c8b6-7xk2p", "llm-d-demo")
NODE = TargetRef("node", "gpu-node-c")


async def timeless_walk(*args: Any, on_step: Any = None, **kw: Any) -> Any:
    def zeroed(step: Any) -> Any:
        step.elapsed_ms = 0.0
        return on_step(step) if on_step else None

    w = await walk(*args, on_step=zeroed, **kw)
    w.elapsed_ms = 0.0
    return w


def app_for(tmp_path: Path, **kw: Any) -> TriageApp:
    session = demo_session(tmp_path, walk_fn=timeless_walk)
    return TriageApp(session, **kw)


async def settle(pilot: Pilot[Any], cond: Callable[[], bool]) -> None:
    for _ in range(200):
        if cond():
            break
        await pilot.pause(0.05)
    await pilot.pause(0.1)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.1)


def walk_finished(app: Any) -> Callable[[], bool]:
    return lambda: isinstance(app.screen, WalkScreen) and app.screen.walk is not None


SCREENS: dict[str, tuple[dict[str, Any], Callable[[Pilot[Any]], Awaitable[None]]]] = {}


def screen(name: str, **app_kw: Any) -> Callable[[Callable[[Pilot[Any]], Awaitable[None]]], Any]:
    def register(fn: Callable[[Pilot[Any]], Awaitable[None]]) -> Any:
        SCREENS[name] = (app_kw, fn)
        return fn

    return register


@screen("start-scanned")
async def _start(pilot: Pilot[Any]) -> None:
    await pilot.press("s")
    await settle(pilot, lambda: isinstance(pilot.app.screen, StartScreen) and len(pilot.app.screen.scan_walks) == 9)


@screen("picker")
async def _picker(pilot: Pilot[Any]) -> None:
    await pilot.press("t")
    await settle(pilot, lambda: isinstance(pilot.app.screen, TargetPicker) and bool(pilot.app.screen.shown))
    await pilot.press(*"gpu")
    await pilot.pause(0.2)


@screen("choose-tree", target=DECODE)
async def _choose(pilot: Pilot[Any]) -> None:
    await settle(pilot, lambda: type(pilot.app.screen).__name__ == "ChoiceScreen")


@screen("walk", target=NODE, tree_id="gpu-xid")
async def _walk(pilot: Pilot[Any]) -> None:
    await settle(pilot, walk_finished(pilot.app))


@screen("evidence", target=NODE, tree_id="gpu-xid")
async def _evidence(pilot: Pilot[Any]) -> None:
    await settle(pilot, walk_finished(pilot.app))
    pilot.app.screen.query_one("#steps", OptionList).highlighted = 2  # read-kernel-log
    await pilot.press("enter")
    await settle(pilot, lambda: type(pilot.app.screen).__name__ == "EvidenceScreen")


@screen("fix", target=DECODE, tree_id="oom-kill")
async def _fix(pilot: Pilot[Any]) -> None:
    await settle(pilot, walk_finished(pilot.app))
    await pilot.press("f")
    await settle(pilot, lambda: type(pilot.app.screen).__name__ == "FixScreen")


@screen("confirm-dangerous")
async def _confirm(pilot: Pilot[Any]) -> None:
    pilot.app.push_screen(ConfirmScreen(make_plan("drain", "gpu-node-c", None, None)))
    await settle(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))


@screen("help")
async def _help(pilot: Pilot[Any]) -> None:
    await pilot.press("question_mark")
    await settle(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(SCREENS))
def test_screen(name: str, size: tuple[int, int], snap_compare: Any, tmp_path: Path) -> None:
    app_kw, run_before = SCREENS[name]
    app = app_for(tmp_path, **app_kw)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_every_screen_class_has_a_snapshot() -> None:
    """A new screen without a snapshot fails here, so the 80x24 check cannot be forgotten."""
    import llmd_triage.tui.screens as pkg

    names = set()
    for mod in Path(pkg.__file__).parent.glob("*.py"):
        text = mod.read_text()
        names |= {line.split("class ")[1].split("(")[0] for line in text.splitlines() if line.startswith("class ")}
    covered = {"StartScreen", "TargetPicker", "ChoiceScreen", "WalkScreen", "EvidenceScreen", "FixScreen"}
    covered |= {"ConfirmScreen", "HelpScreen"}
    assert names == covered


@pytest.mark.parametrize("name", ["start-scanned", "fix"])
def test_light_theme(name: str, snap_compare: Any, tmp_path: Path) -> None:
    """Readable in a light terminal too: the same screens in textual-light (LLMD_TRIAGE_THEME=light)."""
    app_kw, run_before = SCREENS[name]
    app = app_for(tmp_path, **app_kw)
    app.theme = "textual-light"
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
