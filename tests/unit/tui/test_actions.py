"""Every action: confirmed in a modal, received by the source, shown on screen and in events."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Log

from fleet.tui.app import FleetApp
from fleet.tui.screens.confirm import ConfirmScreen, PlanScreen, ScaleScreen
from fleet.tui.screens.logs import LogsScreen
from fleet.tui.synthetic import SyntheticSource
from tests.unit.tui.conftest import FakeClock, loaded, make_app, screen_text, wait_for


async def select(pilot: Pilot[None], key: str) -> None:
    """Put the cursor on the row with `key` in the current view."""
    app = pilot.app
    assert isinstance(app, FleetApp)
    table = app.view_widget().table
    table.move_cursor(row=table.get_row_index(key))
    await pilot.pause()
    assert app.view_widget().selected_key() == key


async def settle(pilot: Pilot[None], source: SyntheticSource, calls: int) -> None:
    """Wait until the source got `calls` calls and the refresh after the action finished."""
    app = pilot.app
    assert isinstance(app, FleetApp)
    await wait_for(pilot, lambda: len(source.calls) >= calls, f"{calls} call(s)")
    before = source.refreshes
    await wait_for(pilot, lambda: source.refreshes > before or not app._refreshing, "refresh")
    await wait_for(pilot, lambda: not app._refreshing, "refresh done")
    await pilot.pause()


async def events_text(pilot: Pilot[None]) -> str:
    await pilot.press("5")
    await pilot.pause()
    return screen_text(pilot.app)


async def test_scale_asks_the_count_and_the_service_gets_it(source: SyntheticSource,
                                                             clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="svc")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        await select(pilot, "shop/web")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ScaleScreen), "scale modal")
        assert "Now 3 replicas" in screen_text(app)
        await pilot.press("5", "enter")
        await settle(pilot, source, 1)
        assert source.calls == [("scale", "shop/web", "5")]
        assert app.model.services["shop/web"].desired == 5
        assert "5/5" in screen_text(app)
        assert "scaled shop/web from 3 to 5 replicas" in app.last_message
        assert "scaled shop/web from 3 to 5" in await events_text(pilot)


async def test_scale_rejects_a_bad_count_and_escape_cancels(source: SyntheticSource,
                                                             clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="svc")
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ScaleScreen), "scale modal")
        await pilot.press("enter")  # nothing typed
        await pilot.pause()
        assert isinstance(app.screen, ScaleScreen)
        await pilot.press(*"9999", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ScaleScreen)
        assert "a whole number from 0 to 500" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ScaleScreen), "closed")
        assert source.calls == []
        assert app.last_message == "scale: cancelled"


async def test_scale_from_the_replicas_view_scales_the_replicas_service(
        source: SyntheticSource, clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="rs")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("s")  # first row: shop/api-0
        await wait_for(pilot, lambda: isinstance(app.screen, ScaleScreen), "scale modal")
        await pilot.press("1", "enter")
        await settle(pilot, source, 1)
        assert source.calls == [("scale", "shop/api", "1")]
        assert len(app.model.replicas_of_service("shop", "api")) == 2  # 1 stable + canary


async def test_rolling_restart_is_confirmed(source: SyntheticSource, clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="svc")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        await select(pilot, "shop/worker")
        clock.advance(600)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        assert "Replace every pod of shop/worker" in screen_text(app)
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "closed")
        assert source.calls == []
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("y")
        await settle(pilot, source, 1)
        assert source.calls == [("restart", "shop/worker")]
        ages = {r.started_at for r in app.model.replicas_of_service("shop", "worker")}
        assert ages == {clock.now}
        assert "restarted shop/worker" in await events_text(pilot)


async def test_cordon_uncordon_and_drain_a_host(source: SyntheticSource,
                                                clock: FakeClock) -> None:
    app = make_app(source, clock)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        await select(pilot, "node2")
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("y")
        await settle(pilot, source, 1)
        assert source.calls[-1] == ("cordon", "node2")
        assert app.model.hosts["node2"].cordoned
        assert "Ready,Cordoned" in screen_text(app)
        assert app.view_widget().selected_key() == "node2"  # cursor kept its row
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("y")
        await settle(pilot, source, 2)
        assert source.calls[-1] == ("uncordon", "node2")
        assert "Cordoned" not in screen_text(app)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("enter")  # drain is dangerous: Enter lands on Cancel
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "closed")
        assert len(source.calls) == 2
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("y")
        await settle(pilot, source, 3)
        assert source.calls[-1] == ("drain", "node2")
        assert app.model.hosts["node2"].replicas == 0
        assert not [r for r in app.model.replicas.values() if r.host == "node2"]
        text = await events_text(pilot)
        for message in ("cordoned node2", "uncordoned node2", "drained node2"):
            assert message in text


async def test_apply_shows_the_plan_then_applies(source: SyntheticSource,
                                                 clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="svc")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        revision = app.model.services["shop/api"].revision
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, PlanScreen), "plan")
        assert "~ shop/api  image shop/api:1.0 -> shop/api:1.1" in screen_text(app)
        await pilot.press("y")
        await settle(pilot, source, 2)
        assert source.calls == [("plan_apply",), ("apply",)]
        assert app.model.services["shop/api"].revision != revision
        await pilot.press("a")  # nothing left to do: no modal, says so
        await wait_for(pilot, lambda: len(source.calls) == 3, "second plan")
        await wait_for(pilot, lambda: "No changes" in app.last_message, "no changes")
        assert not isinstance(app.screen, PlanScreen)


async def test_rollout_undo(source: SyntheticSource, clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="svc")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        await select(pilot, "shop/worker")
        before = app.model.services["shop/worker"].revision
        await pilot.press("z")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("y")
        await settle(pilot, source, 1)
        assert source.calls == [("rollout_undo", "shop/worker")]
        after = app.model.services["shop/worker"]
        assert after.revision != before and after.up_to_date == 3
        assert f"rolled shop/worker back from {before}" in await events_text(pilot)


async def test_canary_promote_and_abort(source: SyntheticSource, clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="svc")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        await select(pilot, "shop/web")
        await pilot.press("p")  # no canary: says so, asks nothing
        await pilot.pause()
        assert app.last_message == "shop/web has no canary to promote"
        await select(pilot, "shop/api")
        canary = app.model.services["shop/api"].canary
        assert canary is not None
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("y")
        await settle(pilot, source, 1)
        assert source.calls == [("promote", "shop/api")]
        promoted = app.model.services["shop/api"]
        assert promoted.canary is None and promoted.revision == canary.revision
        assert "promoted canary" in await events_text(pilot)


async def test_canary_abort(source: SyntheticSource, clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="lb")  # works from the load balancer view too
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("P")  # first row: a shop/api server
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("y")
        await settle(pilot, source, 1)
        assert source.calls == [("abort", "shop/api")]
        assert app.model.services["shop/api"].canary is None
        assert "api-canary-0" not in screen_text(app)  # its server left the frontend


async def test_shell_suspends_and_runs_the_sources_argv(source: SyntheticSource,
                                                        clock: FakeClock) -> None:
    ran: list[list[str]] = []

    def run(argv: list[str]) -> int:
        ran.append(argv)
        return 0

    app = make_app(source, clock, initial_view="rs", run_external=run)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        key = app.view_widget().selected_key()
        await pilot.press("x")
        await wait_for(pilot, lambda: ran, "shell ran")
        assert ran[0][0] == "sh" and ran[0][-1] == key
        assert source.calls == [("shell", key)]
        await wait_for(pilot, lambda: "exited 0" in app.last_message, "status")


async def test_shell_without_a_terminal_is_an_error_not_a_crash(
        source: SyntheticSource, clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="rs")  # headless: App.suspend is unsupported
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("x")
        await wait_for(pilot, lambda: "shell failed" in app.last_message, "error shown")
        assert app.is_running


async def test_logs_stream_pause_and_search(source: SyntheticSource, clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="rs")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogsScreen), "logs")
        logs = app.screen
        assert isinstance(logs, LogsScreen)
        log = logs.query_one(Log)
        await wait_for(pilot, lambda: log.line_count > 20, "tail and followed lines")
        await pilot.press("space")
        await pilot.pause()
        assert logs.paused
        shown = log.line_count
        received = len(logs.lines)
        await wait_for(pilot, lambda: len(logs.lines) > received + 3, "lines while paused")
        assert log.line_count == shown  # held back, not shown
        assert "PAUSED" in screen_text(app)
        await pilot.press("space")
        await wait_for(pilot, lambda: log.line_count > shown + 3, "held lines shown")
        await pilot.press("slash", *"500")
        await pilot.pause()
        assert logs.search == "500"
        assert all("500" in line for line in log.lines)
        assert "search '500'" in screen_text(app)
        await pilot.press("escape")  # clears the search
        await pilot.pause()
        assert logs.search == ""
        await pilot.press("escape")  # closes the panel
        await wait_for(pilot, lambda: not isinstance(app.screen, LogsScreen), "closed")


async def test_logs_of_a_service_prefix_each_pod(source: SyntheticSource,
                                                 clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="svc")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        await select(pilot, "shop/web")
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogsScreen), "logs")
        logs = app.screen
        assert isinstance(logs, LogsScreen)
        await wait_for(pilot, lambda: len(logs.lines) >= 60, "service tail")
        assert {line.split()[0] for line in logs.lines[:3]} == {
            "web-0.461826a33c", "web-1.461826a33c", "web-2.461826a33c"}


async def test_readonly_disables_every_action_and_says_so(source: SyntheticSource,
                                                          clock: FakeClock) -> None:
    app = make_app(source, clock, readonly=True, initial_view="svc")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        assert "READ-ONLY" in screen_text(app)
        for key in ("s", "r", "z", "p", "P", "a"):
            app.last_message = ""
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is app.screen_stack[0], key
            assert "read-only" in app.last_message, key
        await pilot.press("1")
        for key in ("c", "u", "d"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is app.screen_stack[0], key
        assert source.calls == []
        await pilot.press("slash", "s")  # typing is not an action
        await pilot.pause()
        assert app.view_widget().filter_text == "s"
        await pilot.press("escape")
        # looking is still allowed
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is not app.screen_stack[0], "describe")
