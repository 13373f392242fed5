"""`fleet status`, `fleet images push`, `fleet hosts trust`: commands that reach hosts over SSH.

Heavy imports (asyncssh, the inventory models) happen inside the commands:
`fleet status` is compared with plain `ssh host docker ps`, start-up included.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

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
    from collections.abc import Sequence

    from fleet.overview import Overview, ServerLine
    from fleet.remote.ssh import SSHPool
    from fleet.spec.inventory import Inventory
    from fleet.status import StatusReport


images_app = group("images", "Container images on the hosts (no registry needed).")
hosts_app = group("hosts", "The inventory's hosts: SSH host keys.")


def _preload_asyncssh() -> threading.Thread:
    """Import asyncssh in a thread while the inventory loads: part of it waits on a subprocess
    (its liboqs lookup runs ldconfig), time the main thread can use."""
    thread = threading.Thread(target=lambda: __import__("asyncssh"), daemon=True)
    thread.start()
    return thread


def _load(path: Path | None) -> Inventory:
    from fleet.spec.loader import load_inventory

    return load_inventory(resolve_inventory(path))


def _select(inventory: Inventory, hosts: str | None) -> list[str]:
    if not hosts:
        return list(inventory.hosts)
    chosen = [h.strip() for h in hosts.split(",") if h.strip()]
    unknown = [h for h in chosen if h not in inventory.hosts]
    if unknown:
        raise typer.BadParameter(
            f"not in the inventory: {', '.join(unknown)} (hosts: {', '.join(inventory.hosts)})",
            param_hint="'--hosts'",
        )
    return chosen


def _run(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


@app.command("status")
def status_command(
    blueprints: list[Path] = typer.Argument(
        None,
        help="Blueprints: also show their services (ready / up-to-date / available, "
        "autoscaler) and the load balancer's frontends and servers.",
        show_default=False,
    ),
    inventory: Path | None = InventoryOption,
    output: OutputFormat = OutputOption,
    timeout: float = typer.Option(
        15.0, "--timeout", help="Seconds allowed per host (connect + observe)."
    ),
    hosts: str | None = typer.Option(None, "--hosts", help="Only these hosts (comma-separated)."),
) -> None:
    """Hosts (reachable or why not, round trip, engine, cpu, memory) and fleet's containers;
    with blueprints also services and the load balancer.

    Exit 0 when every host answered, 3 when some did not (they are still listed).
    """
    loader = _preload_asyncssh()
    inv = _load(inventory)
    names = _select(inv, hosts)
    loader.join()

    from fleet.errors import PartialFailure
    from fleet.remote.ssh import SSHPool
    from fleet.status import SCHEMA, collect_status, render_text

    async def collect() -> tuple[StatusReport, Overview | None, list[ServerLine]]:
        import asyncio

        if blueprints:  # one session: its pool serves the host rows and the services
            from fleet.overview import collect_overview
            from fleet.session import Sources, open_session

            path = inv.path if inv.path is not None else resolve_inventory(None)
            async with open_session(Sources(path, tuple(blueprints))) as session:
                report, overview = await asyncio.gather(
                    collect_status(session.pool, names, timeout=timeout),
                    collect_overview(session),
                )
                return report, overview, []
        async with SSHPool(inv) as pool:  # the lb hosts' frontends as HAProxy runs them
            report, servers = await asyncio.gather(
                collect_status(pool, names, timeout=timeout), _lb_servers(pool, inv, names)
            )
            return report, None, servers

    report, overview, servers = _run(collect())
    from dataclasses import asdict

    if output == OutputFormat.json:
        extra = overview.to_json() if overview else {"load_balancer": [asdict(s) for s in servers]}
        emit_json(SCHEMA, {**report.to_json(), **extra})
    else:
        sys.stdout.write(render_text(report, width=_width()))
        if overview is not None:
            from fleet.overview import render_overview

            sys.stdout.write("\n" + render_overview(overview, _width()))
        elif servers:
            from fleet.overview import render_servers

            sys.stdout.write("\n" + render_servers(servers, _width()) + "\n")
    down = report.unreachable
    if down:
        raise PartialFailure(
            f"{len(down)} of {len(report.hosts)} hosts did not answer: "
            + ", ".join(f"{h.name} ({h.reason})" for h in down)
        )


async def _lb_servers(pool: SSHPool, inv: Inventory, names: Sequence[str]) -> list[ServerLine]:
    """HAProxy's own view of its frontends and servers on the chosen lb hosts (one read each)."""
    from fleet.errors import FleetError
    from fleet.lb.status import lb_status
    from fleet.overview import server_lines

    chosen = [h.name for h in inv if h.is_lb and h.name in names]
    if not chosen:
        return []
    try:
        return server_lines(await lb_status(pool, inv, hosts=chosen))
    except FleetError:
        return []


