"""`fleet lab vagrant up|down|status|inventory|check|run`: the VM tier's Vagrant VMs.

Registered under `fleet lab` (the group another module creates, or this one when
it is not there yet). The work is in fleet.lab.vagrant, imported inside the
commands.
"""

from __future__ import annotations

from typing import Any

import typer

from fleet.cli.common import LAB_HELP, OutputFormat, OutputOption, emit_json, group, info

vagrant_app = typer.Typer(
    help=(
        "Real VMs (Vagrant: libvirt, or VirtualBox on a workstation) as fleet hosts: Debian 12 "
        "with sshd, Docker and systemd-managed HAProxy. State in $FLEET_VAGRANT_DIR "
        "(default /var/lib/fleet/vagrant)."
    ),
    no_args_is_help=True,
)
group("lab", LAB_HELP).add_typer(vagrant_app, name="vagrant")

VmsOption: Any = typer.Option(None, "--vms", help="Number of VMs (default: the last up's, or 3).")
ProviderOption: Any = typer.Option(
    None, "--provider", help="libvirt (default) or virtualbox (default: the last up's)."
)


def _timings_text(timings: list[tuple[str, float]]) -> str:
    return "\n".join(f"  {phase:<24} {seconds:7.1f} s" for phase, seconds in timings)


@vagrant_app.command("up")
def up_command(
    vms: int | None = VmsOption,
    provider: str | None = ProviderOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Bring the VMs up (box rebuilt when its inputs change), write their inventory, print where."""
    from fleet.lab import vagrant

    lab = vagrant.lab_from_env(vms, provider)
    timings = vagrant.up(lab, info)
    if output is OutputFormat.json:
        emit_json(
            "fleet.vagrant-up/v1",
            {"inventory": str(lab.inventory), "vms": lab.vms, "timings": dict(timings)},
        )
    else:
        info(_timings_text(timings))
        typer.echo(str(lab.inventory))


@vagrant_app.command("down")
def down_command(output: OutputFormat = OutputOption) -> None:
    """Destroy the VMs and stop the daemons `up` started (by pid); the box cache stays."""
    from fleet.lab import vagrant

    lab = vagrant.lab_from_env()
    timings = vagrant.down(lab, info)
    if output is OutputFormat.json:
        emit_json("fleet.vagrant-down/v1", {"timings": dict(timings)})
    else:
        info(_timings_text(timings))


@vagrant_app.command("status")
def status_command(output: OutputFormat = OutputOption) -> None:
    """Each VM's state, the inventory and the cached box."""
    from fleet.lab import vagrant

    report = vagrant.status(vagrant.lab_from_env())
    if output is OutputFormat.json:
        emit_json("fleet.vagrant-status/v1", report)
        return
    machines = report["machines"]
    assert isinstance(machines, dict)
    for name, state in machines.items():
        typer.echo(f"{name:<8} {state}")
    typer.echo(f"inventory: {report['inventory'] or '(none: run `fleet lab vagrant up`)'}")
    box = report["box"]
    typer.echo(f"box:       {box['name'] if isinstance(box, dict) else '(not built)'}")


@vagrant_app.command("inventory")
def inventory_command() -> None:
    """Print the path of the VMs' inventory (written by `up`)."""
    from fleet.errors import LabError
    from fleet.lab import vagrant

    lab = vagrant.lab_from_env()
    if not lab.inventory.exists():
        raise LabError(f"no inventory at {lab.inventory}: run `fleet lab vagrant up` first")
    typer.echo(str(lab.inventory))


@vagrant_app.command("check")
def check_command(vms: int | None = VmsOption, provider: str | None = ProviderOption) -> None:
    """Say whether this machine can run the VMs at all (exit 1 with the reason if not)."""
    from fleet.lab import vagrant

    reason = vagrant.cannot_run_vms(vagrant.lab_from_env(vms, provider))
    if reason is not None:
        typer.echo(f"cannot run VMs: {reason}")
        raise typer.Exit(1)
    typer.echo("ok")


@vagrant_app.command(
    "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def run_command(ctx: typer.Context) -> None:
    """Run vagrant with the VMs' environment: `fleet lab vagrant run halt node2`."""
    import os

    from fleet.lab import vagrant

    lab = vagrant.lab_from_env()
    os.execvpe("vagrant", ["vagrant", *ctx.args], lab.env())
