"""The SSH seam: one connection per host per run, reused for every command.

    async with SSHPool(inventory) as pool:
        result = await pool.run("node1", ["docker", "ps", "-q"])
        script = await pool.run_script("node1", [step("ver", [...]), step("ids", [...])])

- Connections open lazily, at most `connect_concurrency` handshakes at a time
  (sshd's MaxStartups drops bursts of new connections), each bounded by the
  host's connect timeout; a host reached `via:` another is tunnelled through
  that host's (itself verified) connection.
- Concurrent channels per host stay under the host's `max_sessions` (sshd's
  MaxSessions is per connection).
- A command's deadline covers the whole operation: waiting for the
  connection, for a free session, running and reading the output.
- Host keys are checked against known_hosts (by address and by name) unless
  the inventory sets `host_key_check: off` for that host.
- This module is the ONE place where argv lists become shell text
  (`shlex.quote`); everything else passes lists.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import shlex
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleet.errors import (
    HostKeyError,
    RemoteCommandError,
    RemoteError,
    RemoteTimeout,
    UnreachableError,
)
from fleet.remote.connect import connect_host
from fleet.remote.options import ConnectOptions, describe_connect_error
from fleet.remote.process import CommandResult, RemoteProcess, abandon, open_session
from fleet.remote.script import ScriptResult, Step, parse_script_output

__all__ = [  # CommandResult and RemoteProcess are what run() and stream() hand out
    "CommandResult",
    "RemoteProcess",
    "SSHPool",
    "quote_argv",
    "render_script",
    "script_command",
]

if TYPE_CHECKING:
    from fleet.spec.inventory import Host, Inventory


# ---- quoting: the only place ------------------------------------------------------------


def quote_argv(argv: Sequence[str]) -> str:
    """Shell text for an argv list; every element quoted, NUL bytes refused."""
    if not argv:
        raise ValueError("empty argv")
    for arg in argv:
        if not isinstance(arg, str):
            raise TypeError(f"argv elements must be str, got {type(arg).__name__}: {arg!r}")
        if "\0" in arg:
            raise ValueError("argv elements cannot contain NUL bytes")
    return " ".join(shlex.quote(arg) for arg in argv)


def render_script(steps: Sequence[Step], nonce: str) -> str:
    """POSIX sh text running the steps and marking each one's output (see script.py)."""
    names = [s.name for s in steps]
    if len(set(names)) != len(names):
        raise ValueError(f"step names must be unique: {names}")
    mark = shlex.quote(nonce)
    captured: dict[str, int] = {}  # steps whose output a later step uses: name -> variable no.
    for i, s in enumerate(steps):
        source = s.command.args_from_step
        if source is None:
            continue
        earlier = {t.name: t for t in steps[:i]}
        if s.background or source not in earlier or earlier[source].background:
            raise ValueError(
                f"step {s.name}: args_from_step must name an earlier foreground step "
                f"(and the step itself must be in the foreground), got {source!r}"
            )
        captured.setdefault(source, len(captured))

    def feed(s: Step, words: str) -> str:
        # Unquoted expansions split the printed words (globbing is off: set -f).
        run = f"{quote_argv(s.command.argv)} $n"
        if not s.command.skip_words:
            return f'n={words}; [ -z "$n" ] || {run}'
        known = shlex.quote(" " + " ".join(s.command.skip_words) + " ")
        return (
            f'k={known}; n=; for i in {words}; do case "$k" in *" $i "*) ;; '
            f'*) n="$n $i" ;; esac; done; [ -z "$n" ] || {run}'
        )

    def body(s: Step) -> str:
        cmd = s.command
        if s.name in captured:
            v = captured[s.name]
            return (
                f"o{v}=$({quote_argv(cmd.argv)}); rc=$?; s{v}=$rc; "
                f'[ -z "$o{v}" ] || printf \'%s\\n\' "$o{v}"'
            )
        if cmd.args_from is not None:
            # `w=$(...)` has the source's status; nothing left to pass skips the command
            return f"w=$({quote_argv(cmd.args_from)}) && {{ {feed(s, '$w')}; }}; rc=$?"
        if cmd.args_from_step is not None:
            v = captured[cmd.args_from_step]
            return f'if [ "$s{v}" = 0 ]; then {feed(s, f"$o{v}")}; rc=$?; else rc=$s{v}; fi'
        return f"{quote_argv(cmd.argv)}; rc=$?"

    def begin(name: str) -> str:
        return f"printf '%s\\n' {mark}' begin {name}'"

    def end(name: str, status: str) -> str:
        return f"printf '\\n%s %s\\n' {mark}' end {name}' \"{status}\""

    lines = ["set -f"]
    background = [s for s in steps if s.background]
    if background:
        lines.append("d=$(mktemp -d) || exit 125; trap 'rm -rf \"$d\"' EXIT")
        for i, s in enumerate(background):
            lines.append(f'( {body(s)}; echo "$rc" >"$d/{i}.rc" ) >"$d/{i}.out" &')
    for s in steps:
        if not s.background:
            lines += [begin(s.name), body(s), end(s.name, "$rc")]
    if background:
        lines.append("wait")
        for i, s in enumerate(background):
            lines += [
                begin(s.name),
                f'cat "$d/{i}.out"',
                f'rc=255; read rc 2>/dev/null <"$d/{i}.rc"',  # builtin read: no extra process
                end(s.name, "$rc"),
            ]
    return "\n".join(lines) + "\n"


