"""The seam between `fleet ui` and the cluster: row types and the `StateSource` protocol.

The UI never talks to hosts itself. It asks a `StateSource` for rows and
hands it the operator's actions. Two implementations exist: the live one
(SSH observation, apply/heal machinery) and `fleet.tui.synthetic` (tests,
benchmarks). This module imports nothing from textual, so a source can be
written and tested without the UI.

Conventions every source follows:

- Rows are frozen dataclasses; sequences are tuples, mappings are tuples of
  pairs, so rows compare by value (the UI skips unchanged rows by `==`).
- Times are seconds since the epoch (`time.time()`), durations are
  milliseconds (`round_trip_ms`), CPU is millicores, memory is bytes.
- Identity: a host by its inventory name; a service by `ServiceRef(app, name)`;
  a running pod by `PodRef(app, pod, host)`. Each row's `key` is the string the
  UI uses as its table row key, stable across refreshes.
- A host that does not answer is never taken for "empty": it is reported with
  `reachable=False`, an `error`, its last observed values and the
  `observed_at` of its last successful observation (the UI shows it stale).

Refresh protocol (`StateSource.refresh`), one call per refresh interval:

    HostUpdate, HostUpdate, ...   as each host answers (any order, any number)
    Snapshot                      exactly once, last: the complete picture

A `HostUpdate` replaces that host's row and the set of replicas on it; the
`Snapshot` replaces everything (hosts, services, replicas, frontends). The
source bounds the time it waits for each host (its connect and command
timeouts), so one slow or dead host never holds up the others' updates.
If `refresh` raises, the UI shows the error, keeps the last data (it turns
stale) and tries again on the next interval.

Actions (`scale`, `cordon`, `apply`, ...) return an `Outcome`; a failure the
operator should read is `Outcome(ok=False, message=...)`, and raising a
`fleet.errors.FleetError` is fine too (the UI shows it; nothing crashes).
The source records every action, and what it did, as `EventRow`s that
`events(after_id)` returns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Labels = tuple[tuple[str, str], ...]
EventLevel = Literal["info", "warning", "error"]


@dataclass(frozen=True, order=True)
class ServiceRef:
    """A service (one Deployment) of an app: `shop/web`."""

    app: str
    name: str

    def __str__(self) -> str:
        return f"{self.app}/{self.name}"


@dataclass(frozen=True, order=True)
class PodRef:
    """One running pod (a replica at one revision) on one host: `shop/web-0.3f9a1c2b7e@node1`."""

    app: str
    pod: str
    host: str

    def __str__(self) -> str:
        return f"{self.app}/{self.pod}@{self.host}"


@dataclass(frozen=True, order=True)
class HostRef:
    """A host of the inventory, by name."""

    name: str

    def __str__(self) -> str:
        return self.name


Target = HostRef | ServiceRef | PodRef
"""What `describe` and `logs` accept."""


@dataclass(frozen=True)
class HostRow:
    """One inventory host as last observed."""

    name: str
    address: str
    reachable: bool
    error: str | None = None  # why the last observation failed (reachable=False)
    round_trip_ms: float | None = None
    engine: str | None = None  # e.g. "docker 24.0.7"
    cpu_requested_m: int = 0  # sum of the requests of the replicas placed here
    cpu_capacity_m: int = 0
    memory_requested: int = 0  # bytes
    memory_capacity: int = 0  # bytes
    replicas: int = 0  # fleet-managed pods on the host
    cordoned: bool = False
    labels: Labels = ()
    zone: str | None = None
    roles: tuple[str, ...] = ()  # e.g. ("lb",)
    observed_at: float | None = None  # last SUCCESSFUL observation; None: never reached

    @property
    def key(self) -> str:
        return self.name


@dataclass(frozen=True)
class Canary:
    """A canary running next to a service's stable revision."""

    revision: str
    weight: int  # percent of traffic (HAProxy weight share)
    replicas: int
    ready: int


