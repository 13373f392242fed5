"""Operations: heal, events, scale, restart, rollout ..., cordon/uncordon/drain, logs."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fleet.cli.apply_cmd import BlueprintArgs, SetOption, ValuesOption, sources
from fleet.cli.common import (
    InventoryOption,
    OutputFormat,
    OutputOption,
    emit_json,
    group,
    info,
    resolve_inventory,
)
from fleet.cli.main import app

if TYPE_CHECKING:
    from fleet.heal import HealReport
    from fleet.observed import Outcome
    from fleet.session import Session, Sources

rollout_app = group("rollout", "Rollouts: history, undo, canary promote and abort.")


def _run_session(
    src: Sources, work: Any, *, lock: str | None = None, warn: bool = True, **kw: Any
) -> Any:
    """Open a session, run `work(session)` (a coroutine function), close everything.
    `warn=False`: no blueprint warnings (`heal -q` from cron would mail them every minute)."""
    import asyncio

    from fleet.session import open_session

    async def run() -> Any:
        async with open_session(src, lock=lock, say=info, **kw) as session:
            for warning in session.blueprint.warnings if warn else ():
                info(f"warning: {warning}")
            return await work(session)

    return asyncio.run(run())


def _operate(src: Sources, lock: str, work: Callable[[Session], Awaitable[Outcome]]) -> None:
    """Run one operation under the cluster lock; exit like apply does."""
    _exit_for(_run_session(src, work, lock=lock))


def _exit_for(outcome: Outcome) -> None:
    from fleet.cli.apply_cmd import _finish

    code = _finish(outcome, OutputFormat.text)
    if code:
        raise typer.Exit(code)


# -- heal -----------------------------------------------------------------------------------


@app.command("heal")
def heal_command(
    blueprints: list[Path] = BlueprintArgs,
    inventory: Path = InventoryOption,
    values: list[Path] = ValuesOption,
    sets: list[str] = SetOption,
    lost_after: float = typer.Option(
        30.0, "--lost-after", help="Seconds a host may not answer before its replicas move."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing when nothing changed."),
    watch: bool = typer.Option(False, "--watch", help="Heal again and again (a service)."),
    interval: float = typer.Option(10.0, "--interval", help="Seconds between passes (--watch)."),
    scale_down_window: float = typer.Option(
        300.0, "--scale-down-window", help="Autoscaler: seconds a lower count must hold first."
    ),
    timeout: float = typer.Option(50.0, "--timeout", help="Longest a single pass may take."),
    output: OutputFormat = OutputOption,
) -> None:
    """One self-healing pass: replace missing or crashed replicas, restart failed liveness,
    move replicas off lost hosts, autoscale, keep HAProxy in step. Safe from cron:

    \b
        * * * * *  fleet heal -q -i /etc/fleet/inventory.yaml /etc/fleet/blueprints

    Exit 0 ok, 3 some repairs failed or hosts did not answer, 4 another run holds the lock.
    """
    from fleet.heal import heal_once
    from fleet.heal import watch as watch_loop

    src = sources(inventory, blueprints, values, sets)

    def show(report: HealReport) -> None:
        if output == OutputFormat.json:
            emit_json("fleet.heal/v1", _heal_json(report))
            return
        stamp = time.strftime("%H:%M:%S")
        if report.skipped:
            info(f"{stamp} skipped: {report.skipped}")
            return
        for line in report.repairs:
            print(f"{stamp} {line}", flush=True)
        outcome = report.outcome
        if outcome is not None:
            for line in outcome.last.plan.waiting if outcome.last else ():
                if not quiet:
                    print(f"{stamp} waiting: {line}", flush=True)
            if not report.repairs and not quiet:
                print(f"{stamp} nothing to repair", flush=True)

    async def work(session: Session) -> int:
        if watch:
            await watch_loop(
                session, interval=interval, report=show, scale_down_window=scale_down_window
            )
            return 0
        report = await heal_once(session, scale_down_window=scale_down_window, timeout=timeout)
        show(report)
        outcome = report.outcome
        if report.failed or (outcome is not None and outcome.unreachable):
            return 3
        return 0

    try:
        code = _run_session(src, work, lost_after=lost_after, warn=not quiet)
    except TimeoutError:
        from fleet.errors import PartialFailure

        raise PartialFailure(
            f"the heal pass took longer than {timeout:.0f} s and was stopped"
        ) from None
    if code:
        raise typer.Exit(code)


def _heal_json(report: HealReport) -> dict[str, Any]:
    outcome = report.outcome
    return {
        "skipped": report.skipped,
        "repairs": [
            {
                "kind": r.action.kind.value,
                "pod": r.action.pod,
                "host": r.action.host,
                "reason": r.action.reason,
                "ok": r.ok,
                "error": r.error,
            }
            for r in (outcome.results if outcome else [])
        ],
        "autoscaled": [d.__dict__ for d in report.autoscaled],
        "unreachable": outcome.unreachable if outcome else [],
        "waiting": list(outcome.last.plan.waiting) if outcome and outcome.last else [],
    }


# -- events ---------------------------------------------------------------------------------


@app.command("events")
def events_command(
    inventory: Path = InventoryOption,
    service: str = typer.Option(None, "--service", "-s", help="Only this service's events."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new events."),
    limit: int = typer.Option(50, "--limit", "-n", help="How many recent events to show."),
    output: OutputFormat = OutputOption,
) -> None:
    """Repairs, placements, rollout steps and probe transitions, from the local store."""
    from fleet.journal import Journal, iter_follow
    from fleet.spec.loader import load_inventory

    inv = load_inventory(resolve_inventory(inventory))
    journal = Journal.for_cluster(inv.name)
    try:
        recent = journal.events(service=service, limit=limit)
        if output == OutputFormat.json and not follow:
            emit_json("fleet.events/v1", {"events": [e.as_dict() for e in recent]})
            return
        for event in recent:
            _print_event(event, output)
        if follow:
            last = recent[-1].id if recent else 0
            try:
                for event in iter_follow(journal, after_id=last, service=service, poll=0.5):
                    _print_event(event, output)
            except KeyboardInterrupt:
                return
    finally:
        journal.close()


def _print_event(event: Any, output: OutputFormat) -> None:
    import json

    if output == OutputFormat.json:
        print(json.dumps({"schema": "fleet.event/v1", **event.as_dict()}), flush=True)
        return
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.ts))
    print(f"{stamp}  {event.kind:<14} {event.message}", flush=True)


# -- scale, restart ---------------------------------------------------------------------------


@app.command("scale")
def scale_command(
    assignment: str = typer.Argument(..., help="SERVICE=REPLICAS, e.g. web=4."),
    blueprints: list[Path] = BlueprintArgs,
    inventory: Path = InventoryOption,
    values: list[Path] = ValuesOption,
    sets: list[str] = SetOption,
) -> None:
    """Set a Deployment's replica count in its blueprint file (comments and layout are kept),
    then apply."""
    from fleet import operations

    name, _, count = assignment.partition("=")
    if not name or not count.isdigit():
        raise typer.BadParameter("expected SERVICE=REPLICAS, like web=4", param_hint="SERVICE=N")
    src = sources(inventory, blueprints, values, sets)
    _operate(src, "scale", lambda session: operations.scale(session, name, int(count)))


@app.command("restart")
def restart_command(
    service: str = typer.Argument(..., help="The Deployment to restart."),
    blueprints: list[Path] = BlueprintArgs,
    inventory: Path = InventoryOption,
    values: list[Path] = ValuesOption,
    sets: list[str] = SetOption,
) -> None:
    """Rolling restart: one replica at a time leaves the load balancer, restarts, and must be
    ready before the next."""
    from fleet import operations

    src = sources(inventory, blueprints, values, sets)
    _operate(src, "restart", lambda session: operations.rolling_restart(session, service, say=info))


# -- rollout ----------------------------------------------------------------------------------


@rollout_app.command("history")
def rollout_history(
    service: str = typer.Argument(...),
    blueprints: list[Path] = BlueprintArgs,
    inventory: Path = InventoryOption,
    values: list[Path] = ValuesOption,
    sets: list[str] = SetOption,
    output: OutputFormat = OutputOption,
) -> None:
    """The revisions a service ran (kept up to its revisionHistoryLimit)."""
    from fleet import operations

    src = sources(inventory, blueprints, values, sets)

    async def work(session: Session) -> list[Any]:
        return operations.history(session, service)

    entries = _run_session(src, work)
    if output == OutputFormat.json:
        emit_json(
            "fleet.history/v1", {"service": service, "revisions": [e.__dict__ for e in entries]}
        )
        return
    print(f"{'REVISION':<12} {'LAST DEPLOYED':<20} {'':<10} IMAGE")
    for e in entries:
        flags = " ".join(x for x, on in (("current", e.current), ("file", e.file)) if on)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.last_deployed))
        print(f"{e.revision:<12} {when:<20} {flags:<10} {e.image}")


@rollout_app.command("undo")
def rollout_undo(
    service: str = typer.Argument(...),
    blueprints: list[Path] = BlueprintArgs,
    inventory: Path = InventoryOption,
    values: list[Path] = ValuesOption,
    sets: list[str] = SetOption,
    to_revision: str = typer.Option(None, "--to-revision", help="Revision to go back to."),
) -> None:
    """Go back to the previous revision (or --to-revision) and stay there while the
    blueprint file is unchanged."""
    from fleet import operations

    src = sources(inventory, blueprints, values, sets)
    _operate(src, "rollout", lambda session: operations.undo(session, service, to_revision))


@rollout_app.command("promote")
def rollout_promote(
    service: str = typer.Argument(...),
    blueprints: list[Path] = BlueprintArgs,
    inventory: Path = InventoryOption,
    values: list[Path] = ValuesOption,
    sets: list[str] = SetOption,
) -> None:
    """Canary: roll the canary's revision out to every replica."""
    from fleet import operations

    src = sources(inventory, blueprints, values, sets)
    _operate(src, "rollout", lambda session: operations.promote(session, service))


