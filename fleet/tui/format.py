"""Cell values for the tables: styled text that knows how to sort, and unit formatting.

Pure functions over numbers and strings (rich's `Text` is the only import),
so the views stay declarative and the formatting is tested directly.
"""

from __future__ import annotations

import re
import time
from typing import Any

from rich.text import Text

_DIGITS = re.compile(r"(\d+)")


class Cell(Text):
    """A table cell: rich `Text` plus the value its column sorts by.

    Without an explicit `sort_key` the cell sorts by its text, naturally
    ("node2" before "node10"), computed only when a sort asks for it.
    Equality includes the style and the sort key, so a cell whose colour
    changed (ready -> not ready) is updated even when its text did not.
    """

    __slots__ = ("_natural", "_sort_key")

    def __init__(self, text: str, style: str = "", sort_key: Any = None) -> None:
        super().__init__(text, style=style, no_wrap=True, end="")
        self._sort_key: Any = sort_key  # explicit, part of equality
        self._natural: Any = None  # derived from the text, cached

    @property
    def sort_key(self) -> Any:
        if self._sort_key is not None:
            return self._sort_key
        if self._natural is None:
            self._natural = natural_key(self.plain)
        return self._natural

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cell):
            return NotImplemented
        return (self.plain == other.plain and self.style == other.style
                and self._sort_key == other._sort_key)


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort "node2" before "node10": digit runs compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(text.lower()))


def clock_time(at: float) -> str:
    """Local wall-clock time of an event, HH:MM:SS."""
    return time.strftime("%H:%M:%S", time.localtime(at))


def age(seconds: float | None) -> str:
    """kubectl-style age: 42s, 7m, 3h12m, 5d."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h}h{m}m" if h < 10 and m else f"{h}h"
    return f"{s // 86400}d"


def millicores(value: int) -> str:
    """250 -> "250m", 2000 -> "2"."""
    return f"{value // 1000}" if value % 1000 == 0 and value else f"{value}m"


def memory(value: int) -> str:
    """Bytes in binary units, short: 512Mi, 1.5Gi."""
    for unit, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value >= size:
            number = value / size
            return f"{number:.0f}{unit}" if number >= 10 or number == int(number) \
                else f"{number:.1f}{unit}"
    return f"{value}B"


def percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def usage(requested: str, capacity: str, pct: int) -> str:
    """"1250m/4 31%"."""
    return f"{requested}/{capacity} {pct}%"


def usage_style(pct: int) -> str:
    return "red" if pct >= 90 else ("yellow" if pct >= 75 else "")


def ratio(ready: int, desired: int) -> Cell:
    """"2/3", coloured by completeness, sorted by the missing count then desired."""
    style = "green" if ready >= desired else ("red" if ready == 0 and desired else "yellow")
    return Cell(f"{ready}/{desired}", style, (desired - ready, desired))


def number(value: int | None, style: str = "") -> Cell:
    return Cell("-" if value is None else str(value), style, -1 if value is None else value)
