"""The Events view: the journal's live tail (follows new events while the cursor is at the end)."""

from __future__ import annotations

from collections.abc import Mapping

from fleet.tui.format import Cell, clock_time
from fleet.tui.model import ClusterModel
from fleet.tui.source import EventRow
from fleet.tui.views.base import Column, Context, TableView

_LEVEL_STYLE = {"info": "", "warning": "yellow", "error": "bold red"}


class EventsView(TableView):
    """Newest at the bottom, like `tail -f`."""

    KIND = "events"
    DEFAULT_SORT = "id"
    COLUMNS = (
        Column("id", "#"),
        Column("time", "TIME"),
        Column("kind", "KIND"),
        Column("object", "OBJECT"),
        Column("message", "MESSAGE"),
    )

    def rows(self, model: ClusterModel) -> Mapping[str, EventRow]:
        return {e.key: e for e in model.events}

    def cells(self, row: EventRow, ctx: Context) -> tuple[Cell, ...]:
        style = _LEVEL_STYLE.get(row.level, "")
        target = row.replica or row.service or row.host or "-"
        return (
            Cell(str(row.id), "dim", row.id),
            Cell(clock_time(row.time), "", row.time),
            Cell(row.kind, style or "cyan"),
            Cell(target),
            Cell(row.message, style),
        )

    def sync(self, model: ClusterModel, ctx: Context) -> None:
        table = self.table
        following = table.row_count == 0 or table.cursor_row >= table.row_count - 1
        super().sync(model, ctx)
        if following and table.row_count and not self.sort_reverse and self.sort_column == "id":
            table.move_cursor(row=table.row_count - 1)
