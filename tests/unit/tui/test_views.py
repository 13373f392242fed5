"""Views, switching, describe, filter, sort, help and the command palette (Pilot tests)."""

from __future__ import annotations

from fleet.tui.app import FleetApp
from fleet.tui.commands import FleetCommands
from fleet.tui.screens.describe import DescribeScreen
from fleet.tui.screens.help import HelpScreen
from fleet.tui.synthetic import SyntheticSource
from fleet.tui.views import TableView
from tests.unit.tui.conftest import FakeClock, loaded, make_app, screen_text, wait_for


def keys_in_order(view: TableView) -> list[str]:
    table = view.table
    return [str(row.key.value) for row in table.ordered_rows]


async def test_number_keys_switch_between_the_five_views(source: SyntheticSource,
                                                        clock: FakeClock) -> None:
    app = make_app(source, clock)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        expected = {"1": ("hosts", 3, "node2"), "2": ("services", 3, "shop/worker"),
                    "3": ("replicas", 9, "shop/web-0."), "4": ("lb", 6, "api-canary-0."),
                    "5": ("events", 3, "shop/web at")}
        for key, (view, rows, text) in expected.items():
            await pilot.press(key)
            await pilot.pause()
            assert app.view == view
            assert app.view_widget().table.row_count == rows
            assert text in screen_text(app)


async def test_colon_commands_switch_views_and_unknown_names_are_reported(
        source: SyntheticSource, clock: FakeClock) -> None:
    app = make_app(source, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        for command, view in (("svc", "services"), ("rs", "replicas"), ("lb", "lb"),
                              ("events", "events"), ("replicas", "replicas"),
                              ("hosts", "hosts")):
            await pilot.press("colon", *command, "enter")
            await pilot.pause()
            assert app.view == view, command
        await pilot.press("colon", *"nodez", "enter")
        await pilot.pause()
        assert app.view == "hosts"
        assert "unknown view ':nodez'" in app.last_message
        assert app.is_running


async def test_services_view_counts_like_kubectl(source: SyntheticSource,
                                                 clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="svc")
    async with app.run_test(size=(160, 30)) as pilot:
        await loaded(pilot)
        text = screen_text(app)
        for header in ("READY", "UP-TO-DATE", "AVAILABLE", "ROLLOUT", "AUTOSCALER", "CANARY"):
            assert header in text
        assert "rolling 1/3" in text  # shop/worker mid-rollout
        assert "HPA 2..6 cpu 43%/70%" in text
        assert "@10%" in text  # the canary's weight


async def test_enter_opens_describe_with_placement_reasons(source: SyntheticSource,
                                                           clock: FakeClock) -> None:
    source.world.hosts["node3"].cordoned = True
    app = make_app(source, clock, initial_view="svc")
    async with app.run_test(size=(160, 48)) as pilot:
        await loaded(pilot)
        await pilot.press("down")  # shop/web (sorted: api, web, worker)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DescribeScreen), "describe panel")
        await wait_for(pilot, lambda: "Placement" in screen_text(app), "describe loaded")
        text = screen_text(app)
        assert "service shop/web" in text
        assert "web-0 -> node1" in text
        assert "kind: Deployment" in text  # the spec
        assert "readiness" in text  # probes
        assert "shop/web at" in text  # recent events
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, DescribeScreen), "closed")


async def test_describe_works_from_every_view(source: SyntheticSource,
                                             clock: FakeClock) -> None:
    app = make_app(source, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await loaded(pilot)
        for key, title in (("1", "host node1"), ("3", "replica shop/api-0.83ca7bc2b5 on node1"),
                           ("4", "service shop/api"), ("5", "service shop/worker")):
            await pilot.press(key, "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DescribeScreen), "describe")
            await wait_for(pilot, lambda t=title: t in screen_text(app), title)
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, DescribeScreen), "closed")


