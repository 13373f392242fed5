"""A lab host's daemons: sshd, dockerd and (on load-balancer hosts) HAProxy.

Each runs inside the host's network namespace, entered with `nsenter --net`
(`ip netns exec` remounts /sys, and dockerd then fails with "Devices cgroup
isn't mounted"), and sshd/dockerd in their own UTS namespace so `hostname`
says node<i>. Start and stop are idempotent and only ever touch pids whose
command line mentions the lab's directory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleet.errors import LabError
from fleet.lab import procs
from fleet.lab.dockerapi import DockerSocket
from fleet.lab.layout import HostPaths
from fleet.lab.netns import netns_path
from fleet.lab.system import run, spawn_detached, tool

PRIVSEP_DIR = Path("/run/sshd")  # sshd refuses to start without it
HAPROXY_ALIVE_PORT = 8404


@dataclass(frozen=True)
class HostSpec:
    """What the daemons of one host need to know."""

    name: str  # node<i>
    address: str
    netns: str
    paths: HostPaths
    authorized_keys: Path

    @property
    def marker(self) -> str:
        """In the command line of each of the host's daemons: proves a pid is theirs."""
        return f"{self.paths.dir}/"


def render_sshd_config(host: HostSpec) -> str:
    """sshd_config of a lab host: its address only, its own key, key-only root login."""
    p = host.paths
    return "\n".join(
        [
            f"# sshd of lab host {host.name}, written by `fleet lab up`",
            f"ListenAddress {host.address}",
            "Port 22",
            f"HostKey {p.host_key}",
            f"PidFile {p.sshd_pidfile}",
            f"AuthorizedKeysFile {host.authorized_keys}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "UseDNS no",
            "StrictModes no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "MaxStartups 64:30:200",
            "Subsystem sftp internal-sftp",
            # the engine of *this* host, and a clean HOME: the machine's root .bashrc
            # would otherwise run for every command (120-250 ms each)
            f"SetEnv DOCKER_HOST=unix://{p.docker_socket} HOME={p.home}",
            "",
        ]
    )


def render_haproxy_config(host_name: str) -> str:
    """A minimal valid HAProxy config, until fleet's load balancer writes a real one."""
    return "\n".join(
        [
            f"# Minimal HAProxy config of lab host {host_name}, written by `fleet lab up` when",
            "# none exists. fleet's load balancer renders the real one here and reloads",
            "# HAProxy through its master socket.",
            "global",
            "    maxconn 4096",
            "defaults",
            "    mode http",
            "    timeout connect 5s",
            "    timeout client 30s",
            "    timeout server 30s",
            "# one listener, on the host's loopback, so that `haproxy -c` accepts the file",
            "frontend lab-alive",
            f"    bind 127.0.0.1:{HAPROXY_ALIVE_PORT}",
            f'    http-request return status 200 content-type text/plain string "{host_name}"',
            "",
        ]
    )


def _in_host(host: HostSpec, argv: list[str], own_uts: bool = True) -> list[str]:
    """argv run in the host's network namespace (and its own UTS namespace, hostname set)."""
    enter = [tool("nsenter"), f"--net={netns_path(host.netns)}"]
    if not own_uts:
        return [*enter, *argv]
    return [
        *enter, tool("unshare"), "--uts", "--",
        "/bin/sh", "-c", 'hostname "$1" && shift && exec "$@"', "sh", host.name, *argv,
    ]


