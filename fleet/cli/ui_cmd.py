"""`fleet ui`: the terminal UI (Textual), over the live cluster or a synthetic one.

textual and the UI package are imported inside the command: every other
command starts without them.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fleet.cli.common import InventoryOption, resolve_inventory
from fleet.cli.main import app
from fleet.errors import FleetError

if TYPE_CHECKING:
    from fleet.tui.source import StateSource

_SYNTHETIC = re.compile(r"(\d+)x(\d+)")

SyntheticOption: Any = typer.Option(
    None, "--synthetic", metavar="HOSTSxREPLICAS",
    help="Run against a made-up cluster (e.g. 50x1000) instead of the inventory's hosts.",
)


def parse_synthetic(value: str) -> tuple[int, int]:
    """"50x1000" -> (50, 1000); hosts 1..10000, replicas 0..100000."""
    match = _SYNTHETIC.fullmatch(value.strip().lower())
    if not match:
        raise typer.BadParameter(f"expected HOSTSxREPLICAS like 50x1000, not {value!r}",
                                 param_hint="'--synthetic'")
    hosts, replicas = int(match[1]), int(match[2])
    if not 1 <= hosts <= 10_000 or not 0 <= replicas <= 100_000:
        raise typer.BadParameter("hosts 1..10000 and replicas 0..100000",
                                 param_hint="'--synthetic'")
    return hosts, replicas


def live_source(inventory: Path, blueprints: list[Path]) -> StateSource:
    """The StateSource over the inventory's hosts (SSH observation, apply machinery)."""
    from fleet.session import Sources
    from fleet.tui.live import LiveSource

    return LiveSource(Sources(inventory, tuple(blueprints)))


@app.command("ui")
def ui_command(
    blueprints: list[Path] = typer.Argument(
        None, help="Blueprint files (what `a` applies); default: none.", show_default=False
    ),
    inventory: Path | None = InventoryOption,
    readonly: bool = typer.Option(
        False, "--readonly", help="Watch only: scale, restart, cordon, apply ... are disabled."
    ),
    interval: float = typer.Option(
        2.0, "--interval", min=0.2, help="Seconds between refreshes (a host is stale after 2x)."
    ),
    synthetic: str | None = SyntheticOption,
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic cluster."),
) -> None:
    """A k9s-style terminal UI: hosts, services, replicas, load balancer, events; act on them.

    1-5 or :svc, :rs ... switch views, Enter describes, / filters, ? lists every key.
    """
    source: StateSource
    if synthetic is not None:
        hosts, replicas = parse_synthetic(synthetic)
        from fleet.tui.synthetic import SyntheticSource

        source = SyntheticSource(hosts=hosts, replicas=replicas, seed=seed, churn=0.01)
    else:
        source = live_source(resolve_inventory(inventory), list(blueprints or []))
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise FleetError("fleet ui needs a terminal (stdin and stdout must be a tty)")

    from fleet.tui.app import FleetApp

    FleetApp(source, interval=interval, readonly=readonly).run()
