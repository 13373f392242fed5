"""`fleet lab up|down|status|inventory|list|images`: local labs of real hosts.

The work is in fleet.lab, imported inside the commands so other commands start fast.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import typer

from fleet.cli.common import LAB_HELP, OutputFormat, OutputOption, emit_json, group, info

if TYPE_CHECKING:
    from fleet.lab.status import HostStatus

lab_app = group("lab", LAB_HELP)

NameOption: Any = typer.Option("fleet", "--name", "-n", help="Lab name (several labs can coexist).")


@lab_app.command("up")
def up_command(
    name: str = NameOption,
    hosts: int = typer.Option(3, "--hosts", help="Number of hosts (node1..nodeN)."),
    lb: int = typer.Option(1, "--lb", help="The first K hosts are load-balancer hosts (HAProxy)."),
    cpu: str = typer.Option("2", "--cpu", help="CPU capacity per host written to the inventory."),
    memory: str = typer.Option("2Gi", "--memory", help="Memory capacity per host (inventory)."),
    images: bool = typer.Option(True, "--images/--no-images", help="Load the demo images."),
) -> None:
    """Bring a lab up or repair it (idempotent), print its inventory's path.

    Each host is a network namespace with its own sshd and dockerd, and HAProxy on lb hosts.
    """
    from fleet import lab

    started = time.monotonic()
    made = lab.up(name, hosts=hosts, lb=lb, cpu=cpu, memory=memory, with_images=images, log=info)
    first = made.hosts[0].address
    info(
        f"lab {name}: {len(made.hosts)} hosts up in {time.monotonic() - started:.1f} s "
        f"(ssh -i {made.key} -o UserKnownHostsFile={made.known_hosts} root@{first})"
    )
    typer.echo(str(made.inventory_path))


@lab_app.command("down")
def down_command(name: str = NameOption) -> None:
    """Remove a lab and everything it made (also after an interrupted `up`)."""
    from fleet import lab

    started = time.monotonic()
    if lab.down(name, log=info):
        info(f"lab {name}: removed in {time.monotonic() - started:.1f} s")
    else:
        info(f"lab {name}: nothing to remove")


@lab_app.command("status")
def status_command(name: str = NameOption, output: OutputFormat = OutputOption) -> None:
    """Each host's daemons, link, containers and memory (RSS)."""
    from fleet import lab

    state = lab.status(name)
    if output is OutputFormat.json:
        emit_json("fleet.lab.status/v1", state.to_json())
        return
    typer.echo(f"lab {state.name}: {state.subnet} on {state.bridge}, inventory {state.inventory}")
    words = {h.name: _state_word(h) for h in state.hosts}
    # columns as wide as their longest entry, so a long host name or state keeps them aligned
    nw = max([4, *(len(h.name) for h in state.hosts)])
    sw = max([5, *(len(w) for w in words.values())])
    typer.echo(
        f"{'HOST':<{nw}} {'ADDRESS':<15} {'STATE':<{sw}} {'SSHD':>7} {'DOCKERD':>8} "
        f"{'HAPROXY':>8} {'CTRS':>5} {'RSS MiB':>8}"
    )
    for h in state.hosts:
        rss = h.rss_kb.get("total", 0) / 1024
        typer.echo(
            f"{h.name:<{nw}} {h.address:<15} {words[h.name]:<{sw}} {h.sshd_pid or '-':>7} "
            f"{h.dockerd_pid or '-':>8} {(h.haproxy_pid or '-') if h.is_lb else '':>8} "
            f"{'-' if h.containers is None else h.containers:>5} {rss:>8.1f}"
        )
    if state.hosts:
        total = sum(h.rss_kb.get("total", 0) for h in state.hosts) / 1024
        typer.echo(f"memory: {total:.0f} MiB in all, {total / len(state.hosts):.0f} MiB per host")


def _state_word(h: HostStatus) -> str:
    """`ok`, or what is missing on the host (`no sshd,engine`)."""
    problems = [
        w
        for w, ok in (
            ("netns", h.netns),
            ("link", h.link_up),
            ("sshd", h.sshd_pid),
            ("engine", h.engine_ok),
        )
        if not ok
    ]
    if h.is_lb and h.haproxy_pid is None:
        problems.append("haproxy")
    return "ok" if not problems else "no " + ",".join(problems)


@lab_app.command("inventory")
def inventory_command(name: str = NameOption) -> None:
    """Print the absolute path of the lab's inventory file (and nothing else)."""
    from fleet import lab

    typer.echo(str(lab.load(name).inventory_path))


@lab_app.command("list")
def list_command(output: OutputFormat = OutputOption) -> None:
    """The labs under $FLEET_LAB_ROOT (default /var/lib/fleet/labs)."""
    from fleet import lab

    rows = []
    for name in lab.labs():
        state = lab.status(name)
        healthy = sum(1 for h in state.hosts if h.healthy)
        rows.append(
            {
                "name": name,
                "hosts": len(state.hosts),
                "healthy": healthy,
                "subnet": state.subnet,
                "inventory": state.inventory,
            }
        )
    if output is OutputFormat.json:
        emit_json("fleet.lab.list/v1", {"labs": rows})
        return
    for row in rows:
        typer.echo(
            f"{row['name']:<20} {row['healthy']}/{row['hosts']} hosts healthy  "
            f"{row['subnet']:<16} {row['inventory']}"
        )


@lab_app.command("images")
def images_command(output: OutputFormat = OutputOption) -> None:
    """Build the demo images (docker-save archives) and print their paths.

    `--output json` adds each image's reference and id.
    """
    from fleet.lab import images, layout

    built = images.build_images(layout.lab_root() / "images")
    if output is OutputFormat.json:
        emit_json(
            "fleet.lab.images/v1",
            {"images": [{"ref": b.ref, "id": b.image_id, "path": str(b.path)} for b in built]},
        )
        return
    for b in built:
        typer.echo(str(b.path))
