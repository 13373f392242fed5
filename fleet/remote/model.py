"""What the container-engine driver returns and takes: plain typed dataclasses, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

MANAGED_LABEL = "fleet.managed"  # every container fleet starts carries fleet.managed=true


@dataclass(frozen=True)
class HostFacts:
    """What a host offers and runs, as its engine reports it."""

    hostname: str
    cpus: int
    memory_bytes: int
    engine: str  # docker | podman
    engine_version: str
    containers_total: int  # all containers the engine has, managed or not
    os: str = ""
    kernel: str = ""


@dataclass(frozen=True)
class PublishedPort:
    """A container port bound on the host (`host_ip` "" or "0.0.0.0": every address)."""

    container_port: int
    protocol: str
    host_ip: str
    host_port: int


@dataclass(frozen=True)
class MountInfo:
    """A volume or bind mount of a container."""

    type: str  # volume | bind | tmpfs
    source: str  # volume name for volumes, host path for binds
    destination: str
    read_only: bool


@dataclass(frozen=True)
class ContainerInfo:
    """One container as observed (fleet-managed ones carry fleet.* labels)."""

    id: str
    name: str
    image: str  # the reference it was started from
    image_id: str
    labels: Mapping[str, str]
    state: str  # created | running | paused | restarting | removing | exited | dead
    health: str | None  # starting | healthy | unhealthy; None without a healthcheck
    exit_code: int
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    restart_count: int
    ports: tuple[PublishedPort, ...] = ()
    addresses: Mapping[str, str] = field(default_factory=dict)  # network -> IPv4
    network_mode: str = ""
    mounts: tuple[MountInfo, ...] = ()
    oom_killed: bool = False
    error: str = ""
    restart_policy: str = ""
    nano_cpus: int = 0
    memory_limit: int = 0

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def managed(self) -> bool:
        return self.labels.get(MANAGED_LABEL) == "true"

    @property
    def app(self) -> str | None:
        return self.labels.get("fleet.app")

    @property
    def service(self) -> str | None:
        return self.labels.get("fleet.service")

    @property
    def replica(self) -> str | None:
        return self.labels.get("fleet.replica")

    @property
    def address(self) -> str | None:
        """The container's IPv4 address on its (first) network, if it has one."""
        return next((ip for ip in self.addresses.values() if ip), None)


@dataclass(frozen=True)
class HostObservation:
    """One host's facts, fleet-managed containers, volumes and cordon mark, in ONE round trip.

    `cordon` is the text of the host's cordon marker (`~/.fleet/cordon`, JSON written
    by `fleet cordon|drain`), None when the host is not cordoned. `volumes_read` is False
    when the volumes were not asked for (`volumes` is then empty, not "none").
    """

    host: str
    facts: HostFacts
    containers: list[ContainerInfo]
    unmanaged_count: int
    round_trip_ms: float
    volumes: tuple[str, ...] = ()
    cordon: str | None = None
    volumes_read: bool = True

    @property
    def cordoned(self) -> bool:
        return self.cordon is not None


@dataclass(frozen=True)
class ContainerStats:
    """One-shot resource use of a running container (`docker stats --no-stream`)."""

    id: str
    name: str
    cpu_percent: float
    memory_bytes: int
    memory_limit_bytes: int
    pids: int


@dataclass(frozen=True)
class VolumeInfo:
    name: str
    driver: str
    labels: Mapping[str, str] = field(default_factory=dict)


# ---- what to run --------------------------------------------------------------------------


@dataclass(frozen=True)
class PortSpec:
    """Publish `container_port` on the host: on `host_ip` (None: every address)."""

    container_port: int
    host_port: int
    host_ip: str | None = None
    protocol: Literal["tcp", "udp"] = "tcp"


@dataclass(frozen=True)
class VolumeSpec:
    """A named volume (`kind="volume"`, source = volume name) or a bind of a host path."""

    source: str
    target: str
    kind: Literal["volume", "bind"] = "volume"
    read_only: bool = False


RestartPolicy = Literal["no", "always", "unless-stopped", "on-failure"]


@dataclass(frozen=True)
class ContainerRunSpec:
    """Everything `docker run -d` needs for one container; names validated when built into argv.

    `network`: None (engine default bridge), "host", "none", a network name, or
    "container:<name>" to share another container's network namespace (sidecars).
    `entrypoint` replaces the image's ENTRYPOINT (Kubernetes `command`), `args`
    its CMD (Kubernetes `args`). `cpus` in cores (0.25), `memory` in bytes.
    """

    name: str
    image: str
    labels: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    entrypoint: str | None = None
    args: tuple[str, ...] | None = None
    ports: tuple[PortSpec, ...] = ()
    volumes: tuple[VolumeSpec, ...] = ()
    cpus: float | None = None
    memory: int | None = None
    network: str | None = None
    hostname: str | None = None
    extra_hosts: Mapping[str, str] = field(default_factory=dict)  # name -> IP (--add-host)
    restart: RestartPolicy = "unless-stopped"
    stop_timeout: int | None = None  # seconds the engine waits after SIGTERM
    healthcheck: bool = False  # False: --no-healthcheck (fleet probes instead)
    workdir: str | None = None
    user: str | None = None
    pull: Literal["missing", "never", "always"] = "missing"
