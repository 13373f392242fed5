"""The planner's vocabulary: what is desired, what exists, what to do.

Plain frozen dataclasses, no I/O, no pydantic: the scheduler and the planner
work on these, so they can be tested (and run on 10,000 replicas) without
hosts or YAML. `fleet.desired` builds `DesiredService`s from blueprints,
`fleet.state` builds `ClusterState` from what the hosts report.

Identity: a *replica* is a slot of a service (`web-0`, `web-1`, ...: stable
ordinals like a StatefulSet, so volumes and names stay put); a *pod* is one
incarnation of a replica at one revision on one host (`web-0.3f9a1c2b7e`),
made of one main container and optional sidecars sharing its network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property


@dataclass(frozen=True, order=True)
class Resources:
    """CPU in millicores and memory in bytes (exact integer arithmetic)."""

    cpu: int = 0
    memory: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu + other.cpu, self.memory + other.memory)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu - other.cpu, self.memory - other.memory)

    def fits_in(self, free: Resources) -> bool:
        return self.cpu <= free.cpu and self.memory <= free.memory


def replica_id(service: str, slot: int) -> str:
    """The stable name of a replica: `web-0`."""
    return f"{service}-{slot}"


def canary_replica_id(service: str, slot: int) -> str:
    """Canary replicas are numbered apart from the stable ones: `web-canary-0`."""
    return f"{service}-canary-{slot}"


def pod_name(replica: str, revision: str) -> str:
    """One incarnation of a replica at a revision: `web-0.3f9a1c2b7e` (also its HAProxy name)."""
    return f"{replica}.{revision}"


def container_name(app: str, pod: str, container: str | None = None) -> str:
    """Engine name of a pod's container: `demo.web-0.3f9a1c2b7e` (main), `....log` (sidecar)."""
    return f"{app}.{pod}" if container is None else f"{app}.{pod}.{container}"


def volume_name(app: str, service: str, slot: int, volume: str) -> str:
    """The engine volume holding one replica's data: `fleet.demo.kv-0.data` (kept on its host)."""
    return f"fleet.{app}.{service}-{slot}.{volume}"


def scratch_volume_name(app: str, pod: str, volume: str) -> str:
    """An emptyDir: lives and dies with one pod: `fleet-tmp.demo.web-0.3f9a1c2b7e.cache`."""
    return f"fleet-tmp.{app}.{pod}.{volume}"


class Strategy(StrEnum):
    rolling = "RollingUpdate"
    recreate = "Recreate"
    canary = "Canary"


class Placement(StrEnum):
    spread = "spread"
    binpack = "binpack"


@dataclass(frozen=True)
class DesiredService:
    """One Deployment as the planner sees it (the pod template itself stays with the executor)."""

    app: str
    name: str
    replicas: int
    revision: str
    requests: Resources = Resources()
    node_selector: tuple[tuple[str, str], ...] = ()
    max_per_host: int | None = None
    placement: Placement = Placement.spread
    strategy: Strategy = Strategy.rolling
    max_surge: int = 1
    max_unavailable: int = 0
    min_ready_seconds: float = 0.0
    progress_deadline_seconds: float = 600.0
    depends_on: tuple[str, ...] = ()
    # volumes that live with a replica on its host (per-slot named volumes)
    persistent_volumes: tuple[str, ...] = ()
    termination_grace_period_seconds: float = 30.0
    # Canary: the revision the stable replicas run while the canary is out; None = no canary
    stable_revision: str | None = None
    canary_replicas: int = 0
    canary_weight: int = 0

    @property
    def stateful(self) -> bool:
        return bool(self.persistent_volumes)

    @property
    def canary_active(self) -> bool:
        return self.stable_revision is not None and self.stable_revision != self.revision


class ContainerState(StrEnum):
    created = "created"
    running = "running"
    restarting = "restarting"
    paused = "paused"
    exited = "exited"
    dead = "dead"
    removing = "removing"


@dataclass(frozen=True)
class ActualContainer:
    name: str
    role: str  # "main" or the sidecar's container name
    state: ContainerState
    exit_code: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    restart_count: int = 0
    image: str = ""
    image_id: str = ""
    health: str | None = None  # the engine's own healthcheck, if any


