"""Locks that keep applies and heal passes from interleaving.

Two layers: a local lock (flock on a file in the cluster's state directory,
released by the kernel even after kill -9) for runs on the same controller,
and a cluster lock on a designated host (a directory made with mkdir, which
is atomic, holding who took it and when) for runs from different machines.
The cluster lock is refreshed while a run lasts and counts as stale after
`stale_after` seconds without a refresh, or at once when its holder was a
process on this machine that no longer exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from fleet.errors import FleetError, LockHeld, RemoteError


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: enough for the message another run prints."""

    command: str
    user: str
    machine: str
    pid: int
    since: float

    @classmethod
    def me(cls, command: str) -> Holder:
        return cls(
            command=command,
            user=os.environ.get("USER") or str(os.getuid()),
            machine=socket.gethostname(),
            pid=os.getpid(),
            since=time.time(),
        )

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        try:
            data: dict[str, Any] = json.loads(text)
            return cls(
                command=str(data["command"]),
                user=str(data["user"]),
                machine=str(data["machine"]),
                pid=int(data["pid"]),
                since=float(data["since"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self, now: float | None = None) -> str:
        age = (now if now is not None else time.time()) - self.since
        when = time.strftime("%H:%M:%S", time.localtime(self.since))
        return (
            f"`fleet {self.command}` by {self.user}@{self.machine} pid {self.pid} "
            f"since {when} ({age:.0f} s ago)"
        )

    def is_dead_local_process(self) -> bool:
        """The holder ran on this machine and is gone (killed -9, crashed)."""
        if self.machine != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


class LocalLock:
    """flock on <cluster dir>/lock; the file also names the holder for the message."""

    def __init__(self, directory: Path, cluster: str, command: str) -> None:
        self.path = directory / "lock"
        self.cluster = cluster
        self.command = command
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = Holder.from_json(handle.read())
            handle.close()
            who = holder.describe() if holder else "another fleet process"
            raise LockHeld(f"cluster {self.cluster} is locked by {who}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(Holder.me(self.command).to_json())
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> LocalLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


# -- the lock on the cluster itself ------------------------------------------------------------

LOCK_DIR = '"$HOME/.fleet/lock"'
# constant scripts: the holder's JSON arrives on stdin, the token as $1
ACQUIRE_SCRIPT = (
    'mkdir -p "$HOME/.fleet" || exit 3; '
    f"if mkdir {LOCK_DIR} 2>/dev/null; then cat > {LOCK_DIR}/holder; echo acquired; exit 0; fi; "
    f'm=$(stat -c %Y {LOCK_DIR}/holder 2>/dev/null || echo 0); echo "held $(( $(date +%s) - m ))"; '
    f"cat {LOCK_DIR}/holder 2>/dev/null; exit 0"
)
# mv is atomic: of two runs taking over a stale lock, one moves it away, the other finds none
STEAL_SCRIPT = (
    f'mv {LOCK_DIR} "$HOME/.fleet/lock.stale.$$" 2>/dev/null'
    ' && rm -rf "$HOME/.fleet/lock.stale.$$"; exit 0'
)
REFRESH_SCRIPT = f'grep -qF -- "$1" {LOCK_DIR}/holder 2>/dev/null && touch {LOCK_DIR}/holder'
RELEASE_SCRIPT = f'grep -qF -- "$1" {LOCK_DIR}/holder 2>/dev/null && rm -rf {LOCK_DIR}; exit 0'


class ClusterLock:
    """The local lock, then a lock directory on the first inventory host that answers.

    Held while the run lasts (refreshed every `refresh_every` s); a lock not refreshed for
    `stale_after` s, or held by a dead process on this machine, is taken over.
    """

    def __init__(
        self,
        local: LocalLock,
        pool: Any,
        hosts: list[str],
        *,
        stale_after: float = 90.0,
        refresh_every: float = 20.0,
    ) -> None:
        self.local = local
        self.pool = pool
        self.hosts = hosts
        self.stale_after = stale_after
        self.refresh_every = refresh_every
        self.token = secrets.token_hex(8)
        self.host: str | None = None
        self._refresher: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ClusterLock:
        self.local.acquire()
        try:
            await self._acquire_remote()
        except BaseException:
            self.local.release()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        try:
            if self._refresher is not None:
                self._refresher.cancel()
            if self.host is not None:
                with contextlib.suppress(FleetError, OSError):
                    await self.pool.run(self.host, self._argv(RELEASE_SCRIPT))
        finally:
            self.local.release()

    async def _acquire_remote(self) -> None:
        holder = Holder.me(self.local.command)
        data = json.dumps({**holder.__dict__, "token": self.token}).encode()
        for host in self.hosts:
            try:
                for _attempt in range(2):
                    result = await self.pool.run(
                        host,
                        ["sh", "-c", ACQUIRE_SCRIPT, "fleet-lock"],
                        stdin=data,
                        timeout=self._limit(host),
                    )
                    first, _, rest = result.text.partition("\n")
                    if first.strip() == "acquired":
                        self.host = host
                        self._refresher = asyncio.ensure_future(self._refresh())
                        return
                    age = float(first.split()[1]) if first.startswith("held ") else 0.0
                    other = Holder.from_json(rest.strip())
                    if age < self.stale_after and not (other and other.is_dead_local_process()):
                        who = other.describe() if other else "another fleet run"
                        raise LockHeld(
                            f"cluster {self.local.cluster} is locked by {who} (lock on {host})"
                        )
                    await self.pool.run(host, ["sh", "-c", STEAL_SCRIPT], timeout=self._limit(host))
                raise LockHeld(f"cluster {self.local.cluster}: could not take the lock on {host}")
            except RemoteError:
                continue  # that host does not answer: the next one holds the lock
        # no host answered: nothing can be changed anyway; the local lock still holds

    def _limit(self, host: str) -> float:
        """A lock step is one quick command: a host that does not answer in time is skipped
        (the next answering host holds the lock) instead of stalling the run."""
        return float(self.pool.host(host).connect_timeout) + 10.0

    def _argv(self, script: str) -> list[str]:
        """A constant script with this run's token as $1."""
        return ["sh", "-c", script, "fleet-lock", self.token]

    async def _refresh(self) -> None:
        assert self.host is not None
        while True:
            await asyncio.sleep(self.refresh_every)
            with contextlib.suppress(FleetError, OSError):
                await self.pool.run(self.host, self._argv(REFRESH_SCRIPT))
