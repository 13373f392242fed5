"""Entry point of the `fleet` command: builds the Typer app and maps errors to exit codes.

Command modules register themselves here. Keep their top-level imports light
(typer, stdlib): `fleet status` must start fast, so asyncssh, pydantic models,
textual and rich tables are imported inside the command functions.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from typer.main import get_command_name
from typer.models import CommandInfo

from fleet import __version__
from fleet.errors import ExitCode, FleetError, SpecErrors, exit_code_for

app = typer.Typer(
    name="fleet",
    help=(
        "Agentless cluster orchestrator: Kubernetes-shaped deployments on plain Linux hosts, "
        "reached over SSH.\n\n"
        "Exit codes: 0 ok, 1 error, 2 plan has changes (--detailed-exitcode), "
        "3 partial failure, 4 lock held, 5 aborted at a prompt, 64 usage error."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fleet {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """fleet: deployments, scheduling, probes, load balancing and self-healing over SSH."""


def _register() -> None:
    # Each module adds its commands to `app`; imported for that side effect only.
    from fleet.cli import commands  # noqa: F401


def _report(error: FleetError) -> None:
    if isinstance(error, SpecErrors):
        for item in error.errors:
            print(f"error: {item}", file=sys.stderr)
        print(f"{len(error.errors)} error(s)", file=sys.stderr)
    else:
        print(f"error: {error}", file=sys.stderr)


def _command_name(command: CommandInfo) -> str | None:
    if command.name or command.callback is None:
        return command.name
    return get_command_name(command.callback.__name__)


@contextmanager
def _only_invoked(argv: list[str]) -> Iterator[None]:
    """Typer turns every registered command into a click command on each run (signatures
    inspected, ~15 ms); when argv names one command or group, only that one is built."""
    name = argv[0] if argv and not argv[0].startswith("-") else None
    commands, groups = app.registered_commands, app.registered_groups
    picked = [c for c in commands if _command_name(c) == name]
    picked_groups = [g for g in groups if g.name == name]
    if name is None or len(picked) + len(picked_groups) != 1:
        yield  # help, a typo (click lists and suggests every command), ...
        return
    app.registered_commands, app.registered_groups = picked, picked_groups
    try:
        yield
    finally:
        app.registered_commands, app.registered_groups = commands, groups


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every failure leaves through `exit_code_for`."""
    _register()
    try:
        with _only_invoked(sys.argv[1:] if argv is None else argv):
            result = app(args=argv, standalone_mode=False, prog_name="fleet")
    except FleetError as error:
        _report(error)
        sys.exit(exit_code_for(error))
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(ExitCode.INTERRUPTED)
    except typer.TyperException as error:  # usage errors: bad option, missing argument
        show = getattr(error, "show", None)
        if callable(show):
            show()
        else:
            print(f"error: {error.format_message()}", file=sys.stderr)
        sys.exit(ExitCode.USAGE if error.exit_code == 2 else error.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(ExitCode.INTERRUPTED)
    # With standalone_mode=False, typer.Exit(code) comes back as the return value.
    sys.exit(result if isinstance(result, int) else ExitCode.OK)


def entry() -> None:
    """The `fleet` console script (and `python -m fleet`): `main`, then a quick exit."""
    try:
        main()
    finally:
        # What is alive now lives until exit anyway. Frozen, the interpreter's final
        # collections skip it (models, SSH and crypto stack): exit takes ~10 ms, not ~80.
        # Not inside main(): tests call that in their own process.
        gc.freeze()
