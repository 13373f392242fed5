"""Small widgets of the main screen: the `:`/`/` command line and the two-line top bar."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

VIEW_ALIASES: dict[str, str] = {
    "hosts": "hosts", "host": "hosts", "ho": "hosts", "nodes": "hosts", "node": "hosts",
    "no": "hosts", "1": "hosts",
    "svc": "services", "services": "services", "service": "services", "deploy": "services",
    "deployments": "services", "dp": "services", "2": "services",
    "rs": "replicas", "replicas": "replicas", "replica": "replicas", "pods": "replicas",
    "pod": "replicas", "po": "replicas", "3": "replicas",
    "lb": "lb", "frontends": "lb", "fe": "lb", "haproxy": "lb", "4": "lb",
    "events": "events", "event": "events", "ev": "events", "5": "events",
}
_SUGGESTIONS = ["hosts", "svc", "services", "rs", "replicas", "pods", "lb", "events", "quit"]


class CommandLine(Input):
    """The bottom line that opens for `:view` commands and `/filter` text.

    Posts `CommandLine.Command` (on Enter in command mode), `CommandLine.Filter`
    (on every keystroke in filter mode; Escape sends an empty filter) and
    `CommandLine.Closed`.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close", show=False)]

    class Command(Message):
        """The operator typed `:text` and pressed Enter."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Filter(Message):
        """The filter text changed (live, as typed)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Closed(Message):
        """The line was closed (Enter or Escape)."""

    def __init__(self) -> None:
        super().__init__(id="commandline")
        self.purpose = "command"
        self.display = False

    def open(self, mode: str, value: str = "") -> None:
        """Show the line in `command` or `filter` mode and focus it."""
        self.purpose = mode
        self.suggester = SuggestFromList(_SUGGESTIONS) if mode == "command" else None
        self.placeholder = "view: hosts svc rs lb events" if mode == "command" else \
            "filter: words that every shown row contains"
        self.value = value
        self.cursor_position = len(value)
        self.display = True
        self.add_class(mode)
        self.remove_class("filter" if mode == "command" else "command")
        self.focus()

    def close(self) -> None:
        self.display = False
        self.post_message(self.Closed())

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.purpose == "filter" and self.display:
            self.post_message(self.Filter(event.value))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.purpose == "command":
            self.post_message(self.Command(event.value.strip()))
        self.close()

    def action_close(self) -> None:
        if self.purpose == "filter":
            self.post_message(self.Filter(""))
        self.close()


class TopBar(Static):
    """Line 1: source, freshness, badges. Line 2: the view tabs with counts, filter, sort."""

    def show(self, status: Text, tabs: Text) -> None:
        self.update(Text.assemble(status, "\n", tabs))
