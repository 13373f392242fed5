"""`fleet plan` and `fleet apply`: show what would change, then make it so."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fleet.cli.common import (
    InventoryOption,
    OutputFormat,
    OutputOption,
    emit_json,
    info,
    resolve_inventory,
)
from fleet.cli.main import app

if TYPE_CHECKING:
    from fleet.observed import Observed
    from fleet.session import Sources

BlueprintArgs: Any = typer.Argument(
    ...,
    help="Blueprint files (or folders, or Compose files).",
    show_default=False,
    metavar="BLUEPRINT...",
)
ValuesOption: Any = typer.Option(
    [], "--values", "-f", help="Values file for ${name} parameters (repeatable)."
)
SetOption: Any = typer.Option([], "--set", help="A parameter value, key=value (repeatable).")


def sources(
    inventory: Path | None, blueprints: list[Path], values: list[Path], sets: list[str]
) -> Sources:
    from fleet.session import Sources

    return Sources(resolve_inventory(inventory), tuple(blueprints), tuple(values), tuple(sets))


def print_plan(observed: Observed, cluster: str) -> None:
    from fleet.planview import lines

    rows = lines(observed.plan, observed.targets, observed.cluster.hosts.values())
    if not sys.stdout.isatty():  # no colours to show: plain lines, without importing rich
        for _, text in rows:
            print(text)
        return
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    for style, text in rows:
        console.print(text, style=style or None, markup=False)


def plan_json(observed: Observed, cluster: str) -> None:
    from fleet.planview import as_json

    emit_json(
        "fleet.plan/v1",
        as_json(observed.plan, observed.targets, observed.cluster.hosts.values(), cluster),
    )


@app.command("plan")
def plan_command(
    blueprints: list[Path] = BlueprintArgs,
    inventory: Path = InventoryOption,
    values: list[Path] = ValuesOption,
    sets: list[str] = SetOption,
    output: OutputFormat = OutputOption,
    detailed_exitcode: bool = typer.Option(
        False, "--detailed-exitcode", help="Exit 2 when there are changes (0: none, 1: error)."
    ),
) -> None:
    """Show what `fleet apply` would do: create, replace, remove, per host, with reasons.

    Reads the hosts (one round trip each) and changes nothing on them.
    """
    import asyncio

    from fleet.session import open_session

    src = sources(inventory, blueprints, values, sets)

    async def run() -> tuple[Observed, str]:
        async with open_session(src) as session:
            _warn(session.blueprint.warnings)
            return await session.reconciler.look(), session.inventory.name

    observed, cluster = asyncio.run(run())
    if output == OutputFormat.json:
        plan_json(observed, cluster)
    else:
        print_plan(observed, cluster)
    if detailed_exitcode and not observed.plan.empty:
        raise typer.Exit(2)


@app.command("apply")
def apply_command(
    blueprints: list[Path] = BlueprintArgs,
    inventory: Path = InventoryOption,
    values: list[Path] = ValuesOption,
    sets: list[str] = SetOption,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    prune_volumes: bool = typer.Option(
        False,
        "--prune-volumes",
        help="Also delete the data volumes no wanted replica uses (scaled down or removed "
        "services of these apps). Without it volumes are never deleted.",
    ),
    output: OutputFormat = OutputOption,
) -> None:
    """Make the cluster match the blueprints: plan, confirm, then roll out wave by wave.

    Hosts are worked on in parallel; each rollout wave waits for the new replicas to be
    ready. Exit 0 when converged, 3 when some hosts or actions failed (the rest is done;
    the next apply finishes the job), 4 when another run holds the lock, 1 on errors or a
    rollout that failed and was rolled back.
    """
    import asyncio

    from fleet.session import open_session

    src = sources(inventory, blueprints, values, sets)
    interactive = sys.stdin.isatty() and sys.stderr.isatty() and output == OutputFormat.text

    async def run() -> int:
        async with open_session(src, lock="apply", say=info) as session:
            _warn(session.blueprint.warnings)
            if prune_volumes:  # decided from what the hosts have now, never a remembered list
                session.engine.list_volumes = True
            from fleet.errors import ExitCode

            reconciler = session.reconciler
            observed = await reconciler.look()
            if output == OutputFormat.text:
                print_plan(observed, session.inventory.name)
            converged = all(r.converged for r in observed.rollups())
            if observed.plan.empty and converged and not observed.unreachable:
                # the containers are right; the load balancer may still have drifted
                balancer = reconciler.load_balancer
                await balancer.sync(observed.cluster, observed.health, observed.desired)
                if prune_volumes:
                    await _prune(session, observed)
                if output == OutputFormat.json:
                    emit_json(
                        "fleet.apply/v1",
                        {"changes": False, "converged": not balancer.errors, "lb": balancer.errors},
                    )
                for error in balancer.errors:
                    info(f"  not converged: {error}")
                return ExitCode.PARTIAL if balancer.errors else 0
            if not yes and not observed.plan.empty:
                if not interactive:
                    from fleet.errors import Aborted

                    raise Aborted("not a terminal: pass --yes to apply without confirmation")
                if not typer.confirm("Apply these changes?", default=False, err=True):
                    from fleet.errors import Aborted

                    raise Aborted("nothing was changed")
            from fleet.cli.progress import Progress

            with Progress(enabled=interactive) as progress:
                reconciler.say = progress.line
                reconciler.on_result = progress.result
                outcome = await reconciler.converge(observed)
            if prune_volumes and outcome.last is not None:
                await _prune(session, outcome.last)
            return _finish(outcome, output)

    code = asyncio.run(run())
    if code:
        raise typer.Exit(code)


async def _prune(session: Any, observed: Observed) -> None:
    """Delete volumes no wanted replica uses (only with --prune-volumes)."""
    from fleet.volumes import volumes_to_prune

    doomed = volumes_to_prune(observed.cluster, observed.desired, session.reconciler.apps)
    for host, volumes in sorted(doomed.items()):
        await session.engine.remove_volumes(host, volumes)
        for volume in volumes:
            session.journal.event("volume-pruned", f"deleted volume {volume}", host=host)
            info(f"deleted volume {volume} on {host}")


def _finish(outcome: Any, output: OutputFormat) -> int:
    from fleet.errors import ExitCode

    failures = outcome.failures
    code = ExitCode.OK
    if outcome.failed_rollouts:
        code = ExitCode.ERROR
    elif failures or outcome.unreachable or not outcome.converged:
        code = ExitCode.PARTIAL
    if output == OutputFormat.json:
        emit_json(
            "fleet.apply/v1",
            {
                "changes": True,
                "converged": outcome.converged,
                "actions": [
                    {
                        "kind": r.action.kind.value,
                        "pod": r.action.pod,
                        "host": r.action.host,
                        "ok": r.ok,
                        "error": r.error,
                        "seconds": round(r.seconds, 3),
                    }
                    for r in outcome.results
                ],
                "failed_rollouts": outcome.failed_rollouts,
                "unreachable": outcome.unreachable,
                "stuck": outcome.stuck,
            },
        )
        return int(code)
    done = sum(1 for r in outcome.results if r.ok)
    info(f"done: {done} action(s) succeeded, {len(failures)} failed")
    for result in failures:
        action = result.action
        info(f"  failed: {action.kind.value} {action.pod} on {action.host}: {result.error}")
    for line in outcome.failed_rollouts:
        info(f"  {line}")
    for host in outcome.unreachable:
        info(f"  unreachable: {host} (its replicas were left alone; apply again when it answers)")
    if not outcome.converged:
        for line in outcome.stuck:
            info(f"  not converged: {line}")
    return int(code)


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        info(f"warning: {warning}")
