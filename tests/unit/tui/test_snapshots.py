"""How the UI looks, guarded by SVG snapshots (pytest-textual-snapshot) at 80x24 and 160x48.

Deterministic on purpose: a seeded synthetic cluster, a frozen clock and UTC
for wall-clock times. Regenerate after an intended change of the look with
`.venv/bin/pytest tests/unit/tui/test_snapshots.py --snapshot-update` and
review the SVGs in the diff.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from fleet.tui.app import FleetApp
from fleet.tui.screens.confirm import ConfirmScreen
from fleet.tui.screens.describe import DescribeScreen
from fleet.tui.synthetic import SyntheticSource
from tests.unit.tui.conftest import FakeClock, loaded, make_app, screen_text, wait_for

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
SnapCompare = Callable[..., bool]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def cluster(clock: FakeClock, trouble: bool = False) -> SyntheticSource:
    source = SyntheticSource(hosts=6, replicas=100, seed=7, clock=clock)
    if trouble:  # a cordoned host and one that stopped answering, for the badges
        source.world.hosts["node4"].cordoned = True
        source.set_down("node5")
    return source


def app_for(view: str, trouble: bool = False) -> tuple[FleetApp, FakeClock]:
    clock = FakeClock()
    return make_app(cluster(clock, trouble), clock, initial_view=view), clock


def after_load(then: Callable[[Pilot[Any]], Any] | None = None, advance: float = 0.0) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, FleetApp)
        await loaded(pilot)
        if advance:
            app.clock.advance(advance)  # type: ignore[attr-defined]
            app._tick()
        if then is not None:
            await then(pilot)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_hosts_view(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    app, _ = app_for("hosts", trouble=True)
    assert snap_compare(app, terminal_size=size, run_before=after_load(advance=1))


@pytest.mark.parametrize("size", SIZES)
def test_services_view(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    app, _ = app_for("services")
    assert snap_compare(app, terminal_size=size, run_before=after_load())


@pytest.mark.parametrize("size", SIZES)
def test_describe_panel(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def describe(pilot: Pilot[Any]) -> None:
        app = pilot.app
        table = app.view_widget().table  # type: ignore[attr-defined]
        table.move_cursor(row=table.get_row_index("data/reports"))  # pending: why not each host
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DescribeScreen), "describe")
        await wait_for(pilot, lambda: "Placement" in screen_text(app), "describe loaded")

    app, _ = app_for("services")
    assert snap_compare(app, terminal_size=size, run_before=after_load(describe))


@pytest.mark.parametrize("size", SIZES)
def test_confirm_modal(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def cordon(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await pilot.press("down", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")

    app, _ = app_for("hosts")
    assert snap_compare(app, terminal_size=size, run_before=after_load(cordon))
