"""Progress of an apply: a live status line on a terminal, plain lines otherwise (stderr)."""

from __future__ import annotations

import sys
import time
from typing import Any

from fleet.execute import ActionResult


class Progress:
    """Lines for every finished action; on a terminal also a spinner with elapsed time."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()
        self._status: Any = None
        self._console: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)
            self._status = self._console.status("applying ...")
            self._status.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._status is not None:
            self._status.stop()

    def _print(self, text: str, style: str | None = None) -> None:
        stamp = f"[{time.monotonic() - self.started:6.1f}s] "
        if self._console is not None:
            self._console.print(stamp + text, style=style, markup=False)
        else:
            print(stamp + text, file=sys.stderr, flush=True)

    def line(self, text: str) -> None:
        self._print(text)
        if self._status is not None:
            self._status.update(text)

    def result(self, result: ActionResult) -> None:
        action = result.action
        if result.ok:
            verb = {"create": "created", "remove": "removed", "restart": "restarted"}
            text = (
                f"{verb[action.kind.value]} {action.pod} on {action.host} ({result.seconds:.1f} s)"
            )
            self._print(f"ok   {text}", "green")
        else:
            self._print(
                f"FAIL {action.kind.value} {action.pod} on {action.host}: {result.error}", "red"
            )
