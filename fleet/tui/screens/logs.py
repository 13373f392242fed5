"""The logs panel: streams a pod's (or a service's) logs; follow, pause and search.

Keys: `f` follow (scroll to new lines), `space` pause (new lines wait in a
buffer), `/` search (shows only matching lines; Escape clears), Escape/`q`
close. Lines are kept in a bounded buffer so a chatty pod cannot eat memory.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Log
from textual.worker import Worker

from fleet.tui.source import PodRef, ServiceRef, StateSource

MAX_LINES = 10_000


class LogsScreen(ModalScreen[None]):
    """Follow a log stream from the source (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("f", "toggle_follow", "Follow"),
        Binding("space", "toggle_pause", "Pause"),
        Binding("slash", "search", "Search"),
    ]

    follow: reactive[bool] = reactive(True, init=False)
    paused: reactive[bool] = reactive(False, init=False)
    search: reactive[str] = reactive("", init=False)

    def __init__(self, source: StateSource, target: PodRef | ServiceRef) -> None:
        super().__init__()
        self._source = source
        self._target = target
        self._lines: deque[str] = deque(maxlen=MAX_LINES)
        self._pending: list[str] = []  # matching lines not yet in the Log
        self._ended = False
        self._matched = 0  # lines received that match the search
        self._worker: Worker[None] | None = None

    @property
    def lines(self) -> list[str]:
        """Every line received so far (bounded), for tests and search."""
        return list(self._lines)

    def compose(self) -> ComposeResult:
        with Vertical(id="panel"):
            yield Label(Text(self._title()), id="panel-title")
            yield Log(max_lines=MAX_LINES, id="log")
            search = Input(placeholder="search (Enter keeps it, Escape clears)", id="log-search")
            search.display = False
            yield search

    def on_mount(self) -> None:
        self.query_one(Log).focus()
        self._worker = self._stream()
        # lines reach the Log in batches: a chatty pod must not cost a redraw (and the Log's
        # width-measuring thread) per line
        self.set_interval(0.1, self._show_new_lines)

    @work(exclusive=True, exit_on_error=False)
    async def _stream(self) -> None:
        log = self.query_one(Log)
        stream = self._source.logs(self._target, follow=True)
        try:
            async for line in stream:
                if not log.is_attached:  # the panel is closing
                    break
                self._lines.append(line)
                if self._matches(line):
                    self._matched += 1
                    self._pending.append(line)
        except Exception as error:  # shown in the panel, never raised
            log.write_line(f"-- log stream failed: {error}")
        finally:
            close = getattr(stream, "aclose", None)  # async generators have it; end them now
            if close is not None:
                await close()
        if log.is_attached:
            self._ended = True
            self._show_new_lines()

    def _matches(self, line: str) -> bool:
        return not self.search or self.search.lower() in line.lower()

    def _title(self) -> str:
        state = []
        if self._ended:
            state.append("ended")
        elif self.paused:
            state.append(f"PAUSED ({len(self._pending)} new)")
        else:
            state.append("following" if self.follow else "not following")
        if self.search:
            state.append(f"search '{self.search}': {self._matched} lines")
        return f"logs {self._target}  [{' · '.join(state)}]"

    def _show_new_lines(self) -> None:
        """Write the matching lines received since the last call (unless paused)."""
        if self._pending and not self.paused:
            self.query_one(Log).write_lines(self._pending)
            self._pending = []
        self._update_title()

    def _update_title(self) -> None:
        self.query_one("#panel-title", Label).update(Text(self._title()))

    def _redraw(self) -> None:
        log = self.query_one(Log)
        log.clear()
        shown = [line for line in self._lines if self._matches(line)]
        self._matched = len(shown)
        self._pending = []  # every matching line is in `shown`
        if self.paused:
            self._pending, shown = shown, []
        log.write_lines(shown)

    def watch_follow(self, follow: bool) -> None:
        self.query_one(Log).auto_scroll = follow
        self._update_title()

    def watch_paused(self) -> None:
        self._show_new_lines()

    def watch_search(self) -> None:
        self._redraw()
        self._update_title()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused

    def action_search(self) -> None:
        field = self.query_one("#log-search", Input)
        field.display = True
        field.focus()

    @on(Input.Changed, "#log-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search = event.value

    @on(Input.Submitted, "#log-search")
    def _search_done(self) -> None:
        self.query_one(Log).focus()

    def action_close(self) -> None:
        field = self.query_one("#log-search", Input)
        if field.has_focus:  # Escape in the search field clears the search first
            field.value = ""
            field.display = False
            self.query_one(Log).focus()
            return
        if self._worker is not None:
            self._worker.cancel()  # stop streaming before the widgets go away
        self.dismiss(None)
