"""`?`: every key of the UI on one screen, generated from the bindings so it cannot drift."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

COMMANDS_HELP = (
    (":hosts  :ho :nodes", "Hosts view"),
    (":svc  :services :deploy", "Services view"),
    (":rs  :replicas :pods", "Replicas view"),
    (":lb  :frontends", "Load balancer view"),
    (":events  :ev", "Events view"),
    (":q", "quit"),
)

NAVIGATION_HELP = (
    ("↑ ↓ PgUp PgDn Home End", "move in the table"),
    ("enter", "describe the row: spec, placement (why not host X), events, probes"),
    ("click a header", "sort by that column (again: reverse)"),
    ("esc", "clear the filter / close a panel"),
    ("ctrl+p", "command palette (every action by name)"),
)

LOGS_HELP = (
    ("f", "follow new lines on/off"),
    ("space", "pause (lines wait in a buffer)"),
    ("/", "search: show only matching lines"),
    ("esc q", "close"),
)


def _key_text(key: str) -> str:
    names = {"colon": ":", "slash": "/", "question_mark": "?", "space": "space"}
    return " ".join(names.get(k.strip(), k.strip()) for k in key.split(","))


def help_table(bindings: Iterable[BindingType], readonly: bool,
               mutating: frozenset[str]) -> Table:
    """All keys in sections: the app's bindings first, then commands, navigation, logs."""
    table = Table(box=None, padding=(0, 2), show_header=False, expand=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()

    def section(title: str) -> None:
        table.add_row(Text(title, style="bold underline"), "")

    section("Keys")
    for binding in bindings:
        if not isinstance(binding, Binding) or not binding.description:
            continue
        action = binding.action.split("(")[0]
        note = " (disabled: read-only)" if readonly and action in mutating else ""
        table.add_row(_key_text(binding.key), (binding.tooltip or binding.description) + note)
    for title, rows in (("Commands (type : then a name)", COMMANDS_HELP),
                        ("Navigation", NAVIGATION_HELP), ("In the logs panel", LOGS_HELP)):
        table.add_row("", "")
        section(title)
        for key, text in rows:
            table.add_row(key, text)
    return table


class HelpScreen(ModalScreen[None]):
    """The key reference; Escape, `q` or `?` closes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, table: Table) -> None:
        super().__init__()
        self._table = table

    def compose(self) -> ComposeResult:
        with Vertical(id="panel"):
            yield Label("fleet ui: keys", id="panel-title")
            with VerticalScroll(id="help-body"):
                yield Static(self._table)

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
