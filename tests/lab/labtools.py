"""Helpers for lab tests that check hosts independently of fleet: the docker CLI on a
host's own socket, the lb host, cutting a host off and back, OpenSSH with the lab's key and
known_hosts, variants of the lab's inventory and known_hosts, plain HTTP, and waiting for a
condition with a deadline."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import httpx
import yaml

from fleet import lab as fleet_lab
from fleet.lab import LabHost, LabInfo
from fleet.remote.hostkeys import key_line

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


def lb_host(lab: LabInfo) -> LabHost:
    """The lab host that runs HAProxy."""
    return next(h for h in lab.hosts if h.is_lb)


@contextlib.contextmanager
def cut_off(lab: LabInfo, host: str, how: str) -> Iterator[None]:
    """`link`: the host's veth leaves the bridge (its daemons and containers keep running);
    `daemons`: its sshd and dockerd stop (its containers stop with dockerd). Restored on exit."""
    try:
        if how == "link":
            fleet_lab.link_down(lab.name, host)
        else:
            fleet_lab.stop_sshd(lab.name, host)
            fleet_lab.stop_dockerd(lab.name, host)
        yield
    finally:
        if how == "link":
            fleet_lab.link_up(lab.name, host)
        else:
            fleet_lab.start_dockerd(lab.name, host)
            fleet_lab.start_sshd(lab.name, host)


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


def variant(lab: LabInfo, tmp_path: Path, hosts: dict[str, dict[str, Any]] | None = None,
            **defaults: Any) -> Path:
    """A copy of the lab's inventory with some defaults / per-host fields changed."""
    doc = yaml.safe_load(lab.inventory_path.read_text())
    doc["defaults"].update(defaults)
    for host in doc["hosts"]:
        host.update((hosts or {}).get(host["name"], {}))
    path = tmp_path / f"inventory-{secrets.token_hex(3)}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def known_hosts_with(lab: LabInfo, tmp_path: Path, host: str, key: Any | None) -> Path:
    """The lab's known_hosts with `host`'s lines dropped, or pointing at `key` instead."""
    address = lab.host(host).address
    lines = []
    for line in lab.known_hosts.read_text().splitlines():
        pattern = line.split()[0] if line.strip() else ""
        if pattern in (address, host):
            if key is not None:
                lines.append(f"{pattern} {key_line(key)}")
        else:
            lines.append(line)
    path = tmp_path / f"known_hosts-{secrets.token_hex(3)}"
    path.write_text("\n".join(lines) + "\n")
    return path


def lab_key(lab: LabInfo, host: str) -> Any:
    for line in lab.known_hosts.read_text().splitlines():
        if line.split()[0] == host:
            return asyncssh.import_public_key(" ".join(line.split()[1:3]))
    raise AssertionError(f"{host} not in {lab.known_hosts}")


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
