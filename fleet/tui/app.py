"""`FleetApp`: the k9s-style cockpit over a `StateSource`.

One main screen: a top bar (source, "updated N s ago", stale/paused/read-only
badges, view tabs), the five views in a ContentSwitcher, a status line, the
`:`/`/` command line and the footer. Refreshes run in a background worker on
an interval; each streamed update is folded into the `ClusterModel` and only
the visible view is synced (by key). A 1-second tick ages the "N s ago"
texts and the stale badges. Actions run as workers: confirm in a modal, call
the source, show the outcome, refresh. Nothing the source raises reaches the
shell: it is shown in the status line and as a notification.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widgets import ContentSwitcher, DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from fleet.tui import format as fmt
from fleet.tui.actions import ClusterActions, RunExternal
from fleet.tui.commands import FleetCommands
from fleet.tui.model import KINDS, ClusterModel, Kind
from fleet.tui.screens.describe import DescribeScreen
from fleet.tui.screens.help import HelpScreen, help_table
from fleet.tui.screens.logs import LogsScreen
from fleet.tui.source import (
    EventRow,
    HostRef,
    HostRow,
    PodRef,
    ReplicaRow,
    ServiceRef,
    ServiceRow,
    StateSource,
    Target,
)
from fleet.tui.views import VIEW_CLASSES, Context, TableView
from fleet.tui.views.hosts import stale_hosts
from fleet.tui.views.lb import ServerLine
from fleet.tui.widgets import VIEW_ALIASES, CommandLine, TopBar

Clock = Callable[[], float]

# actions that change the cluster (or open a shell in it): disabled by --readonly
MUTATING = frozenset({"scale", "restart", "cordon", "uncordon", "drain", "apply", "undo",
                      "promote", "abort", "shell"})
# which views each row-bound action makes sense in
_SERVICE_VIEWS = frozenset({"services", "replicas", "lb"})  # rows that belong to a service
_HOST_VIEWS = frozenset({"hosts"})
_ACTION_VIEWS: dict[str, frozenset[str]] = {
    "scale": _SERVICE_VIEWS,
    "restart": _SERVICE_VIEWS,
    "undo": _SERVICE_VIEWS,
    "promote": _SERVICE_VIEWS,
    "abort": _SERVICE_VIEWS,
    "cordon": _HOST_VIEWS,
    "uncordon": _HOST_VIEWS,
    "drain": _HOST_VIEWS,
    "logs": _SERVICE_VIEWS,
    "shell": frozenset({"replicas"}),
}
_TAB_NAMES = {"hosts": "Hosts", "services": "Services", "replicas": "Replicas", "lb": "LB",
              "events": "Events"}


class FleetApp(ClusterActions):
    """The `fleet ui` application (see the module docstring)."""

    CSS_PATH = "app.tcss"
    TITLE = "fleet ui"
    COMMANDS = App.COMMANDS | {FleetCommands}
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "view('hosts')", "Hosts", show=False, tooltip="Hosts view"),
        Binding("2", "view('services')", "Services", show=False, tooltip="Services view"),
        Binding("3", "view('replicas')", "Replicas", show=False, tooltip="Replicas view"),
        Binding("4", "view('lb')", "LB", show=False, tooltip="Load balancer view"),
        Binding("5", "view('events')", "Events", show=False, tooltip="Events view (live tail)"),
        Binding("colon", "command", "View", show=False,
                tooltip="Switch view by name: :hosts :svc :rs :lb :events"),
        Binding("slash", "filter", "Filter",
                tooltip="Filter the current view (rows containing every word)"),
        Binding("l", "logs", "Logs", tooltip="Logs of the selected replica or service"),
        Binding("s", "scale", "Scale", tooltip="Scale the selected service (asks the count)"),
        Binding("r", "restart", "Restart", tooltip="Rolling restart of the selected service"),
        Binding("c", "cordon", "Cordon", tooltip="Cordon the selected host (hosts view)"),
        Binding("u", "uncordon", "Uncordon", tooltip="Uncordon the selected host (hosts view)"),
        Binding("d", "drain", "Drain", tooltip="Drain the selected host (hosts view)"),
        Binding("a", "apply", "Apply", tooltip="Apply the blueprints (shows the plan first)"),
        Binding("z", "undo", "Undo rollout",
                tooltip="Undo rollout: the selected service back to its previous revision"),
        Binding("p", "promote", "Promote canary",
                tooltip="Promote canary: the selected service's canary becomes stable"),
        Binding("P", "abort", "Abort canary",
                tooltip="Abort canary: remove the selected service's canary"),
        Binding("x", "shell", "Shell", tooltip="Shell in the selected replica (replicas view)"),
        Binding("o", "sort", "Sort", tooltip="Sort by the next column (or click a header)"),
        Binding("O", "reverse_sort", "Reverse sort", show=False, tooltip="Reverse the sort"),
        Binding("space", "pause", "Pause", tooltip="Pause / resume the periodic refresh"),
        Binding("ctrl+r", "refresh", "Refresh now", show=False,
                tooltip="Refresh now (observe the cluster)"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("question_mark", "help", "Keys", tooltip="This list of keys"),
        Binding("q", "quit", "Quit"),
    ]

    view: reactive[str] = reactive("hosts", init=False)
    paused: reactive[bool] = reactive(False, init=False)

    def __init__(
        self,
        source: StateSource,
        *,
        interval: float = 2.0,
        readonly: bool = False,
        clock: Clock = time.time,
        run_external: RunExternal | None = None,
        initial_view: str = "hosts",
        poll: bool = True,
    ) -> None:
        super().__init__()
        self.source = source
        self.interval = interval
        self.stale_after = 2 * interval  # stale: missed a whole refresh (or unreachable)
        self.readonly = readonly
        self.poll = poll  # False: refresh only on ctrl+r and after actions (tests)
        self.clock = clock
        self.model = ClusterModel()
        self.refresh_count = 0  # completed refreshes (tests wait on it)
        # UI time (model + visible view, not the source) of the last refresh, wall and CPU
        self.last_refresh_ui_ms = 0.0
        self.last_refresh_ui_cpu_ms = 0.0
        self.last_message = ""
        self._run_external = run_external or self._run_in_terminal
        self._refreshing = False
        self._refresh_started = 0.0
        self._refresh_again = False
        self._dirty: set[Kind] = set()
        self._flush_pending = False
        self._ui_seconds = self._ui_cpu_seconds = 0.0
        self._view_ctx = Context(now=clock(), stale_after=self.stale_after)
        self.set_reactive(FleetApp.view, VIEW_ALIASES.get(initial_view, "hosts"))

    # ---- layout ----

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        with ContentSwitcher(initial=self.view, id="views"):
            for view_class in VIEW_CLASSES:
                yield view_class()
        yield Static("", id="status")
        yield CommandLine()
        yield Footer()

    def on_mount(self) -> None:
        if self.poll:
            self.set_interval(self.interval, self._on_interval)
        self.set_interval(1.0, self._tick)
        self._focus_view()
        self._draw_topbar()
        self.action_refresh()

    async def on_unmount(self) -> None:
        with suppress(Exception):  # leaving anyway; nothing left to show an error on
            await self.source.close()

    # ---- views ----

    def view_widget(self, kind: str | None = None) -> TableView:
        return self.query_one(f"#{kind or self.view}", TableView)

    def watch_view(self) -> None:
        self.query_one(ContentSwitcher).current = self.view
        self._sync_view()
        self._focus_view()
        self.refresh_bindings()
        self._draw_topbar()

    def watch_paused(self) -> None:
        self._draw_topbar()

    def _focus_view(self) -> None:
        self.view_widget().table.focus()

    def _sync_view(self) -> None:
        view = self.view_widget()
        if view.needs_sync(self.model, self._view_ctx):
            view.sync(self.model, self._view_ctx)

    def _render_context(self) -> Context:
        now = self.clock()
        return Context(now=now, stale_after=self.stale_after,
                       stale_hosts=stale_hosts(self.model.hosts, now, self.stale_after))

    # ---- refresh ----

    def _on_interval(self) -> None:
        if not self.paused:
            self._start_refresh()

    def _start_refresh(self) -> None:
        if self._refreshing:  # the previous refresh is still streaming: do not pile up
            self._refresh_again = True
            return
        self._refreshing = True
        self._refresh_started = self.clock()
        self.run_worker(self._refresh(), group="refresh", exit_on_error=False)

    async def _refresh(self) -> None:
        self._ui_seconds = self._ui_cpu_seconds = 0.0
        try:
            async for update in self.source.refresh():
                with self._ui_timer():
                    self._after_change(self.model.apply(update))
            self._flush_changes()  # the whole picture on screen before the refresh counts as done
            self.refresh_count += 1
            self.last_refresh_ui_ms = self._ui_seconds * 1000
            self.last_refresh_ui_cpu_ms = self._ui_cpu_seconds * 1000
            await self._fetch_events()
        except Exception as error:  # shown, never raised: the data stays and turns stale
            self._report_error(f"refresh failed: {error}")
        finally:
            self._refreshing = False
            self._draw_topbar()
        if self._refresh_again:
            self._refresh_again = False
            self._start_refresh()

    async def _fetch_events(self) -> None:
        events = await self.source.events(self.model.last_event_id)
        if self.model.add_events(events):
            self._after_change({"events"})

    def _after_change(self, changed: set[Kind]) -> None:
        """Note what changed; the screen catches up once per turn of the event loop.

        Hosts answering in a burst cost one table sync, not one each; a host
        answering alone is on screen at the next frame.
        """
        self._dirty |= changed
        if not self._flush_pending:
            self._flush_pending = True
            self.call_later(self._flush_changes)

    def _flush_changes(self) -> None:
        self._flush_pending = False
        if not self._dirty:
            return
        with self._ui_timer():
            if "hosts" in self._dirty:
                self._view_ctx = self._render_context()
            self._dirty.clear()
            self._sync_view()
            self._draw_topbar()

    @contextmanager
    def _ui_timer(self) -> Iterator[None]:
        """Count wall and CPU time spent on the UI side of a refresh (bench/ui_refresh.py)."""
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self._ui_seconds += time.perf_counter() - wall
            self._ui_cpu_seconds += time.thread_time() - cpu

    def _tick(self) -> None:
        """Once a second: age the "N s ago" texts and the stale badges."""
        self._view_ctx = self._render_context()
        self._sync_view()
        self._draw_topbar()

    # ---- top bar and status ----

    def _draw_topbar(self) -> None:
        bars = self.query(TopBar)
        if not bars:  # not composed yet
            return
        now = self._view_ctx.now
        status = Text.assemble((" fleet ", "bold reverse"), " ", (self.source.name, "bold"))
        if self.model.observed_at is None:
            status.append("  waiting for the first refresh…", "yellow")
        else:
            status.append(f"  updated {fmt.age(now - self.model.observed_at)} ago", "dim")
        if self._refreshing and now - self._refresh_started > self.interval:
            # a source that keeps a refresh open (a host it still waits for) is visible too
            status.append(f"  refresh running {fmt.age(now - self._refresh_started)}", "yellow")
        stale = len(self._view_ctx.stale_hosts)
        if stale:
            status.append(f"  {stale} host{'s' if stale > 1 else ''} stale", "bold yellow")
        if self.paused:
            status.append("  PAUSED", "bold black on yellow")
        if self.readonly:
            status.append("  READ-ONLY", "bold white on blue")
        tabs = Text(" ")
        counts = {"hosts": len(self.model.hosts), "services": len(self.model.services),
                  "replicas": len(self.model.replicas), "lb": len(self.model.frontends),
                  "events": len(self.model.events)}
        for index, kind in enumerate(KINDS, 1):
            count = counts[kind]
            label = f" {index} {_TAB_NAMES[kind]} {count} "
            tabs.append(label, "bold reverse" if kind == self.view else "")
            tabs.append(" ")
        view = self.view_widget()
        if view.filter_text:
            tabs.append(f" /{view.filter_text} ({view.shown}/{view.total})", "bold magenta")
        bars.first().show(status, tabs)

    def set_status(self, message: str, error: bool = False) -> None:
        """The bottom status line: the last outcome or error."""
        self.last_message = message
        self.query_one("#status", Static).update(
            Text(message, style="bold red" if error else ""))

    def _report_error(self, message: str) -> None:
        self.set_status(f"✗ {message}", error=True)
        self.notify(message, severity="error", timeout=8, markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # workers catch their own errors; this is the net under them
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self._report_error(f"{event.worker.name or 'task'} failed: {event.worker.error}")

    # ---- selection ----

    def selected(self) -> Any:
        return self.view_widget().selected_row(self.model)

    def selected_service(self) -> ServiceRow | None:
        row = self.selected()
        if isinstance(row, ServiceRow):
            return row
        if isinstance(row, ReplicaRow):
            return self.model.services.get(str(row.service_ref))
        if isinstance(row, ServerLine):
            return self.model.services.get(str(row.ref))
        if isinstance(row, EventRow) and row.service:
            return self.model.services.get(row.service)
        return None

    def selected_host(self) -> HostRow | None:
        row = self.selected()
        return row if isinstance(row, HostRow) else None

    def _target(self) -> Target | None:
        row = self.selected()
        if isinstance(row, HostRow):
            return HostRef(row.name)
        if isinstance(row, ReplicaRow):
            return row.ref
        if isinstance(row, EventRow) and row.host and not row.service:
            return HostRef(row.host)
        service = self.selected_service()
        return service.ref if service else None

    # ---- which actions are on ----

    def action_enabled(self, action: str) -> bool:
        """For the palette: the action applies to this view and mode."""
        return bool(self.check_action(action.split("(")[0], ()))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        views = _ACTION_VIEWS.get(action)
        if views is not None and self.view not in views:
            return False  # not for this kind of row: hidden
        if self.readonly and action in MUTATING:
            return None  # shown greyed: the footer says it is disabled
        return True

    def on_key(self, event: Any) -> None:
        # a greyed (read-only) key does nothing by itself: say why instead
        if not self.readonly or self.screen is not self.screen_stack[0] \
                or isinstance(self.focused, CommandLine):
            return
        for binding in self.BINDINGS:
            # check_action says None for exactly the greyed ones: mutating, and for this view
            if isinstance(binding, Binding) and binding.key == event.key \
                    and self.check_action(binding.action, ()) is None:
                self.notify(f"read-only: {binding.description.lower()} is disabled "
                            "(fleet ui --readonly)", severity="warning", markup=False)
                self.set_status(f"read-only: {binding.description.lower()} is disabled")
                event.stop()

    # ---- navigation actions ----

    def action_view(self, kind: str) -> None:
        self.view = VIEW_ALIASES.get(kind, kind)

    def action_command(self) -> None:
        self.query_one(CommandLine).open("command")

    def action_filter(self) -> None:
        self.query_one(CommandLine).open("filter", self.view_widget().filter_text)

    def action_clear_filter(self) -> None:
        view = self.view_widget()
        if view.filter_text:
            view.filter_text = ""
            self._draw_topbar()

    @on(CommandLine.Command)
    def _command(self, message: CommandLine.Command) -> None:
        word = message.text.lstrip(":").strip().lower()
        if word in ("q", "q!", "quit", "exit"):
            self.exit()
        elif word in ("help", "?"):
            self.action_help()
        elif word in VIEW_ALIASES:
            self.view = VIEW_ALIASES[word]
        elif word:
            self._report_error(f"unknown view ':{word}' (try :hosts :svc :rs :lb :events)")

    @on(CommandLine.Filter)
    def _filter(self, message: CommandLine.Filter) -> None:
        self.view_widget().filter_text = message.text
        self._draw_topbar()

    @on(CommandLine.Closed)
    def _command_line_closed(self) -> None:
        self._focus_view()

    def action_sort(self) -> None:
        self.view_widget().next_sort()

    def action_reverse_sort(self) -> None:
        view = self.view_widget()
        view.sort_reverse = not view.sort_reverse

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.set_status("refresh paused (space resumes)" if self.paused else "refresh resumed")
        if not self.paused:
            self._start_refresh()

    def action_refresh(self) -> None:
        self._start_refresh()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(help_table(self.BINDINGS, self.readonly, MUTATING)))

    def action_describe(self) -> None:
        target = self._target()
        if target is None:
            self.set_status("nothing selected to describe")
            return
        self.push_screen(DescribeScreen(self.source, target))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_describe()

    def action_logs(self) -> None:
        row = self.selected()
        target: PodRef | ServiceRef | None
        if isinstance(row, ReplicaRow):
            target = row.ref
        else:
            service = self.selected_service()
            target = service.ref if service else None
        if target is None:
            self.set_status("select a replica or a service for its logs")
            return
        self.push_screen(LogsScreen(self.source, target))
