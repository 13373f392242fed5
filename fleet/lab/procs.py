"""The lab's processes: found by pidfile, proven ours by /proc, stopped by pid.

A pid from a pidfile is only trusted when /proc/<pid>/cmdline mentions the
lab's directory (pids get reused) and the process is not a zombie (on a
machine whose init does not reap orphans, dead daemons linger as zombies).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


def read_pid(pidfile: Path) -> int | None:
    try:
        text = pidfile.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace"
        )
    except OSError:
        return ""


def is_running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    # the state follows the parenthesised command name, which may itself contain ')'
    state = stat[stat.rindex(")") + 2 :].split(" ", 1)[0]
    return state not in ("Z", "X")


def owned(pid: int | None, marker: str) -> bool:
    """A running process whose command line mentions `marker` (the lab directory)."""
    return pid is not None and is_running(pid) and marker in cmdline(pid)


def owned_pid(pidfile: Path, marker: str) -> int | None:
    """The pid in `pidfile` if it is a running process of this lab, else None."""
    pid = read_pid(pidfile)
    return pid if owned(pid, marker) else None


def signal_pid(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def terminate(pids: Iterable[int], timeout: float = 15.0) -> list[int]:
    """SIGTERM every pid, wait for them to end, SIGKILL the rest; returns those killed."""
    waiting = {p for p in pids if is_running(p)}
    for pid in waiting:
        signal_pid(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        waiting = {p for p in waiting if is_running(p)}
        if waiting:
            time.sleep(0.05)
    for pid in waiting:
        signal_pid(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while any(is_running(p) for p in waiting) and time.monotonic() < deadline:
        time.sleep(0.05)
    return sorted(waiting)


def netns_inode(path: Path) -> int | None:
    """The inode of the network namespace bound at `path` (None if it is no namespace,
    or the machine's own: that one must never count as a lab's)."""
    try:
        st = path.stat()
        own = (PROC / "self" / "ns" / "net").stat()
    except OSError:
        return None
    if st.st_dev != own.st_dev or st.st_ino == own.st_ino:
        return None
    return st.st_ino


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    comm: str
    rss_kb: int
    netns: int | None
    root: str


def scan() -> list[ProcInfo]:
    """Every running process with its name, RSS, network namespace and root directory."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            status = (entry / "status").read_text()
            ns = (entry / "ns" / "net").stat().st_ino
            root = os.readlink(entry / "root")
        except OSError:
            continue
        fields = dict(
            line.split(":", 1) for line in status.splitlines() if ":" in line
        )
        if fields.get("State", "").strip().startswith(("Z", "X")):
            continue
        rss = fields.get("VmRSS", "0 kB").split()[0]
        found.append(ProcInfo(pid, fields.get("Name", "?").strip(), int(rss), ns, root))
    return found


def lab_processes(procs: Iterable[ProcInfo], netns_inodes: set[int], labdir: str) -> list[int]:
    """Processes that belong to a lab: living in one of its network namespaces (its
    daemons, their children, ssh sessions) or with their root inside the lab
    directory (container processes)."""
    prefix = labdir.rstrip("/") + "/"
    return [
        p.pid
        for p in procs
        if p.pid != os.getpid()
        and ((p.netns is not None and p.netns in netns_inodes) or p.root.startswith(prefix))
    ]