def _wait(what: str, ready: Callable[[], bool], timeout: float, log: Path | None,
          alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if not alive() or time.monotonic() > deadline:
            tail = ""
            if log is not None and log.exists():
                lines = log.read_text(errors="replace").strip().splitlines()[-5:]
                tail = f" (last lines of {log}: {' | '.join(lines)})" if lines else ""
            state = "exited" if not alive() else f"not ready within {timeout:.0f} s"
            raise LabError(f"{what} {state}{tail}")
        time.sleep(0.05)


# ---- sshd -----------------------------------------------------------------------------


def ensure_host_key(host: HostSpec) -> None:
    key = host.paths.host_key
    if not key.exists() or not key.with_suffix(".pub").exists():
        key.unlink(missing_ok=True)
        key.with_suffix(".pub").unlink(missing_ok=True)
        run([tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", host.name, "-f", str(key)])


def sshd_pid(host: HostSpec) -> int | None:
    return procs.owned_pid(host.paths.sshd_pidfile, host.marker)


def start_sshd(host: HostSpec, timeout: float = 20.0) -> int:
    """sshd of the host, started unless it runs; returns its pid once it listens."""
    pid = sshd_pid(host)
    if pid is not None:
        return pid
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    ensure_host_key(host)
    p = host.paths
    p.home.mkdir(parents=True, exist_ok=True)
    p.sshd_config.write_text(render_sshd_config(host))
    p.sshd_pidfile.unlink(missing_ok=True)
    # sshd daemonizes itself and writes its pidfile once its socket is bound
    run(_in_host(host, [tool("sshd"), "-f", str(p.sshd_config), "-E", str(p.sshd_log)]))
    _wait(f"sshd of {host.name}", lambda: sshd_pid(host) is not None, timeout, p.sshd_log)
    found = sshd_pid(host)
    assert found is not None
    return found


def stop_sshd(host: HostSpec) -> None:
    """Stop the listening sshd (open sessions stay, as on a real host)."""
    pid = sshd_pid(host)
    if pid is not None:
        procs.terminate([pid], timeout=10.0)
    host.paths.sshd_pidfile.unlink(missing_ok=True)


def kill_sshd(host: HostSpec) -> None:
    """Stop the listening sshd AND every SSH session of the host: established
    connections break too (a crashed or killed sshd, not a polite `systemctl stop`)."""
    stop_sshd(host)
    inode = procs.netns_inode(netns_path(host.netns))
    if inode is None:
        return
    sessions = [p.pid for p in procs.scan() if p.netns == inode and p.comm == "sshd"]
    if sessions:
        procs.terminate(sessions, timeout=10.0)


# ---- dockerd --------------------------------------------------------------------------


def dockerd_pid(host: HostSpec) -> int | None:
    return procs.owned_pid(host.paths.dockerd_pidfile, host.marker)


def containerd_pid(host: HostSpec) -> int | None:
    return procs.owned_pid(host.paths.containerd_pidfile, host.marker)


def launch_dockerd(host: HostSpec, launched: int | None = None) -> int:
    """Start dockerd unless it runs (does not wait for it); returns its pid.

    nsenter, unshare and sh all exec, so the pid returned is dockerd's and can be
    recorded before dockerd has written its own pidfile. `launched` is such a
    recorded pid: a dockerd still starting up counts as running.
    """
    pid = dockerd_pid(host)
    if pid is not None:
        return pid
    if launched is not None and procs.owned(launched, host.marker):
        return launched
    p = host.paths
    leftover = containerd_pid(host)  # of a dockerd that was killed hard
    if leftover is not None:
        procs.terminate([leftover], timeout=10.0)
    p.dockerd_pidfile.unlink(missing_ok=True)
    p.docker_socket.unlink(missing_ok=True)
    # its own config file and key: the machine's /etc/docker would give every host the
    # same engine ID (key.json) and whatever daemon.json says
    p.dockerd_config.write_text(json.dumps({"deprecated-key-path": str(p.dir / "key.json")}))
    argv = _in_host(host, [
        tool("dockerd"),
        "--config-file", str(p.dockerd_config),
        "--data-root", str(p.docker_data),
        "--exec-root", str(p.docker_exec),
        "-H", f"unix://{p.docker_socket}",
        "--pidfile", str(p.dockerd_pidfile),
        "--log-level", "warn",
        "--shutdown-timeout", "3",
    ])
    return spawn_detached(argv, p.dockerd_log)


def wait_dockerd(host: HostSpec, pid: int, timeout: float = 60.0) -> None:
    """Wait until the engine answers on its socket; LabError (with its log) if it died."""
    engine = DockerSocket(host.paths.docker_socket, timeout=5.0)
    _wait(f"dockerd of {host.name}", engine.ping, timeout, host.paths.dockerd_log,
          alive=lambda: procs.owned(pid, host.marker))


def stop_dockerd(host: HostSpec) -> None:
    """Stop dockerd (it stops its containers and its containerd), then any leftover containerd."""
    pid = dockerd_pid(host)
    if pid is not None:
        procs.terminate([pid], timeout=20.0)
    leftover = containerd_pid(host)
    if leftover is not None:
        procs.terminate([leftover], timeout=10.0)
    host.paths.dockerd_pidfile.unlink(missing_ok=True)


# ---- haproxy --------------------------------------------------------------------------


def haproxy_pid(host: HostSpec) -> int | None:
    return procs.owned_pid(host.paths.haproxy_pidfile, host.marker)


def ensure_haproxy_config(host: HostSpec) -> None:
    """Write the minimal config only if there is none: the load balancer's stays."""
    p = host.paths
    p.haproxy_dir.mkdir(parents=True, exist_ok=True)
    if not p.haproxy_config.exists():
        p.haproxy_config.write_text(render_haproxy_config(host.name))


def start_haproxy(host: HostSpec, timeout: float = 20.0) -> int:
    """HAProxy in master-worker mode with a master socket; returns the master's pid."""
    pid = haproxy_pid(host)
    if pid is not None:
        return pid
    ensure_haproxy_config(host)
    p = host.paths
    p.haproxy_pidfile.unlink(missing_ok=True)
    p.haproxy_master_socket.unlink(missing_ok=True)
    argv = [
        tool("haproxy"), "-W", "-D",
        "-S", str(p.haproxy_master_socket),
        "-p", str(p.haproxy_pidfile),
        "-f", str(p.haproxy_config),
    ]
    result = run(_in_host(host, argv, own_uts=False), check=False)
    if result.returncode != 0:
        raise LabError(
            f"haproxy of {host.name} did not start: "
            f"{(result.stderr or result.stdout).strip() or 'no output'}"
        )
    _wait(f"haproxy of {host.name}", lambda: haproxy_pid(host) is not None, timeout, None)
    found = haproxy_pid(host)
    assert found is not None
    return found


def stop_haproxy(host: HostSpec) -> None:
    pid = haproxy_pid(host)
    if pid is not None:
        procs.terminate([pid], timeout=10.0)
    host.paths.haproxy_pidfile.unlink(missing_ok=True)
