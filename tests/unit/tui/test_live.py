"""Live and honest: partial results, stale badges, pause, errors on screen, rows kept by key."""

from __future__ import annotations

import pytest

from fleet.tui.synthetic import SyntheticSource
from tests.unit.tui.conftest import FakeClock, loaded, make_app, screen_text, wait_for


def host_line(text: str, host: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(f"{host} "))


async def test_updated_ago_ticks_with_the_clock(source: SyntheticSource,
                                                clock: FakeClock) -> None:
    app = make_app(source, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        assert "updated 0s ago" in screen_text(app)
        clock.advance(3)
        app._tick()
        await pilot.pause()
        assert "updated 3s ago" in screen_text(app)
        assert "Stale" not in screen_text(app)  # 3 s < 2 x interval


async def test_a_host_that_stops_answering_turns_stale_and_the_rest_keeps_updating(
        source: SyntheticSource, clock: FakeClock) -> None:
    app = make_app(source, clock)
    async with app.run_test(size=(160, 30)) as pilot:
        await loaded(pilot)
        source.hang("node2")  # its answer never comes; the others' do
        clock.advance(10)
        app.action_refresh()
        await wait_for(pilot, lambda: app.model.hosts["node3"].observed_at == clock.now,
                       "node1 and node3 answered")
        assert app._refreshing  # the refresh still waits for node2 ...
        app._tick()
        await pilot.pause()
        text = screen_text(app)  # ... and the screen is not frozen
        assert "Ready" in host_line(text, "node1")
        assert "Ready" in host_line(text, "node3")
        assert "Stale" in host_line(text, "node2")
        assert "10s" in host_line(text, "node2")
        assert "1 host stale" in text
        assert "refresh running 10s" not in text  # started at the new time: 0 s so far
        clock.advance(3)
        app._tick()
        await pilot.pause()
        assert "refresh running 3s" in screen_text(app)
        await pilot.press("3")  # its replicas say their state is last-known
        await pilot.pause()
        node2 = [line for line in screen_text(app).splitlines() if " node2 " in line]
        assert node2 and all("running?" in line for line in node2)
        source.release("node2")
        await wait_for(pilot, lambda: not app._refreshing, "refresh finished")
        app._tick()
        await pilot.press("1")
        await pilot.pause()
        assert "Ready" in host_line(screen_text(app), "node2")


async def test_an_unreachable_host_is_marked_at_once(source: SyntheticSource,
                                                     clock: FakeClock) -> None:
    app = make_app(source, clock)
    async with app.run_test(size=(160, 30)) as pilot:
        await loaded(pilot)
        source.set_down("node3")
        clock.advance(2)
        app.action_refresh()
        await loaded(pilot, 2)
        line = host_line(screen_text(app), "node3")
        assert "Unreachable" in line and "connection refused" in line
        assert "2s" in line  # last good observation, 2 s ago
        assert app.model.hosts["node3"].replicas == 3  # last known, not "empty"
        assert "1 host stale" in screen_text(app)


async def test_a_slow_host_does_not_hold_up_the_others(source: SyntheticSource,
                                                       clock: FakeClock) -> None:
    source.set_delay("node1", 0.5)
    app = make_app(source, clock)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(pilot, lambda: "node2" in app.model.hosts, "first host")
        assert "node1" not in app.model.hosts  # still on its way
        assert "node2" in screen_text(app)
        await loaded(pilot)
        assert "node1" in screen_text(app)


async def test_pause_stops_refreshing_until_resumed(source: SyntheticSource,
                                                    clock: FakeClock) -> None:
    app = make_app(source, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("space")
        assert app.paused
        assert "PAUSED" in screen_text(app)
        app._on_interval()  # what the interval timer does
        await pilot.pause()
        assert source.refreshes == 1
        await pilot.press("space")
        await loaded(pilot, 2)
        assert not app.paused
        assert source.refreshes == 2
        assert "PAUSED" not in screen_text(app)


async def test_errors_are_shown_never_raised(source: SyntheticSource, clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="svc")
    async with app.run_test(size=(160, 30)) as pilot:
        await loaded(pilot)
        source.fail_next("refresh", "ssh: [Errno 111] connection refused")
        app.action_refresh()
        await wait_for(pilot, lambda: "refresh failed" in app.last_message, "refresh error")
        assert "[Errno 111]" in screen_text(app)  # shown verbatim, not parsed as markup
        assert app.view_widget().table.row_count == 3  # the data stays
        source.fail_next("scale", "lock held by heal on admin1")
        await pilot.press("s", "4", "enter")
        await wait_for(pilot, lambda: "scale failed" in app.last_message, "action error")
        assert "lock held by heal on admin1" in screen_text(app)
        source.fail_next("describe", "no such service")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "describe failed: no such service" in screen_text(app),
                       "describe error")
        await pilot.press("escape")
        source.fail_next("plan_apply", "blueprint web.yaml:3: bad")
        await pilot.press("a")
        await wait_for(pilot, lambda: "plan failed" in app.last_message, "plan error")
        assert app.is_running


async def test_cursor_and_scroll_survive_a_refresh(clock: FakeClock) -> None:
    source = SyntheticSource(hosts=50, replicas=1000, seed=3, clock=clock, churn=0.05)
    app = make_app(source, clock, initial_view="rs")
    async with app.run_test(size=(160, 48)) as pilot:
        await loaded(pilot)
        table = app.view_widget().table
        assert table.row_count == 1000
        for _ in range(12):
            await pilot.press("pagedown")
        await pilot.pause()
        key = app.view_widget().selected_key()
        row, scroll = table.cursor_row, table.scroll_y
        assert row > 300 and scroll > 300
        # a replica is added above the cursor: the cursor follows its row
        await pilot.press("2")
        table2 = app.view_widget().table
        table2.move_cursor(row=table2.get_row_index("blog/api"))
        before = app.model.services["blog/api"].desired
        await pilot.press("s", "9", "9", "enter")
        await wait_for(pilot, lambda: source.calls, "scaled")
        await pilot.press("3")
        clock.advance(2)
        app.action_refresh()
        await loaded(pilot, 3)
        added = len(app.model.replicas) - 1000
        assert added == 99 - before
        await pilot.pause()
        # same row under the cursor, at the same height on screen: the view moved with it
        assert app.view_widget().selected_key() == key
        assert table.cursor_row == row + added
        assert table.scroll_y == scroll + added
        # an unchanged refresh moves nothing
        clock.advance(2)
        app.action_refresh()
        await loaded(pilot, 4)
        assert (table.cursor_row, table.scroll_y) == (row + added, scroll + added)


@pytest.mark.parametrize("view", ["hosts", "services", "replicas", "lb", "events"])
async def test_big_cluster_refresh_is_fast(clock: FakeClock, view: str) -> None:
    source = SyntheticSource(hosts=50, replicas=1000, seed=3, clock=clock, churn=0.02)
    app = make_app(source, clock, initial_view=view)
    async with app.run_test(size=(160, 48)) as pilot:
        await loaded(pilot)
        clock.advance(2)
        app.action_refresh()
        await loaded(pilot, 2)
        # generous bound for a loaded CI box; bench/ui_refresh.py reports the real number
        assert app.last_refresh_ui_ms < 500


async def test_events_view_is_a_live_tail(source: SyntheticSource, clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="events")
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        table = app.view_widget().table
        assert table.cursor_row == table.row_count - 1  # at the tail
        await source.cordon("node1")  # someone else acts; the journal has a new entry
        clock.advance(2)
        app.action_refresh()
        await loaded(pilot, 2)
        assert table.row_count == 4
        assert table.cursor_row == 3  # followed the tail
        assert "cordoned node1" in screen_text(app)
        await pilot.press("up")  # reading back: the tail no longer pulls the cursor
        await source.uncordon("node1")
        app.action_refresh()
        await loaded(pilot, 3)
        assert table.row_count == 5 and table.cursor_row == 2