@dataclass(frozen=True)
class ActualPod:
    """A pod found on a host, decoded from its containers' labels.

    Derived values are cached on first use (the planner and the probes ask each pod for
    its key and state many times; on 10,000 pods rebuilding them dominated a plan)."""

    host: str
    app: str
    service: str
    slot: int
    revision: str
    containers: tuple[ActualContainer, ...]
    canary: bool = False
    requests: Resources = Resources()
    ports: tuple[tuple[int, int], ...] = ()  # (container port, published host port)
    ip: str | None = None  # the pod's address on its host's container network
    volumes: tuple[str, ...] = ()
    created_at: float = 0.0
    expected_containers: int = 1  # a pod missing a container (run killed halfway) is broken

    @cached_property
    def replica(self) -> str:
        return (canary_replica_id if self.canary else replica_id)(self.service, self.slot)

    @cached_property
    def name(self) -> str:
        return pod_name(self.replica, self.revision)

    @cached_property
    def key(self) -> str:
        """Unique across apps (health, back-off and removals are keyed by it): the main
        container's engine name, `demo.web-0.3f9a1c2b7e`."""
        return container_name(self.app, self.name)

    @cached_property
    def complete(self) -> bool:
        return len(self.containers) >= self.expected_containers

    @cached_property
    def main(self) -> ActualContainer | None:
        return next((c for c in self.containers if c.role == "main"), None)

    @cached_property
    def running(self) -> bool:
        """Every container of the pod is running."""
        return self.complete and all(c.state is ContainerState.running for c in self.containers)

    @cached_property
    def restarting(self) -> bool:
        return any(c.state is ContainerState.restarting for c in self.containers)

    @cached_property
    def started_at(self) -> float | None:
        main = self.main
        return main.started_at if main else None

    def host_port(self, container_port: int) -> int | None:
        return next((h for c, h in self.ports if c == container_port), None)


@dataclass(frozen=True)
class HostState:
    """One host as observed in this run. `reachable=False` means unknown, never empty."""

    name: str
    address: str
    reachable: bool
    capacity: Resources = Resources()
    labels: tuple[tuple[str, str], ...] = ()
    zone: str | None = None
    cordoned: bool = False
    draining: bool = False  # cordoned, and its replicas move to other hosts
    pods: tuple[ActualPod, ...] = ()
    volumes: tuple[str, ...] = ()  # fleet-managed engine volumes present on the host
    error: str | None = None
    # False for an unreachable host of which no earlier observation is known
    contents_known: bool = True
    engine_version: str = ""
    round_trip_ms: float | None = None
    unmanaged_containers: int = 0

    def label(self, key: str) -> str | None:
        value = dict(self.labels).get(key)
        if value is None and key == "zone":  # the inventory's shorthand for the zone label
            return self.zone
        return value


@dataclass(frozen=True)
class ClusterState:
    hosts: dict[str, HostState]
    observed_at: float = 0.0

    def pods(self) -> list[ActualPod]:
        return [p for h in self.hosts.values() for p in h.pods]

    def reachable_hosts(self) -> list[HostState]:
        return [h for h in self.hosts.values() if h.reachable]


@dataclass(frozen=True)
class PodHealth:
    """What the probes concluded about a pod (before probes exist: ready == running)."""

    ready: bool
    ready_since: float | None = None
    live: bool = True  # False once the liveness probe failed failureThreshold times in a row
    started: bool = True  # the startup probe succeeded (or there is none)
    reason: str = ""


class Bucket(StrEnum):
    """Nomad's reconciler vocabulary (STYLE.md)."""

    missing = "missing"  # a replica slot with no pod
    extra = "extra"  # a pod beyond the replica count, a duplicate, or of a removed service
    outdated = "outdated"  # a pod at another revision than desired
    lost = "lost"  # a pod on a host that could not be observed
    unhealthy = "unhealthy"  # exited, dead, or failing its liveness probe
    ignored = "ignored"  # not ours to touch (other apps, pods on unknown hosts we leave alone)


class ActionKind(StrEnum):
    create = "create"
    remove = "remove"
    restart = "restart"


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    host: str
    app: str
    service: str
    slot: int
    revision: str
    bucket: Bucket
    reason: str
    canary: bool = False
    wave: int = 1
    # a create that must wait for the removal of these pods first (same slot, same volume)
    after: tuple[str, ...] = ()

    @property
    def replica(self) -> str:
        return (canary_replica_id if self.canary else replica_id)(self.service, self.slot)

    @property
    def pod(self) -> str:
        return pod_name(self.replica, self.revision)

    @property
    def key(self) -> str:
        return container_name(self.app, self.pod)


@dataclass(frozen=True)
class Rejection:
    host: str
    reason: str


@dataclass(frozen=True)
class PlacementDecision:
    """Why a replica went where it went (and why not elsewhere)."""

    service: str
    slot: int
    host: str | None  # None: pending, fits nowhere
    scores: tuple[tuple[str, float], ...] = ()
    rejected: tuple[Rejection, ...] = ()
    canary: bool = False

    @property
    def replica(self) -> str:
        return (canary_replica_id if self.canary else replica_id)(self.service, self.slot)


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...] = ()
    placements: tuple[PlacementDecision, ...] = ()
    # replicas that cannot be placed now, with every host's reason
    pending: tuple[PlacementDecision, ...] = ()
    # human lines for things the plan waits on (dependencies, readiness, back-off, lost hosts)
    waiting: tuple[str, ...] = ()
    # pods left alone and why (pods on unreachable hosts, other apps)
    ignored: tuple[tuple[str, str], ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.actions

    def first_wave(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.wave == 1)
