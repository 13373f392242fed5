"""HAProxy's master CLI (master-worker mode) and stats socket, reached over SSH.

The socket lives on the lb host; fleet opens an SSH streamlocal channel to
it (`direct-streamlocal@openssh.com`, what `ssh -L local:/remote.sock` uses)
on the host's existing connection. That needs no client on the host (no
socat, no nc -U: Debian's haproxy package brings neither) and no extra round
trip for a process. The CLI answers one command per connection after the
client half-closes (`write_eof`), like `socat stdio`.

    reload            re-exec the master: new workers with the new config;
                      old workers finish their connections (hard-stop-after)
    show proc         master and worker pids, reload counts (parsed here)
    @1 show stat      the current worker's stats CSV
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fleet.errors import RemoteCommandError, RemoteError, RemoteTimeout, UnreachableError

if TYPE_CHECKING:
    from fleet.remote.ssh import SSHPool


@dataclass(frozen=True)
class ProcInfo:
    """`show proc` of the master CLI."""

    master_pid: int | None
    reloads: int
    failed_reloads: int
    workers: tuple[int, ...]  # current workers
    old_workers: tuple[int, ...]  # still finishing connections after a reload


_MASTER = re.compile(r"^(\d+)\s+master\s+(\d+)(?:\s+\[failed:\s*(\d+)\])?")
_PID = re.compile(r"^(\d+)\s+worker\b")


def parse_show_proc(text: str) -> ProcInfo:
    """Parse `show proc` (HAProxy 2.x): master line, `# workers`, `# old workers`."""
    master_pid: int | None = None
    reloads = failed = 0
    workers: list[int] = []
    old: list[int] = []
    part = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            part = stripped.lstrip("#").strip().lower()
            continue
        m = _MASTER.match(stripped)
        if m:
            master_pid, reloads = int(m[1]), int(m[2])
            failed = int(m[3] or 0)
            continue
        w = _PID.match(stripped)
        if w:
            (old if part.startswith("old") else workers).append(int(w[1]))
    return ProcInfo(master_pid, reloads, failed, tuple(workers), tuple(old))


async def socket_command(
    pool: SSHPool, host: str, path: str, command: str, *, timeout: float = 5.0
) -> str:
    """Send one command to a unix socket on the host over SSH; the whole answer."""
    import asyncssh

    try:
        async with asyncio.timeout(timeout):
            reader, writer = await pool.open_unix(host, path, timeout=timeout)
            try:
                writer.write(command.encode() + b"\n")
                writer.write_eof()
                data: bytes = await reader.read()
            finally:
                writer.close()
    except TimeoutError:
        raise RemoteTimeout(
            host, f"{path}: no answer to {command!r} within {timeout:.1f} s"
        ) from None
    except RemoteCommandError as exc:  # the channel did not open: no such socket, or no forwarding
        raise RemoteError(
            host,
            f"cannot open {path} over SSH: {exc.stderr} (is HAProxy running there, and does "
            "sshd allow stream-local forwarding?)",
        ) from None
    except (OSError, asyncssh.Error) as exc:  # the connection broke while the answer was read
        raise UnreachableError(host, f"{path}: {exc or type(exc).__name__}") from None
    return data.decode("utf-8", "replace")


async def show_proc(pool: SSHPool, host: str, master_socket: str) -> ProcInfo:
    return parse_show_proc(await socket_command(pool, host, master_socket, "show proc"))


class ReloadFailed(RemoteError):
    """HAProxy's master could not start workers with the new config; the old ones serve on."""


async def reload_master(
    pool: SSHPool, host: str, master_socket: str, *, timeout: float = 15.0
) -> ProcInfo:
    """Reload through the master CLI and wait until the new workers took over.

    HAProxy 2.6 answers `reload` with nothing, so the outcome is read from
    `show proc`: done when a new worker runs and none of the previous workers
    is still current (they are old workers now, or gone); failed when the
    failed-reload count went up (the new workers did not start, e.g. a port in
    use; the previous workers stay current). Raises ReloadFailed, or
    RemoteTimeout at the deadline.
    """
    before = await show_proc(pool, host, master_socket)
    await socket_command(pool, host, master_socket, "reload")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.02
    last: ProcInfo | str = before
    while loop.time() < deadline:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.25)
        try:
            now = await show_proc(pool, host, master_socket)
        except RemoteError as exc:  # the master re-execs: its socket may not answer at once
            last = exc.message
            continue
        last = now
        if now.master_pid is None:  # accepted and closed while re-executing: ask again
            continue
        if now.failed_reloads > before.failed_reloads:
            raise ReloadFailed(
                host, "HAProxy could not start with the new config (a port in use? see "
                "HAProxy's log); the previous workers serve on"
            )
        current = set(now.workers)
        if current - set(before.workers) and not current & set(before.workers):
            return now
        if now.master_pid != before.master_pid:  # HAProxy itself was restarted meanwhile
            return now
    raise RemoteTimeout(host, f"the HAProxy reload did not finish within {timeout:.0f} s ({last})")
