"""Helpers for lab tests that check hosts independently of fleet: the docker CLI on a
host's own socket, OpenSSH with the lab's key and known_hosts, plain HTTP, and waiting
for a condition with a deadline."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from fleet.lab import LabHost, LabInfo

# the Debian client matches the lab's dockerd 20.10; any other docker CLI also works
DOCKER = (
    "/usr/bin/docker" if Path("/usr/bin/docker").exists() else shutil.which("docker") or "docker"
)


def docker(host: LabHost, *args: str, check: bool = True,
           timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI against `host`'s engine through its local socket."""
    done = subprocess.run(
        [DOCKER, "-H", f"unix://{host.docker_socket}", *args],
        capture_output=True, text=True, timeout=timeout,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args)} on {host.name} exited {done.returncode}: "
            f"{done.stderr.strip()}"
        )
    return done


def ssh_argv(lab: LabInfo, host: LabHost, *cmd: str) -> list[str]:
    """An OpenSSH command reaching `host` as root with the lab's key, verifying its host key
    against the lab's known_hosts only. `cmd` is run by the remote shell (joined by spaces)."""
    return [
        "ssh",
        "-i", str(lab.key),
        "-o", "IdentitiesOnly=yes",
        "-o", f"UserKnownHostsFile={lab.known_hosts}",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=5",
        "-o", "LogLevel=ERROR",
        "-F", "/dev/null",
        f"root@{host.address}",
        "--",
        *cmd,
    ]


def http_get(url: str, timeout: float = 5.0) -> httpx.Response:
    """One GET without proxies from the environment (lab addresses are local)."""
    return httpx.get(url, timeout=timeout, trust_env=False)


def wait_until(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.1,
               what: str = "condition") -> object:
    """Poll `predicate` until it returns something truthy (returned); AssertionError naming
    `what` at the deadline. Exceptions from the predicate count as "not yet"."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # the thing waited for is not there yet
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})"
            )
        time.sleep(interval)