@dataclass(frozen=True)
class ServiceRow:
    """One service, counted like `kubectl get deploy`."""

    app: str
    name: str
    desired: int
    ready: int
    up_to_date: int  # replicas at the desired revision
    available: int  # ready for at least minReadySeconds
    revision: str  # desired revision (hash of the pod spec)
    rollout: str = ""  # "3/3 at 3f9a1c2b7e", "rolling 1/3", "paused", ...
    strategy: str = "RollingUpdate"  # RollingUpdate | Recreate | Canary
    autoscaler: str = ""  # "HPA 2..6 cpu 43%/70%" or ""
    canary: Canary | None = None
    pending: tuple[str, ...] = ()  # why replicas are not placed: "0/3 hosts: insufficient cpu"

    @property
    def ref(self) -> ServiceRef:
        return ServiceRef(self.app, self.name)

    @property
    def key(self) -> str:
        return f"{self.app}/{self.name}"


@dataclass(frozen=True)
class ReplicaRow:
    """One pod: a replica of a service at one revision, on one host."""

    pod: str  # "web-0.3f9a1c2b7e"
    replica: str  # "web-0"
    service: str
    app: str
    host: str
    state: str  # engine state: running | restarting | exited | created | paused | dead
    ready: bool | None = None  # readiness probe; None: no probe result yet
    live: bool | None = None  # liveness probe; None: no probe result yet
    restarts: int = 0
    started_at: float | None = None
    revision: str = ""
    ports: tuple[str, ...] = ()  # "8080/tcp"
    ip: str | None = None
    reason: str = ""  # why not ready / last exit: "readiness: GET /healthz 503"
    canary: bool = False

    @property
    def ref(self) -> PodRef:
        return PodRef(self.app, self.pod, self.host)

    @property
    def service_ref(self) -> ServiceRef:
        return ServiceRef(self.app, self.service)

    @property
    def key(self) -> str:
        return f"{self.app}/{self.pod}@{self.host}"


@dataclass(frozen=True)
class ServerRow:
    """One HAProxy server line of a frontend's backend."""

    name: str  # the pod name
    address: str  # "10.0.0.5:8080"
    state: str  # UP | DOWN | MAINT | DRAIN | NOLB
    weight: int
    check: str = ""  # last check: "L7OK/200 in 3ms"


@dataclass(frozen=True)
class FrontendRow:
    """One load-balanced service: where it listens and the servers behind it."""

    app: str
    service: str
    bind_port: int
    lb_hosts: tuple[str, ...]
    servers: tuple[ServerRow, ...]

    @property
    def ref(self) -> ServiceRef:
        return ServiceRef(self.app, self.service)

    @property
    def key(self) -> str:
        return f"{self.app}/{self.service}:{self.bind_port}"


@dataclass(frozen=True)
class EventRow:
    """One entry of the event journal (actions, rollouts, probes, heals, host trouble)."""

    id: int  # increasing; `events(after_id)` returns ids > after_id
    time: float
    kind: str  # action | rollout | scale | probe | heal | host | lb | ...
    message: str
    host: str | None = None
    service: str | None = None  # "app/name"
    replica: str | None = None
    level: EventLevel = "info"

    @property
    def key(self) -> str:
        return str(self.id)