@rollout_app.command("abort")
def rollout_abort(
    service: str = typer.Argument(...),
    blueprints: list[Path] = BlueprintArgs,
    inventory: Path = InventoryOption,
    values: list[Path] = ValuesOption,
    sets: list[str] = SetOption,
) -> None:
    """Canary: remove the canary replicas and stay on the stable revision."""
    from fleet import operations

    src = sources(inventory, blueprints, values, sets)
    _operate(src, "rollout", lambda session: operations.abort(session, service))


# -- hosts ------------------------------------------------------------------------------------


def _host_op(host: str, inventory: Path | None, *, kind: str, reason: str = "") -> None:
    import asyncio

    from fleet import operations
    from fleet.remote.ssh import SSHPool
    from fleet.spec.loader import load_inventory

    inv = load_inventory(resolve_inventory(inventory))
    inv.host(host)

    async def run() -> None:
        from fleet.journal import Journal

        async with SSHPool(inv) as pool:
            journal = Journal.for_cluster(inv.name)
            try:
                await operations.mark_host(pool, journal, host, kind=kind, reason=reason)
            finally:
                journal.close()

    asyncio.run(run())
    info(
        f"{host}: {kind}ed"
        if kind != "drain"
        else f"{host}: draining (apply or heal moves its replicas)"
    )


