"""What a lab's hosts are doing right now: daemons, link, containers, memory."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from fleet.lab import daemons, layout, netns, procs
from fleet.lab.dockerapi import DockerSocket
from fleet.lab.lab import shape_of

# process names as /proc shows them (15 characters at most) -> the daemon they count for
_KINDS = {
    "sshd": "sshd",
    "dockerd": "dockerd",
    "containerd": "containerd",
    "containerd-shim": "containerd",
    "docker-proxy": "dockerd",
    "haproxy": "haproxy",
}


@dataclass(frozen=True)
class HostStatus:
    name: str
    address: str
    netns: bool
    link_up: bool
    sshd_pid: int | None
    dockerd_pid: int | None
    engine_ok: bool
    containers: int | None
    is_lb: bool
    haproxy_pid: int | None
    rss_kb: dict[str, int] = field(default_factory=dict)  # per daemon, plus "total"

    @property
    def healthy(self) -> bool:
        return (self.netns and self.link_up and self.sshd_pid is not None and self.engine_ok
                and (self.haproxy_pid is not None or not self.is_lb))


@dataclass(frozen=True)
class LabStatus:
    name: str
    subnet: str
    bridge: str
    inventory: str
    hosts: list[HostStatus]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "subnet": self.subnet,
            "bridge": self.bridge,
            "inventory": self.inventory,
            "hosts": [{**asdict(h), "healthy": h.healthy} for h in self.hosts],
        }


def memory_by_host(netns_inodes: dict[int, str]) -> dict[str, dict[str, int]]:
    """RSS (kB) of the processes in each host's network namespace, by daemon.

    Containers have namespaces of their own and are not counted; ssh sessions
    and anything else running in the host's namespace count as "other".
    """
    found: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for proc in procs.scan():
        host = netns_inodes.get(proc.netns or -1)
        if host is None:
            continue
        kind = _KINDS.get(proc.comm, "other")
        found[host][kind] += proc.rss_kb
        found[host]["total"] += proc.rss_kb
    return {h: dict(v) for h, v in found.items()}


def status(name: str = layout.DEFAULT_NAME) -> LabStatus:
    """The state of every host of lab `name` (LabError if there is no such lab)."""
    shape = shape_of(name)
    inodes: dict[int, str] = {}
    for index in shape.indexes:
        spec = shape.spec(index)
        ino = procs.netns_inode(netns.netns_path(spec.netns))
        if ino is not None:
            inodes[ino] = spec.name
    memory = memory_by_host(inodes)
    hosts = []
    for index in shape.indexes:
        spec = shape.spec(index)
        engine = DockerSocket(spec.paths.docker_socket, timeout=3.0)
        engine_ok = engine.ping()
        containers = None
        if engine_ok:
            try:
                containers = len(engine.container_ids())
            except (OSError, ValueError):
                containers = None
        hosts.append(
            HostStatus(
                name=spec.name,
                address=spec.address,
                netns=netns.netns_exists(spec.netns),
                link_up=netns.link_is_up(layout.veth_name(shape.name, index)),
                sshd_pid=daemons.sshd_pid(spec),
                dockerd_pid=daemons.dockerd_pid(spec),
                engine_ok=engine_ok,
                containers=containers,
                is_lb=shape.is_lb(index),
                haproxy_pid=daemons.haproxy_pid(spec),
                rss_kb=memory.get(spec.name, {}),
            )
        )
    return LabStatus(
        name=shape.name,
        subnet=layout.subnet(shape.octet),
        bridge=shape.bridge,
        inventory=str(shape.paths.inventory),
        hosts=hosts,
    )
