"""The describe panel: facts, spec, placement with every "why not host X", events, probes."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from fleet.tui.format import clock_time
from fleet.tui.source import Describe, StateSource, Target


def _section(title: str) -> Text:
    return Text(f"\n{title}", style="bold underline")


def render_describe(data: Describe) -> RenderableType:
    """The whole panel as one rich renderable (also used by tests)."""
    parts: list[RenderableType] = []
    if data.facts:
        facts = Table.grid(padding=(0, 2))
        facts.add_column(style="bold cyan", no_wrap=True)
        facts.add_column()
        for key, value in data.facts:
            facts.add_row(key, value)
        parts.append(facts)
    parts.append(_section(f"Placement ({len(data.placed)} placed, "
                          f"{len(data.rejected)} hosts not chosen)"))
    placement = Table(box=None, padding=(0, 2), show_edge=False, header_style="bold")
    placement.add_column("REPLICA / HOST")
    placement.add_column("DECISION")
    for replica, host in data.placed:
        placement.add_row(f"{replica} -> {host}", Text("placed", style="green"))
    for reason in data.rejected:
        who = f"{reason.replica} x {reason.host}" if reason.replica else f"not {reason.host}"
        placement.add_row(who, Text(reason.reason, style="yellow"))
    if not data.placed and not data.rejected:
        placement.add_row("-", "no placement decision for this object")
    parts.append(placement)
    parts.append(_section("Probes"))
    if data.probes:
        probes = Table(box=None, padding=(0, 2), show_edge=False, header_style="bold")
        for name in ("POD", "PROBE", "RESULT", "DETAIL"):
            probes.add_column(name)
        for probe in data.probes:
            probes.add_row(probe.pod, probe.probe,
                           Text("ok", "green") if probe.ok else Text("failing", "bold red"),
                           probe.detail)
        parts.append(probes)
    else:
        parts.append(Text("no probe results", style="dim"))
    parts.append(_section("Recent events"))
    if data.events:
        events = Table(box=None, padding=(0, 2), show_edge=False, show_header=False)
        events.add_column(style="dim", no_wrap=True)
        events.add_column(style="cyan", no_wrap=True)
        events.add_column()
        for event in data.events:
            events.add_row(clock_time(event.time), event.kind, event.message)
        parts.append(events)
    else:
        parts.append(Text("no events", style="dim"))
    if data.spec:
        parts.append(_section("Spec"))
        parts.append(Syntax(data.spec, "yaml", theme="ansi_dark", background_color="default"))
    return Group(*parts)


class DescribeScreen(ModalScreen[None]):
    """Loads `source.describe(target)` in a worker and shows it; Escape or `q` closes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "close", "Close")]

    def __init__(self, source: StateSource, target: Target) -> None:
        super().__init__()
        self._source = source
        self._target = target

    def compose(self) -> ComposeResult:
        with Vertical(id="panel"):
            yield Label(Text(f"describe {self._target}"), id="panel-title")
            with VerticalScroll(id="describe-body"):
                yield Static(Text("loading…", style="dim"), id="describe")

    def on_mount(self) -> None:
        self.query_one("#describe-body").focus()
        self._load()

    @work(exclusive=True, exit_on_error=False)
    async def _load(self) -> None:
        body = self.query_one("#describe", Static)
        try:
            data = await self._source.describe(self._target)
        except Exception as error:  # the source's trouble is shown, never raised
            body.update(Text(f"describe failed: {error}", style="bold red"))
            return
        self.query_one("#panel-title", Label).update(Text(data.title))
        body.update(render_describe(data))

    def action_close(self) -> None:
        self.dismiss(None)
