"""Remote commands as objects: a finished command's result, a running one's streams.

Used by `fleet.remote.ssh`; callers get these from `SSHPool.run` and `SSHPool.stream`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from fleet.errors import RemoteCommandError


@dataclass(frozen=True)
class CommandResult:
    """A finished remote command: exit status (None: killed by a signal), output, seconds."""

    exit_status: int | None
    stdout: bytes
    stderr: bytes
    duration: float

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def error_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")


class RemoteProcess:
    """A running remote command for streaming: write `stdin`, read `stdout` (bytes)."""

    def __init__(self, host: str, argv: Sequence[str], process: Any) -> None:
        self.host = host
        self.argv = list(argv)
        self._process = process
        self.stdin = process.stdin  # asyncssh SSHWriter: write(), drain(), write_eof()
        self.stdout = process.stdout  # asyncssh SSHReader: read(n), readline()
        self.stderr = process.stderr

    async def lines(self) -> AsyncIterator[str]:
        """stdout line by line (decoded, without the newline) until the command ends."""
        while True:
            line = await self.stdout.readline()
            if not line:
                return
            yield line.decode("utf-8", "replace").rstrip("\r\n")

    async def finish(self, *, check: bool = True) -> CommandResult:
        """Close stdin if still open, wait for the exit; collects what was not read."""
        started = time.monotonic()
        with suppress(OSError, BrokenPipeError):
            if not self.stdin.is_closing():
                self.stdin.write_eof()
        done = await self._process.wait()
        result = CommandResult(
            done.exit_status, done.stdout or b"", done.stderr or b"", time.monotonic() - started
        )
        if check and not result.ok:
            raise RemoteCommandError(self.host, self.argv, result.exit_status, result.error_text)
        return result


_OPEN_RETRIES = 12


async def open_session(conn: Any, command: str, **kwargs: Any) -> Any:
    """Start a command on a new session channel, retrying while sshd is at MaxSessions.

    sshd frees a closed session only after it processed our close, and may see
    our next open first; so even under `max_sessions` an open can be refused
    for a moment. The caller's deadline bounds the retries.
    """
    import asyncssh

    delay = 0.005
    for attempt in range(_OPEN_RETRIES + 1):
        try:
            return await conn.create_process(command, encoding=None, **kwargs)
        except asyncssh.ChannelOpenError as exc:
            # OpenSSH refuses with "open failed" (code 2, or 1 in older versions)
            refused = (asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, asyncssh.OPEN_CONNECT_FAILED)
            if exc.code not in refused or attempt == _OPEN_RETRIES:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
    raise AssertionError("unreachable")


def abandon(process: Any) -> None:
    """Stop a remote command we no longer wait for: signal it, then close the channel."""
    with suppress(Exception):
        process.send_signal("KILL")
    with suppress(Exception):
        process.close()
