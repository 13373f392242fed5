"""The lab as other code sees it: `LabInfo` with one `LabHost` per host (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleet.errors import LabError
from fleet.lab import layout
from fleet.lab.daemons import HostSpec
from fleet.lab.record import Params


@dataclass(frozen=True)
class LabHost:
    """One host of a lab: where it is reached and where its daemons keep their files."""

    name: str
    address: str
    netns: str
    docker_socket: Path
    sshd_pidfile: Path
    dockerd_pidfile: Path
    is_lb: bool
    haproxy_config: Path | None
    haproxy_master_socket: Path | None
    haproxy_pidfile: Path | None


@dataclass(frozen=True)
class LabInfo:
    """A lab: its name, directory, inventory, SSH key, known_hosts and hosts."""

    name: str
    root: Path  # the lab's own directory: $FLEET_LAB_ROOT/<name>
    inventory_path: Path
    key: Path  # private key accepted for root on every host
    known_hosts: Path  # every host's key under its address and its name
    hosts: list[LabHost]

    def host(self, name: str) -> LabHost:
        for h in self.hosts:
            if h.name == name:
                return h
        raise LabError(f"lab {self.name!r} has no host {name!r}")


@dataclass(frozen=True)
class Shape:
    """Everything derived from a lab's name, root, subnet and parameters."""

    paths: layout.LabPaths
    octet: int
    params: Params

    @property
    def name(self) -> str:
        return self.paths.name

    @property
    def bridge(self) -> str:
        return layout.bridge_name(self.name)

    @property
    def indexes(self) -> range:
        return range(1, self.params.hosts + 1)

    def is_lb(self, index: int) -> bool:
        return index <= self.params.lb

    def spec(self, index: int) -> HostSpec:
        return HostSpec(
            name=layout.host_name(index),
            address=layout.host_address(self.octet, index),
            netns=layout.netns_name(self.name, index),
            paths=self.paths.host(index),
            authorized_keys=self.paths.authorized_keys,
        )

    def lab_host(self, index: int) -> LabHost:
        spec = self.spec(index)
        lb = self.is_lb(index)
        p = spec.paths
        return LabHost(
            name=spec.name,
            address=spec.address,
            netns=spec.netns,
            docker_socket=p.docker_socket,
            sshd_pidfile=p.sshd_pidfile,
            dockerd_pidfile=p.dockerd_pidfile,
            is_lb=lb,
            haproxy_config=p.haproxy_config if lb else None,
            haproxy_master_socket=p.haproxy_master_socket if lb else None,
            haproxy_pidfile=p.haproxy_pidfile if lb else None,
        )

    def info(self) -> LabInfo:
        return LabInfo(
            name=self.name,
            root=self.paths.dir,
            inventory_path=self.paths.inventory,
            key=self.paths.key,
            known_hosts=self.paths.known_hosts,
            hosts=[self.lab_host(i) for i in self.indexes],
        )