def _width() -> int:
    import shutil

    return max(60, min(shutil.get_terminal_size((80, 24)).columns, 160))


@images_app.command("push")
def push_command(
    images: list[str] | None = typer.Argument(
        None, help="Images to push (default with --from-archive: every image in it)."
    ),
    inventory: Path | None = InventoryOption,
    from_archive: Path | None = typer.Option(
        None, "--from-archive", help="An image archive (docker save format) to push."
    ),
    from_host: str | None = typer.Option(
        None, "--from-host", help="Take the images from this host (streamed via this machine)."
    ),
    hosts: str | None = typer.Option(None, "--hosts", help="Only these hosts (comma-separated)."),
    output: OutputFormat = OutputOption,
) -> None:
    """Stream images to every host's engine (`docker save | docker load`), skipping hosts that
    already have the same image id; afterwards every host has the identical id.

    Source: the controller's own engine (default), --from-archive FILE, or --from-host HOST.
    """
    if from_archive is not None and from_host is not None:
        raise typer.BadParameter("give --from-archive or --from-host, not both")
    inv = _load(inventory)
    targets = _select(inv, hosts)
    from fleet.errors import PartialFailure
    from fleet.remote.images import (
        ArchiveSource,
        HostSource,
        ImageSource,
        LocalEngineSource,
        push_images,
    )
    from fleet.remote.ssh import SSHPool

    source: ImageSource
    if from_archive is not None:
        source = ArchiveSource(from_archive)
    elif from_host is not None:
        _select(inv, from_host)
        source = HostSource(from_host)
    else:
        source = LocalEngineSource()

    async def push() -> Any:
        async with SSHPool(inv) as pool:
            return await push_images(pool, targets, source, images or [], progress=info)

    report = _run(push())
    if output == OutputFormat.json:
        emit_json("fleet.images.push/v1", report.to_json())
    else:
        for ref, image_id in report.images.items():
            typer.echo(f"{ref}  {image_id[:19]}")
        for h in report.hosts:
            size = f"{h.bytes / 2**20:.1f} MiB" if h.bytes else ""
            took = f"{h.seconds:.1f} s" if h.seconds else ""
            typer.echo(f"  {h.host:<16} {h.status:<8} {size:>10} {took:>7}  {h.reason}".rstrip())
        if report.bytes_read:
            typer.echo(
                f"read {report.bytes_read / 2**20:.1f} MiB once from {report.source} "
                f"in {report.seconds:.1f} s"
            )
        else:
            typer.echo(f"nothing to send ({report.seconds:.1f} s)")
    if report.failed:
        raise PartialFailure(
            f"{len(report.failed)} of {len(report.hosts)} hosts failed: "
            + ", ".join(f"{h.host} ({h.reason})" for h in report.failed)
        )


@hosts_app.command("trust")
def trust_command(
    host: str = typer.Argument(..., help="Inventory name of the host."),
    inventory: Path | None = InventoryOption,
    yes: bool = typer.Option(False, "--yes", "-y", help="Record the key without asking."),
    replace: bool = typer.Option(
        False, "--replace", help="Replace a different key already recorded for the host."
    ),
) -> None:
    """Fetch a host's SSH key, show its fingerprint and record it in the inventory's
    known_hosts (under address and name) once you confirm."""
    inv = _load(inventory)
    _select(inv, host)
    from fleet.errors import Aborted
    from fleet.remote.hostkeys import KnownHostsFiles, fingerprint, record_host_key
    from fleet.remote.ssh import SSHPool

    h = inv.host(host)

    async def fetch() -> Any:
        async with SSHPool(inv) as pool:
            return await pool.fetch_host_key(host)

    key = _run(fetch())
    trusted = KnownHostsFiles().trusted(h)
    typer.echo(
        f"{host} ({h.address}:{h.port}) presents {key.get_algorithm()} key {fingerprint(key)}"
    )
    if key in trusted.keys:
        typer.echo(f"already trusted in {trusted.path}")
        return
    if trusted.keys:
        typer.echo(f"{trusted.path} records a DIFFERENT key: {', '.join(trusted.fingerprints())}")
    if not yes and not typer.confirm(f"Record it in {trusted.path}?", default=False):
        raise Aborted("host key not recorded")
    outcome = record_host_key(h, key, trusted, replace=replace)
    typer.echo(
        f"{outcome.action}: {', '.join(line.split()[0] for line in outcome.lines)} "
        f"in {outcome.path}"
    )