@app.command("cordon")
def cordon_command(
    host: str = typer.Argument(...),
    inventory: Path = InventoryOption,
    reason: str = typer.Option("", "--reason", help="Why (shown in status and events)."),
) -> None:
    """Place nothing new on HOST (its replicas stay). The mark lives on the host."""
    _host_op(host, inventory, kind="cordon", reason=reason)


@app.command("uncordon")
def uncordon_command(host: str = typer.Argument(...), inventory: Path = InventoryOption) -> None:
    """Let HOST take new replicas again."""
    _host_op(host, inventory, kind="uncordon")


@app.command("drain")
def drain_command(
    host: str = typer.Argument(...),
    inventory: Path = InventoryOption,
    reason: str = typer.Option("", "--reason", help="Why (shown in status and events)."),
) -> None:
    """Cordon HOST and move its replicas to other hosts at the next apply or heal (replicas
    whose volume lives on HOST stay)."""
    _host_op(host, inventory, kind="drain", reason=reason)


# -- logs -------------------------------------------------------------------------------------


@app.command("logs")
def logs_command(
    target: str = typer.Argument(..., help="A service (web), replica (web-0) or pod."),
    blueprints: list[Path] = BlueprintArgs,
    inventory: Path = InventoryOption,
    values: list[Path] = ValuesOption,
    sets: list[str] = SetOption,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    tail: int = typer.Option(50, "--tail", help="Lines of history per pod."),
) -> None:
    """The logs of a service's pods in the blueprints' applications (each line prefixed
    with its pod)."""
    from fleet import operations

    src = sources(inventory, blueprints, values, sets)

    async def work(session: Session) -> None:
        async for line in operations.logs(session, target, follow=follow, tail=tail):
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    try:
        _run_session(src, work, probes=False)
    except KeyboardInterrupt:
        return