def script_command(steps: Sequence[Step], nonce: str) -> str:
    """The command line that runs a script under POSIX sh, whatever the login shell is."""
    return quote_argv(["sh", "-c", render_script(steps, nonce)])


# ---- the pool -----------------------------------------------------------------------------


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Done callback of a prefetch: its error is kept by the pool, not lost in a task."""
    if not task.cancelled():
        task.exception()


class SSHPool:
    """SSH connections for one run: lazily opened, one per host, closed on exit.

    A host that could not be connected answers with the same error for
    `retry_after` seconds, then is tried again on its next use.
    """

    def __init__(
        self,
        hosts: Inventory | Iterable[Host],
        *,
        connect_concurrency: int = 32,
        options: ConnectOptions | None = None,
        inventory_path: Path | None = None,
        retry_after: float = 5.0,
    ) -> None:
        self.hosts: dict[str, Host] = {h.name: h for h in hosts}
        self.inventory_path = inventory_path or getattr(hosts, "path", None)
        self.options = options or ConnectOptions()
        self._connect_slots = asyncio.Semaphore(connect_concurrency)
        self._sessions: dict[str, asyncio.Semaphore] = {}
        self._connections: dict[str, asyncio.Task[Any]] = {}
        self._failed_at: dict[str, float] = {}
        self.retry_after = retry_after
        self.round_trips: Counter[str] = Counter()  # exec channels opened, per host
        self.connect_seconds: dict[str, float] = {}  # how long each handshake took

    async def __aenter__(self) -> SSHPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def host(self, name: str) -> Host:
        """The inventory host of that name."""
        try:
            return self.hosts[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a host of this pool") from None

    # -- connections

    async def connect(self, name: str) -> Any:
        """The host's connection, opening it if needed (raises UnreachableError/HostKeyError)."""
        return await self._connection(self.host(name), ())

    def prefetch(self, names: Iterable[str]) -> None:
        """Start opening these hosts' connections without waiting for them, so their
        handshakes overlap other work; a failure answers the host's first use, as usual."""
        for name in names:
            task = asyncio.ensure_future(self.connect(name))
            task.add_done_callback(_retrieve)

    async def _connection(self, host: Host, chain: tuple[str, ...]) -> Any:
        if host.name in chain:
            raise UnreachableError(host.name, f"jump host loop: {' -> '.join((*chain, host.name))}")
        task = self._connections.get(host.name)
        if task is not None and task.done():
            if task.exception() is not None:
                # a failure answers every caller for a moment (no connect-timeout per command),
                # then the host gets another chance: long-lived pools see it come back
                if time.monotonic() - self._failed_at.get(host.name, 0.0) > self.retry_after:
                    task = None
            elif task.result().is_closed():
                task = None  # lost since it was opened: reconnect
        if task is None:
            task = asyncio.ensure_future(self._open(host, (*chain, host.name)))
            task.add_done_callback(functools.partial(self._note_failure, host.name))
            self._connections[host.name] = task
        # shielded: one caller's deadline must not cancel a handshake others wait for
        return await asyncio.shield(task)

    def _note_failure(self, name: str, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._failed_at[name] = time.monotonic()

    async def _open(self, host: Host, chain: tuple[str, ...]) -> Any:
        tunnel: Any = ()
        if host.via is not None:
            try:
                tunnel = await self._connection(self.host(host.via), chain)
            except RemoteError as exc:
                raise UnreachableError(host.name, f"via {host.via}: {exc.message}") from None
        opts = self.options.for_host(host)
        async with self._connect_slots:  # sshd's MaxStartups drops bursts of handshakes
            started = time.monotonic()
            conn = await connect_host(host, opts, tunnel=tunnel, inventory_path=self.inventory_path)
            self.connect_seconds[host.name] = time.monotonic() - started
        return conn

    def _drop(self, name: str) -> None:
        """Forget a broken connection so the next command reconnects."""
        task = self._connections.pop(name, None)
        if task is not None and task.done() and not task.exception():
            task.result().close()

    def reset(self, name: str) -> None:
        """Forget a host's connection or its failure (next use reconnects)."""
        self._drop(name)

    async def close(self) -> None:
        """Close every connection: tunnelled ones before the jump hosts they run through."""
        tasks = list(self._connections.items())
        self._connections.clear()
        conns = []
        order = sorted(tasks, key=lambda item: self.hosts[item[0]].via is None)
        for _, task in order:
            if not task.done():
                task.cancel()
                continue
            if task.exception() is None:
                conn = task.result()
                conn.close()
                conns.append(conn)
        for task in (t for _, t in tasks if t.cancelled() or not t.done()):
            with suppress(BaseException):
                await task
        for conn in conns:
            with suppress(Exception):
                async with asyncio.timeout(2):
                    await conn.wait_closed()

    def _slots(self, host: Host) -> asyncio.Semaphore:
        slots = self._sessions.get(host.name)
        if slots is None:
            slots = self._sessions[host.name] = asyncio.Semaphore(host.max_sessions)
        return slots

    # -- commands

    async def run(
        self,
        host: str,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> CommandResult:
        """Run argv on the host; the deadline (default: the host's command_timeout) covers all.

        Raises UnreachableError/HostKeyError (could not connect), RemoteTimeout
        (deadline passed), RemoteCommandError (non-zero exit, when `check`).
        """
        result = await self._exec(host, list(argv), quote_argv(argv), stdin, timeout)
        if check and not result.ok:
            raise RemoteCommandError(host, list(argv), result.exit_status, result.error_text)
        return result

    async def run_script(
        self, host: str, steps: Sequence[Step], *, timeout: float | None = None
    ) -> ScriptResult:
        """Run several steps in ONE round trip; results by step name (see script.py)."""
        nonce = "@@fleet-" + secrets.token_hex(8)
        result = await self._exec(
            host, ["sh", "-c", "<script>"], script_command(steps, nonce), None, timeout
        )
        return ScriptResult(
            host=host,
            steps=parse_script_output(result.text, nonce, [s.name for s in steps]),
            exit_status=result.exit_status,
            stderr=result.error_text,
            duration=result.duration,
        )

    async def _exec(
        self,
        name: str,
        argv: list[str],
        command: str,
        stdin: bytes | None,
        timeout: float | None,
    ) -> CommandResult:
        import asyncssh

        host = self.host(name)
        limit = host.command_timeout if timeout is None else timeout
        process: Any = None
        started = time.monotonic()
        try:
            async with asyncio.timeout(limit):
                conn = await self._connection(host, ())
                async with self._slots(host):
                    started = time.monotonic()  # duration: the round trip, not the connect
                    self.round_trips[host.name] += 1
                    process = await open_session(
                        conn, command, stdin=asyncssh.PIPE if stdin else asyncssh.DEVNULL
                    )
                    done = await process.communicate(stdin or None)
                    exit_status = process.exit_status
        except TimeoutError:
            if process is not None:
                abandon(process)
            raise RemoteTimeout(
                host.name, f"`{' '.join(argv[:3])}` did not finish within {limit:.1f} s"
            ) from None
        except asyncssh.ChannelOpenError as exc:
            raise RemoteCommandError(
                host.name, argv, None, f"could not open a session: {exc.reason}"
            ) from None
        except (asyncssh.Error, OSError) as exc:
            self._drop(host.name)
            raise UnreachableError(host.name, describe_connect_error(exc, limit)) from None
        except BaseException:
            if process is not None:
                abandon(process)
            raise
        stdout, stderr = done
        return CommandResult(exit_status, stdout or b"", stderr or b"", time.monotonic() - started)

    @asynccontextmanager
    async def stream(
        self, host: str, argv: Sequence[str], *, open_timeout: float | None = None
    ) -> AsyncIterator[RemoteProcess]:
        """A long-running command (logs -f, docker load/save) as streams; closed on exit.

        Only opening is bounded (by `open_timeout`, default the host's
        connect timeout plus its command timeout); the caller bounds the rest.
        """
        import asyncssh

        h = self.host(host)
        limit = open_timeout if open_timeout is not None else h.connect_timeout + h.command_timeout
        command = quote_argv(argv)
        slots = self._slots(h)
        acquired = False
        try:
            async with asyncio.timeout(limit):
                conn = await self._connection(h, ())
                await slots.acquire()
                acquired = True
                self.round_trips[h.name] += 1
                process = await open_session(conn, command)
        except BaseException as exc:
            if acquired:
                slots.release()
            if isinstance(exc, TimeoutError):
                raise RemoteTimeout(
                    h.name, f"could not start `{argv[0]}` within {limit:.1f} s"
                ) from None
            if isinstance(exc, asyncssh.ChannelOpenError):
                raise RemoteCommandError(
                    h.name, list(argv), None, f"could not open a session: {exc.reason}"
                ) from None
            if isinstance(exc, asyncssh.Error | OSError):
                self._drop(h.name)
                raise UnreachableError(h.name, describe_connect_error(exc, limit)) from None
            raise
        try:
            yield RemoteProcess(h.name, argv, process)
        finally:
            abandon(process)
            with suppress(Exception):
                async with asyncio.timeout(2):
                    await process.wait_closed()
            slots.release()

    async def open_tcp(
        self, host: str, dest_host: str, dest_port: int, *, timeout: float | None = None
    ) -> tuple[Any, Any]:
        """A TCP connection from the host to dest_host:dest_port (direct-tcpip), as streams.

        Returns asyncio-like (reader, writer) carrying bytes; reaches ports that
        are only open on the host (unpublished container ports).
        """
        return await self._channel(
            host,
            ["tcp", f"{dest_host}:{dest_port}"],
            lambda conn: conn.open_connection(dest_host, dest_port),
            timeout,
        )

    async def open_unix(
        self, host: str, path: str, *, timeout: float | None = None
    ) -> tuple[Any, Any]:
        """A connection to a unix socket on the host (direct-streamlocal), as byte streams.

        Needs no client program on the host (HAProxy's master and stats sockets);
        sshd must allow stream-local forwarding.
        """
        return await self._channel(
            host, ["unix", path], lambda conn: conn.open_unix_connection(path), timeout
        )

    async def _channel(
        self,
        name: str,
        what: list[str],
        open_streams: Callable[[Any], Awaitable[tuple[Any, Any]]],
        timeout: float | None,
    ) -> tuple[Any, Any]:
        """Open a forwarding channel on the host's connection, with the seam's errors."""
        import asyncssh

        h = self.host(name)
        limit = h.connect_timeout * 2 if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                return await open_streams(await self._connection(h, ()))
        except TimeoutError:
            raise RemoteTimeout(h.name, f"{' '.join(what)} not open within {limit:.1f} s") from None
        except asyncssh.ChannelOpenError as exc:
            raise RemoteCommandError(h.name, what, None, exc.reason) from None
        except (asyncssh.Error, OSError) as exc:
            self._drop(h.name)
            raise UnreachableError(h.name, describe_connect_error(exc, limit)) from None

    async def round_trip_ms(self, host: str) -> float:
        """Milliseconds for one command round trip (`true`) over the open connection."""
        await self.connect(host)
        result = await self.run(host, ["true"])
        return result.duration * 1000

    async def fetch_host_key(self, host: str) -> Any:
        """The key the host presents (for `fleet hosts trust`); tunnels via its jump host."""
        import asyncssh

        h = self.host(host)
        tunnel: Any = ()
        if h.via is not None:
            tunnel = await self.connect(h.via)
        try:
            async with asyncio.timeout(h.connect_timeout):
                key = await asyncssh.get_server_host_key(
                    h.address, h.port, tunnel=tunnel, config=None
                )
        except (OSError, TimeoutError, asyncssh.Error) as exc:
            raise UnreachableError(h.name, describe_connect_error(exc, h.connect_timeout)) from None
        if key is None:
            raise HostKeyError(h.name, "the host presented no host key")
        return key