@dataclass(frozen=True)
class HostUpdate:
    """One host answered (or failed to): its row and every replica it runs now."""

    host: HostRow
    replicas: tuple[ReplicaRow, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """The complete picture at the end of a refresh (every inventory host, answering or not)."""

    hosts: tuple[HostRow, ...]
    services: tuple[ServiceRow, ...]
    replicas: tuple[ReplicaRow, ...]
    frontends: tuple[FrontendRow, ...]
    observed_at: float


Update = HostUpdate | Snapshot
"""What `StateSource.refresh` yields."""


@dataclass(frozen=True)
class PlacementReason:
    """Why a host was not chosen for a replica (a scheduler filter's verdict)."""

    host: str
    reason: str  # "insufficient memory: 256Mi free, 512Mi requested"
    replica: str = ""  # which replica it was considered for ("" = all)


@dataclass(frozen=True)
class ProbeResult:
    """The last result of one probe of one pod."""

    pod: str
    probe: str  # readiness | liveness | startup
    ok: bool
    detail: str  # "GET :8080/healthz 200 in 4ms"
    at: float


@dataclass(frozen=True)
class Describe:
    """Everything the describe panel shows about one host, service or pod."""

    title: str  # "service shop/web"
    facts: tuple[tuple[str, str], ...] = ()  # short key/value lines shown first
    spec: str = ""  # YAML text of the spec ("" when there is none, e.g. a host)
    placed: tuple[tuple[str, str], ...] = ()  # (replica, host) chosen by the scheduler
    rejected: tuple[PlacementReason, ...] = ()  # every "why not host X"
    events: tuple[EventRow, ...] = ()  # recent events about the target, oldest first
    probes: tuple[ProbeResult, ...] = ()


@dataclass(frozen=True)
class PlanPreview:
    """What `apply` would do, as `fleet plan` prints it."""

    text: str  # the diff: lines starting with "+", "-", "~" or " "
    has_changes: bool


@dataclass(frozen=True)
class Outcome:
    """The result of an action, shown to the operator (and journaled by the source)."""

    ok: bool
    message: str


class StateSource(Protocol):
    """Where `fleet ui` reads the cluster from and sends the operator's actions to.

    Every method may raise `fleet.errors.FleetError` (or anything else): the UI
    catches it and shows the message. Methods are called from the UI's event
    loop; they must not block it (await I/O, never sleep synchronously).
    """

    @property
    def name(self) -> str:
        """What the UI header shows: the inventory path, or "synthetic 50x1000"."""
        ...

    def refresh(self) -> AsyncIterator[Update]:
        """Observe the cluster: `HostUpdate`s as hosts answer, then one `Snapshot`."""
        ...

    async def events(self, after_id: int) -> Sequence[EventRow]:
        """Journal entries with `id > after_id`, oldest first (at most a few hundred)."""
        ...

    async def describe(self, target: Target) -> Describe:
        """Spec, placement reasons, recent events and probes of one host, service or pod."""
        ...

    def logs(self, target: PodRef | ServiceRef, follow: bool) -> AsyncIterator[str]:
        """Log lines of a pod (or of every pod of a service, each line prefixed with the pod).

        The recent tail first; with `follow`, then new lines until the UI stops iterating
        (the UI closes the iterator with `aclose()`).
        """
        ...

    async def shell_argv(self, pod: PodRef) -> list[str]:
        """The argv of an interactive shell in the pod's main container.

        E.g. `ssh -t ... docker exec -it CONTAINER sh`; the UI suspends itself and runs it.
        """
        ...

    async def scale(self, service: ServiceRef, replicas: int) -> Outcome:
        """Set the desired replica count (in the blueprint) and converge to it."""
        ...

    async def restart(self, service: ServiceRef) -> Outcome:
        """Rolling restart: replace every pod of the service, wave by wave, probe-gated."""
        ...

    async def cordon(self, host: str) -> Outcome:
        """Mark the host unschedulable (running replicas stay)."""
        ...

    async def uncordon(self, host: str) -> Outcome:
        """Make the host schedulable again."""
        ...

    async def drain(self, host: str) -> Outcome:
        """Cordon the host and move its replicas elsewhere."""
        ...

    async def plan_apply(self) -> PlanPreview:
        """Plan `fleet apply` of the blueprints the UI was started with (no side effects)."""
        ...

    async def apply(self) -> Outcome:
        """Run `fleet apply` (the plan previewed last, re-planned on current state)."""
        ...

    async def rollout_undo(self, service: ServiceRef) -> Outcome:
        """Roll the service back to its previous revision."""
        ...

    async def promote(self, service: ServiceRef) -> Outcome:
        """Promote the service's canary to be the stable revision."""
        ...

    async def abort(self, service: ServiceRef) -> Outcome:
        """Remove the service's canary; the stable revision takes all traffic."""
        ...

    async def close(self) -> None:
        """Release connections; called once when the UI exits."""
        ...
