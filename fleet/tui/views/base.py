"""`TableView`: one resource list, a DataTable kept in step with the model by row key.

A refresh never clears the table: rows are added, removed and updated cell
by cell by key, so the cursor stays on the same row and the scroll position
stays put (STYLE.md, "rows updated by key"). Rendering is cached per row by a
signature (the row itself plus whatever time-dependent text it shows), so
an unchanged row costs one comparison per refresh.

Subclasses declare `COLUMNS`, how to list rows from the model (`rows`), how to
render one (`cells`) and, when a cell depends on the clock, `signature`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist

from fleet.tui.format import Cell
from fleet.tui.model import ClusterModel, Kind

# Past this many removals at once, refilling is cheaper than DataTable.remove_row (O(rows) each).
REBUILD_AFTER_REMOVALS = 25


@dataclass(frozen=True)
class Column:
    """One table column: its key (also the sort name) and header label."""

    key: str
    label: str


@dataclass(frozen=True)
class Context:
    """What rendering may depend on besides the row: the clock and which hosts are stale."""

    now: float
    stale_after: float
    stale_hosts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Entry:
    signature: Hashable
    cells: tuple[Cell, ...]
    text: str  # lower-cased plain text of all cells, for the filter


class TableView(Widget):
    """A filterable, sortable table of one kind of row (see the module docstring)."""

    DEFAULT_CSS = """
    TableView { height: 1fr; }
    TableView > DataTable { height: 1fr; }
    """

    KIND: ClassVar[Kind]
    COLUMNS: ClassVar[tuple[Column, ...]]
    DEFAULT_SORT: ClassVar[str]
    # do cells depend on the stale-host set, or on the clock (ages)?
    USES_STALE_HOSTS: ClassVar[bool] = False
    USES_CLOCK: ClassVar[bool] = False

    filter_text: reactive[str] = reactive("", init=False)
    sort_column: reactive[str] = reactive("", init=False)
    sort_reverse: reactive[bool] = reactive(False, init=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id or self.KIND)
        self._entries: dict[str, _Entry] = {}
        self._shown: set[str] = set()
        self._synced_version = -1
        self._synced_context: Context | None = None
        self.set_reactive(TableView.sort_column, self.DEFAULT_SORT)

    # ---- what subclasses provide ----

    def rows(self, model: ClusterModel) -> Mapping[str, Any]:
        """The rows of this view by key."""
        raise NotImplementedError

    def cells(self, row: Any, ctx: Context) -> tuple[Cell, ...]:
        """One row's cells, in COLUMNS order."""
        raise NotImplementedError

    def signature(self, row: Any, ctx: Context) -> Hashable:
        """Everything `cells` depends on; equal signatures mean equal cells."""
        return row  # type: ignore[no-any-return]

    # ---- public ----

    @property
    def table(self) -> DataTable[Cell]:
        return self.query_one(DataTable)

    @property
    def total(self) -> int:
        return len(self._entries)

    @property
    def shown(self) -> int:
        return len(self._shown)

    def compose(self) -> ComposeResult:
        table: DataTable[Cell] = DataTable(cursor_type="row", zebra_stripes=True)
        for column in self.COLUMNS:
            table.add_column(self._label(column), key=column.key)
        yield table

    def selected_key(self) -> str | None:
        """The key of the row under the cursor (None on an empty table)."""
        table = self.table
        if table.row_count == 0:
            return None
        try:
            row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except (CellDoesNotExist, RowDoesNotExist):
            return None
        return row_key.value

    def selected_row(self, model: ClusterModel) -> Any:
        key = self.selected_key()
        return None if key is None else self.rows(model).get(key)

    def needs_sync(self, model: ClusterModel, ctx: Context) -> bool:
        if self._synced_version != model.versions[self.KIND]:
            return True
        return self._synced_context is None or self._context_matters(self._synced_context, ctx)

    def sync(self, model: ClusterModel, ctx: Context) -> None:
        """Bring the table in line with the model, by key (the cursor stays on its row)."""
        table = self.table
        cursor_key = self.selected_key()
        cursor_row = table.cursor_row
        screen_row = cursor_row - table.scroll_y  # where the cursor is on screen
        entries: dict[str, _Entry] = {}
        adds: list[str] = []
        removes: list[str] = []
        reorder = False  # did a cell that decides the order change?
        terms = self._terms()
        shown = self._shown
        previous = self._entries
        for key, row in self.rows(model).items():
            signature = self.signature(row, ctx)
            old = previous.get(key)
            entry = old if old is not None and old.signature == signature else \
                self._render_entry(row, ctx, signature)
            entries[key] = entry
            visible = _matches(entry, terms)
            if key in shown:
                if not visible:
                    removes.append(key)
                elif entry is not old and old is not None:
                    reorder |= self._update_cells(key, old, entry)
            elif visible:
                adds.append(key)
        removes.extend(k for k in self._shown if k not in entries)
        self._entries = entries
        self._synced_version = model.versions[self.KIND]
        self._synced_context = ctx
        if len(removes) > REBUILD_AFTER_REMOVALS:
            self._rebuild(cursor_key, screen_row)
            return
        for key in removes:
            table.remove_row(key)
            self._shown.discard(key)
        for key in adds:
            table.add_row(*entries[key].cells, key=key)
            self._shown.add(key)
        if adds or reorder:
            self._sort()
        if adds or removes or reorder:
            self._restore_cursor(cursor_key, cursor_row, screen_row)

    # ---- reactive state ----

    def watch_filter_text(self) -> None:
        self._rebuild(self.selected_key(), None)

    def watch_sort_column(self) -> None:
        self._resort()

    def watch_sort_reverse(self) -> None:
        self._resort()

    def sort_by(self, column: str) -> None:
        """Sort by `column`; choosing the current sort column again reverses it."""
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.set_reactive(TableView.sort_reverse, False)  # a new column starts ascending
            self.sort_column = column

    def next_sort(self) -> None:
        """Move the sort to the next column (the `o` key)."""
        keys = [c.key for c in self.COLUMNS]
        index = keys.index(self.sort_column) if self.sort_column in keys else -1
        self.sort_by(keys[(index + 1) % len(keys)])

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        if event.column_key.value is not None:
            self.sort_by(event.column_key.value)

    # ---- internals ----

    def _context_matters(self, old: Context, new: Context) -> bool:
        """Whether cells may differ under `new` although the rows did not change."""
        if self.USES_CLOCK and old.now != new.now:
            return True
        return self.USES_STALE_HOSTS and old.stale_hosts != new.stale_hosts

    def _render_entry(self, row: Any, ctx: Context, signature: Hashable) -> _Entry:
        cells = self.cells(row, ctx)
        return _Entry(signature, cells, " ".join(c.plain for c in cells).lower())

    def _terms(self) -> list[str]:
        return self.filter_text.lower().split()

    def _update_cells(self, key: str, old: _Entry, new: _Entry) -> bool:
        """Update the cells that differ; True when one of them decides the row order."""
        table = self.table
        order = (self.COLUMNS[0].key, self.sort_column)
        reorder = False
        for column, before, after in zip(self.COLUMNS, old.cells, new.cells, strict=True):
            if before != after:
                table.update_cell(key, column.key, after, update_width=True)
                reorder |= column.key in order and before.sort_key != after.sort_key
        return reorder

    def _rebuild(self, cursor_key: str | None, screen_row: float | None) -> None:
        """Refill the table from the rendered entries (filter changes, mass removals)."""
        table = self.table
        table.clear()
        terms = self._terms()
        shown = [k for k, e in self._entries.items() if _matches(e, terms)]
        shown.sort(key=self._order_key, reverse=self.sort_reverse)
        for key in shown:
            table.add_row(*self._entries[key].cells, key=key)
        self._shown = set(shown)
        self._restore_cursor(cursor_key, 0, screen_row)

    def _order_key(self, key: str) -> Any:
        cells = self._entries[key].cells
        index = self._column_index(self.sort_column)
        return (cells[index].sort_key, cells[0].sort_key)

    def _column_index(self, key: str) -> int:
        for index, column in enumerate(self.COLUMNS):
            if column.key == key:
                return index
        return 0

    def _sort(self) -> None:
        table = self.table
        first = self.COLUMNS[0].key
        if self.sort_column == first:
            table.sort(first, key=lambda cell: cell.sort_key, reverse=self.sort_reverse)
        else:
            table.sort(self.sort_column, first, key=_pair_key, reverse=self.sort_reverse)

    def _resort(self) -> None:
        if not self.is_mounted:
            return
        table = self.table
        for column in self.COLUMNS:
            table.columns[ColumnKey(column.key)].label = self._label(column)
        cursor_key = self.selected_key()
        screen_row = table.cursor_row - table.scroll_y
        self._sort()  # also makes the table redraw the new header labels
        self._restore_cursor(cursor_key, table.cursor_row, screen_row)

    def _label(self, column: Column) -> Text:
        arrow = " "
        if column.key == self.sort_column:
            arrow = "▼" if self.sort_reverse else "▲"
        return Text(f"{column.label}{arrow}")

    def _restore_cursor(self, key: str | None, fallback_row: int,
                        screen_row: float | None = None) -> None:
        """Put the cursor back on row `key`; with `screen_row`, at the same height on screen."""
        table = self.table
        if table.row_count == 0:
            return
        row = fallback_row
        if key is not None and key in self._shown:
            row = table.get_row_index(key)
        row = min(max(row, 0), table.row_count - 1)
        if row == table.cursor_row:
            return
        table.move_cursor(row=row, scroll=False)
        if screen_row is not None:
            # after the table's own "scroll the cursor into view" (also queued after refresh)
            self.call_after_refresh(table.scroll_to, y=max(0.0, row - screen_row),
                                    animate=False, immediate=True)


def _matches(entry: _Entry, terms: list[str]) -> bool:
    """The filter: the row's text contains every term."""
    return all(term in entry.text for term in terms)


def _pair_key(cells: tuple[Cell, Cell]) -> Any:
    return (cells[0].sort_key, cells[1].sort_key)
