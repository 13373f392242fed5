"""`fleet validate` and `fleet convert compose|k8s`: the blueprint language on its own.

Nothing here touches a host. The spec modules are imported inside the commands.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fleet.cli.common import INVENTORY_ENV, InventoryOption, OutputFormat, OutputOption, emit_json
from fleet.cli.main import app

if TYPE_CHECKING:
    from fleet.spec.blueprint import Blueprint
    from fleet.spec.inventory import Inventory

ValuesOption: Any = typer.Option(
    [], "--values", "-f", help="Values file for ${name} parameters (repeatable; later wins)."
)
SetOption: Any = typer.Option(
    [], "--set", help="A parameter value key=value (repeatable; wins over values files)."
)
BlueprintsArgument: Any = typer.Argument(
    ..., help="Blueprint or Compose files (or directories of *.yaml).", show_default=False
)

convert_app = typer.Typer(
    help="Translate between Compose, fleet blueprints and Kubernetes manifests.",
    no_args_is_help=True,
)
app.add_typer(convert_app, name="convert")


def _warn(lines: list[str]) -> None:
    for line in lines:
        print(f"warning: {line}", file=sys.stderr)


def _inventory(path: Path | None) -> Inventory | None:
    from fleet.spec.loader import load_inventory

    if path is None and os.environ.get(INVENTORY_ENV):
        path = Path(os.environ[INVENTORY_ENV])
    return load_inventory(path) if path is not None else None


def _load(
    paths: list[Path], values: list[Path], sets: list[str], inventory: Inventory | None = None
) -> Blueprint:
    from fleet.spec.documents import BlueprintErrors
    from fleet.spec.loader import load_blueprints

    try:
        blueprint = load_blueprints(paths, values_files=values, sets=sets, inventory=inventory)
    except BlueprintErrors as exc:
        _warn(exc.warnings)
        raise
    _warn(blueprint.warnings)
    return blueprint


@app.command("validate")
def validate_command(
    blueprints: list[Path] = BlueprintsArgument,
    inventory: Path | None = InventoryOption,
    values: list[Path] = ValuesOption,
    sets: list[str] = SetOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Check blueprints (and the inventory) and report every problem with file:line.

    Exit 0 when valid (warnings are printed), 1 with all errors otherwise.
    """
    from fleet.errors import SpecError, SpecErrors
    from fleet.spec.documents import BlueprintErrors
    from fleet.spec.loader import load_blueprints

    if output is not OutputFormat.json:
        inv = _inventory(inventory)
        bp = _load(blueprints, values, sets, inv)
        counts = _counts(bp)
        where = f" against inventory {inv.name!r} ({len(inv)} hosts)" if inv else ""
        typer.echo(f"ok: {counts}{where}; {len(bp.warnings)} warning(s)")
        return
    errors: list[SpecError] = []
    warnings: list[str] = []
    summary: dict[str, Any] = {}
    try:
        inv = _inventory(inventory)
        bp = load_blueprints(blueprints, values_files=values, sets=sets, inventory=inv)
        warnings = bp.warnings
        summary = {
            "apps": sorted(bp.apps),
            "deployments": sorted(bp.deployments),
            "services": sorted(bp.services),
            "autoscalers": sorted(bp.autoscalers),
            "secrets": sorted(bp.secrets),
        }
    except BlueprintErrors as exc:
        errors, warnings = exc.errors, exc.warnings
    except SpecErrors as exc:
        errors = exc.errors
    except SpecError as exc:
        errors = [exc]
    emit_json("fleet.validate/v1", {
        "ok": not errors,
        "errors": [_error_json(e) for e in errors],
        "warnings": warnings,
        **summary,
    })  # fmt: skip
    if errors:
        raise typer.Exit(1)


def _error_json(error: Any) -> dict[str, Any]:
    where = error.location
    return {
        "file": where.file if where else None,
        "line": where.line if where else None,
        "field": where.field if where else "",
        "message": error.message,
    }


def _counts(bp: Blueprint) -> str:
    parts = [
        f"{len(bp.deployments)} deployment(s)",
        f"{len(bp.services)} service(s)",
    ]
    if bp.autoscalers:
        parts.append(f"{len(bp.autoscalers)} autoscaler(s)")
    if bp.secrets:
        parts.append(f"{len(bp.secrets)} secret(s)")
    return ", ".join(parts) + f" in app(s) {', '.join(sorted(bp.apps)) or '-'}"


@convert_app.command("compose")
def convert_compose_command(
    file: Path = typer.Argument(..., help="A Compose file.", show_default=False),
    values: list[Path] = ValuesOption,
    sets: list[str] = SetOption,
) -> None:
    """Print the blueprint equivalent to a Compose file (warnings also as comments)."""
    from fleet.spec.dump import dump_blueprint

    bp = _load([file], values, sets)
    header = f"# Blueprint converted from {file} by `fleet convert compose`.\n"
    header += "".join(f"# warning: {w}\n" for w in bp.warnings)
    typer.echo(dump_blueprint(bp, namespaces=True, header=header), nl=False)


@convert_app.command("k8s")
def convert_k8s_command(
    blueprints: list[Path] = BlueprintsArgument,
    values: list[Path] = ValuesOption,
    sets: list[str] = SetOption,
) -> None:
    """Print Kubernetes manifests for blueprints (fleet extensions noted in comments)."""
    from fleet.spec.k8s import convert_k8s

    bp = _load(blueprints, values, sets)
    typer.echo(convert_k8s(bp), nl=False)
