"""Options and output helpers shared by all commands.

Conventions (STYLE.md): human output goes to stdout on a terminal, progress
and logs to stderr; `--output json` prints one JSON document on stdout with a
`schema` field naming its shape and version, so scripts can rely on it.
"""

from __future__ import annotations

import enum
import json
import os
import sys
from pathlib import Path
from typing import Any

import typer


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


INVENTORY_ENV = "FLEET_INVENTORY"
LAB_HELP = "Local labs of real hosts to run fleet against."

InventoryOption: Any = typer.Option(
    None,
    "--inventory",
    "-i",
    help=f"Inventory file (YAML) naming the hosts. Default: ${INVENTORY_ENV}.",
    show_default=False,
)

OutputOption: Any = typer.Option(
    OutputFormat.text, "--output", "-o", help="Output format: text for people, json for scripts."
)


def group(name: str, help_text: str) -> typer.Typer:
    """A sub-command group (`fleet rollout ...`), shared when several modules add to it."""
    from fleet.cli.main import app

    for registered in app.registered_groups:
        if registered.name == name and registered.typer_instance is not None:
            return registered.typer_instance
    sub = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


def resolve_inventory(path: Path | None) -> Path:
    """The inventory path from -i or $FLEET_INVENTORY, with a clear error when neither is set."""
    if path is None:
        env = os.environ.get(INVENTORY_ENV)
        if not env:
            raise typer.BadParameter(
                f"no inventory given: pass -i FILE or set {INVENTORY_ENV} "
                "(`fleet lab up` prints the path of the lab's inventory)",
                param_hint="'--inventory' / '-i'",
            )
        path = Path(env)
    return path


def emit_json(schema: str, data: dict[str, Any]) -> None:
    """Print one JSON document for scripts: {"schema": "fleet.<kind>/v1", ...data}."""
    json.dump({"schema": schema, **data}, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def info(message: str) -> None:
    """A progress or log line: always stderr, so stdout stays parseable."""
    print(message, file=sys.stderr, flush=True)
