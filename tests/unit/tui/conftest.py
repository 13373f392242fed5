"""Shared pieces of the UI tests: a frozen clock, waiting with a deadline, the screen as text."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import pytest
from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

from fleet.tui.app import FleetApp
from fleet.tui.synthetic import SyntheticSource

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC: any fixed instant will do


class FakeClock:
    """A clock that only moves when told to (for ages, stale badges and snapshots)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def wait_for(pilot: Pilot[None], condition: Callable[[], object], what: str = "",
                   timeout: float = 5.0) -> None:
    """Let the app run until `condition()` holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.01)


async def loaded(pilot: Pilot[None], refreshes: int = 1) -> None:
    """Wait for `refreshes` completed refreshes of a FleetApp."""
    app = pilot.app
    assert isinstance(app, FleetApp)
    await wait_for(pilot, lambda: app.refresh_count >= refreshes and not app._refreshing,
                   f"{refreshes} refresh(es)")
    await pilot.pause()


def screen_text(app: App[None]) -> str:
    """The current screen as plain text (what an operator would read)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def source(clock: FakeClock) -> SyntheticSource:
    return SyntheticSource(hosts=3, replicas=9, seed=1, clock=clock, log_interval=0.01)


def make_app(source: SyntheticSource, clock: FakeClock, **options: object) -> FleetApp:
    """A FleetApp whose interval never fires by itself (tests refresh explicitly)."""
    options.setdefault("interval", 2.0)
    options.setdefault("poll", False)
    return FleetApp(source, clock=clock, **options)  # type: ignore[arg-type]
