"""One exception tree for fleet, and the exit codes mapped from it in one place.

    FleetError                      anything fleet reports to the operator
    ├── SpecError                   a bad inventory/blueprint/values file (file:line field: msg)
    │   └── SpecErrors              several SpecErrors collected (validate reports all)
    ├── UnsafeNameError             a name that would carry shell/config syntax
    ├── LabError                    the local lab could not be made or removed
    ├── RemoteError                 something on a host went wrong
    │   ├── UnreachableError        could not connect / connection lost / timed out
    │   ├── HostKeyError            host key unknown or not matching known_hosts
    │   ├── RemoteCommandError      a command ran and failed (exit status, stderr)
    │   └── RemoteTimeout           a command did not finish before its deadline
    ├── EngineError                 the container engine refused or answered nonsense
    ├── HAProxyConfigError          haproxy -c rejected a rendered config
    ├── LockHeld                    another apply/heal holds the cluster lock
    ├── PartialFailure              some actions or hosts failed, others succeeded
    └── Aborted                     the operator said no at a confirmation prompt

Callers catch at the depth they need; the CLI maps to exit codes with
`exit_code_for`, nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of the `fleet` command (documented in README.md)."""

    OK = 0
    ERROR = 1
    CHANGES = 2  # `fleet plan --detailed-exitcode`: the plan has changes
    PARTIAL = 3  # some hosts or actions failed, the rest was done
    LOCKED = 4  # another run holds the lock; nothing was done
    ABORTED = 5  # the operator declined a confirmation; nothing was done
    USAGE = 64  # bad command line (EX_USAGE)
    INTERRUPTED = 130


class FleetError(Exception):
    """Base of everything fleet reports to the operator as an error."""

    exit_code: ExitCode = ExitCode.ERROR


@dataclass(frozen=True)
class Location:
    """Where in which file a problem is: `file:line field.path`."""

    file: str
    line: int | None = None
    field: str = ""

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} {self.field}" if self.field else where


class SpecError(FleetError):
    """A problem in a YAML file, with the place it was found."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class SpecErrors(SpecError):
    """Several spec problems, reported together (validate shows all, not the first)."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class UnsafeNameError(FleetError):
    """A name, label or value that would carry shell or config syntax."""


class LabError(FleetError):
    """The local lab could not be brought up or torn down."""


class RemoteError(FleetError):
    """Something went wrong on (or on the way to) a host."""

    def __init__(self, host: str, message: str) -> None:
        self.host = host
        self.message = message
        super().__init__(f"{host}: {message}")


class UnreachableError(RemoteError):
    """The host could not be reached (connect failed, refused, timed out, lost)."""


class HostKeyError(RemoteError):
    """The host's key is unknown or does not match known_hosts; nothing ran there."""


class RemoteCommandError(RemoteError):
    """A remote command ran and exited non-zero."""

    def __init__(self, host: str, argv: list[str], exit_status: int | None, stderr: str) -> None:
        self.argv = argv
        self.exit_status = exit_status
        self.stderr = stderr
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else "no error output"
        super().__init__(host, f"`{argv[0] if argv else '?'}` exited {exit_status}: {detail}")


class RemoteTimeout(RemoteError):
    """A remote operation did not finish before its deadline."""


class EngineError(FleetError):
    """The container engine refused an operation or answered something unexpected."""


class HAProxyConfigError(FleetError):
    """haproxy -c rejected a rendered configuration; the old one stays in place."""


class LockHeld(FleetError):
    """Another fleet run holds the lock; this run did nothing."""

    exit_code = ExitCode.LOCKED


class PartialFailure(FleetError):
    """Some actions or hosts failed; everything else was done."""

    exit_code = ExitCode.PARTIAL


class Aborted(FleetError):
    """The operator declined at a confirmation prompt."""

    exit_code = ExitCode.ABORTED


def exit_code_for(error: BaseException) -> ExitCode:
    """The one place where errors become exit codes."""
    if isinstance(error, FleetError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return ExitCode.ERROR