async def test_describe_says_why_not_each_host(clock: FakeClock) -> None:
    source = SyntheticSource(hosts=4, replicas=100, seed=1, clock=clock)  # has data/reports
    app = make_app(source, clock, initial_view="svc")
    async with app.run_test(size=(160, 48)) as pilot:
        await loaded(pilot)
        view = app.view_widget()
        app.view_widget().table.move_cursor(row=view.table.get_row_index("data/reports"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Placement" in screen_text(app), "describe loaded")
        text = screen_text(app)
        for host in ("node1", "node2", "node3", "node4"):
            assert f"not {host}" in text
        assert "insufficient memory" in text


async def test_slash_filters_the_current_view_and_escape_clears(source: SyntheticSource,
                                                                clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="rs")
    async with app.run_test(size=(160, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"worker")
        await pilot.pause()
        view = app.view_widget()
        assert view.table.row_count == 3
        assert all("worker" in key for key in keys_in_order(view))
        await pilot.press("enter")  # keep the filter, back to the table
        assert "/worker (3/9)" in screen_text(app)
        await pilot.press("slash", "backspace", "backspace", "backspace", "backspace",
                          "backspace", "backspace", *"node2 api")
        await pilot.pause()
        assert keys_in_order(view) == ["shop/api-1.83ca7bc2b5@node2"]
        await pilot.press("escape")  # closes the line and clears
        await pilot.pause()
        assert view.table.row_count == 9
        assert view.filter_text == ""


async def test_filter_stays_per_view(source: SyntheticSource, clock: FakeClock) -> None:
    app = make_app(source, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"node1", "enter")
        await pilot.press("3")
        await pilot.pause()
        assert app.view_widget().table.row_count == 9
        await pilot.press("1")
        await pilot.pause()
        assert app.view_widget().table.row_count == 1


async def test_sort_by_key_and_by_clicking_a_header(source: SyntheticSource,
                                                    clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="rs")
    async with app.run_test(size=(160, 30)) as pilot:
        await loaded(pilot)
        view = app.view_widget()
        assert keys_in_order(view)[0].startswith("shop/api-0.")
        await pilot.press("o", "o")  # pod -> service -> host
        await pilot.pause()
        assert view.sort_column == "host"
        hosts = [source.world.replica_row(p).host for p in source.world.pods]
        shown = [key.rsplit("@", 1)[1] for key in keys_in_order(view)]
        assert shown == sorted(hosts, key=lambda h: int(h[4:]))
        assert "HOST▲" in screen_text(app)
        await pilot.press("O")  # reverse
        await pilot.pause()
        assert [key.rsplit("@", 1)[1] for key in keys_in_order(view)] == shown[::-1]
        assert "HOST▼" in screen_text(app)
        # click the AGE header: sorted by age (youngest first)
        await pilot.press("3")
        header_x = screen_text(app).splitlines()[2].index("AGE")
        assert await pilot.click(view.table, offset=(header_x + 1, 0))
        await pilot.pause()
        assert view.sort_column == "age"
        ages = [source.world.replica_row(p) for p in source.world.pods]
        youngest = max(ages, key=lambda r: r.started_at or 0)
        assert keys_in_order(view)[0] == youngest.key


async def test_question_mark_lists_every_key(source: SyntheticSource, clock: FakeClock) -> None:
    app = make_app(source, clock)
    async with app.run_test(size=(120, 60)) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        text = screen_text(app)
        for key, words in (("s", "Scale"), ("r", "Restart"), ("c", "Cordon"), ("d", "Drain"),
                           ("a", "Apply"), ("z", "Undo rollout"), ("p", "Promote canary"),
                           ("P", "Abort canary"), ("x", "Shell"), ("l", "Logs"),
                           ("space", "Pause"), ("/", "Filter"), (":svc", "Services view"),
                           ("ctrl+p", "command palette")):
            assert any(line.strip("█ ").startswith(key) and words.lower() in line.lower()
                       for line in text.splitlines()), (key, words)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), "help closed")


async def test_palette_offers_the_actions_that_fit_the_view(source: SyntheticSource,
                                                            clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="svc")
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        provider = FleetCommands(app.screen)
        titles = [str(hit.text) async for hit in provider.search("scale")]
        assert titles == ["Scale service"]
        titles = [str(hit.text) async for hit in provider.search("cordon")]
        assert titles == []  # host actions are not offered on the services view
        discovered = [str(hit.text) async for hit in provider.discover()]
        assert "Rollout undo" in discovered and "Hosts view" in discovered
        # choosing a hit runs the action: the palette's "Replicas view"
        hits = [h async for h in provider.search("replicas view")]
        hit = hits[0]
        await hit.command()
        assert app.view == "replicas"


async def test_palette_opens_with_ctrl_p(source: SyntheticSource, clock: FakeClock) -> None:
    app = make_app(source, clock, initial_view="svc")
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+p", *"restart")
        await wait_for(pilot, lambda: "Rolling restart" in screen_text(app), "palette hit")


def test_app_title_and_views_are_declared() -> None:
    assert FleetApp.TITLE == "fleet ui"
    assert FleetCommands in FleetApp.COMMANDS
