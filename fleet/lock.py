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

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from fleet.errors import LockHeld


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
