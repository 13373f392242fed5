"""Placement: which host a new replica goes to, and why not the others (pure).

Like the Kubernetes scheduler framework: filters drop hosts with a reason,
scores rank the rest (each score normalised to 0..100 by a fixed formula), the
weighted sum decides, ties go to the host name that sorts first.

Filters: reachable, not cordoned, volume pinned to a host, nodeSelector,
maxPerHost, cpu/memory requests vs allocatable (capacity minus what is placed).
Scores: `spread` (default) prefers hosts and zones with fewer replicas of the
service and more free resources; `binpack` prefers the fullest host that fits.

The scheduler keeps a ledger of what it placed, so one plan's placements see
each other. On big clusters it scores a short list instead of every host:
hosts that already run the service, plus per zone the emptiest (for binpack the
fullest) host that passes the filters; every other host of that zone scores
the same but for fullness, so it cannot win. That keeps 10,000 placements on
1,000 hosts well under a second.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from fleet.model import (
    ActualPod,
    DesiredService,
    HostState,
    Placement,
    PlacementDecision,
    Rejection,
    Resources,
)
from fleet.spec.quantity import format_cpu, format_memory

# Full "why not host X" lists for every placement are kept up to this many hosts;
# beyond it, only pending replicas get the full list (the rest keep the fixed filters).
FULL_REASONS_UP_TO = 64

W_SERVICE_SPREAD = 2.0
W_ZONE_SPREAD = 1.0
W_LEAST_ALLOCATED = 1.0


@dataclass(frozen=True)
class PlacementRequest:
    service: DesiredService
    slot: int
    canary: bool = False
    pinned_host: str | None = None  # its volume lives there
    pinned_volume: str | None = None


@dataclass
class _Ledger:
    """What is placed where, updated as the plan places replicas."""

    used: dict[str, Resources] = field(default_factory=dict)
    per_service: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    per_zone: dict[tuple[str, str | None], int] = field(default_factory=lambda: defaultdict(int))
    hosts_of: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # per zone, hosts sorted by how full they are: the short list walks these
    zone_order: dict[str | None, list[tuple[float, str]]] = field(default_factory=dict)

    def add(self, host: HostState, service: str, requests: Resources) -> None:
        self.used[host.name] = self.used.get(host.name, Resources()) + requests
        self.per_service[(host.name, service)] += 1
        self.per_zone[(service, host.zone)] += 1
        self.hosts_of[service].add(host.name)

    def insert_order(self, host: HostState, fullness: float) -> None:
        bisect.insort(self.zone_order.setdefault(host.zone, []), (fullness, host.name))

    def remove_order(self, host: HostState, fullness: float) -> None:
        order = self.zone_order[host.zone]
        del order[bisect.bisect_left(order, (fullness, host.name))]


class Scheduler:
    """Places replicas one after another on a fixed set of observed hosts."""

    def __init__(
        self,
        hosts: Iterable[HostState],
        *,
        ignore_pods: Iterable[str] = (),
        full_scan_up_to: int = FULL_REASONS_UP_TO,
    ) -> None:
        self.hosts = sorted(hosts, key=lambda h: h.name)
        self.small = len(self.hosts) <= full_scan_up_to
        self.by_name = {h.name: h for h in self.hosts}
        self.ledger = _Ledger()
        skipped = set(ignore_pods)
        for host in self.hosts:
            self.ledger.used.setdefault(host.name, Resources())
            for pod in host.pods:
                if pod.key in skipped:
                    continue
                self.ledger.add(host, pod.service, pod.requests)
            self.ledger.insert_order(host, self.used_fraction(host))

    # -- filters -------------------------------------------------------------------------
    def static_rejection(self, host: HostState, request: PlacementRequest) -> str | None:
        """Reasons that do not change while this plan places replicas."""
        service = request.service
        if not host.reachable:
            return f"unreachable ({host.error})" if host.error else "unreachable"
        if host.cordoned:
            return "cordoned"
        if request.pinned_host is not None and host.name != request.pinned_host:
            return f"volume {request.pinned_volume} of this replica lives on {request.pinned_host}"
        for key, want in service.node_selector:
            have = host.label(key)
            if have != want:
                shown = f"{key}={have}" if have is not None else f"no label {key}"
                return f"nodeSelector {key}={want} does not match ({shown})"
        return None

    def dynamic_rejection(self, host: HostState, request: PlacementRequest) -> str | None:
        """Reasons that depend on what is already placed."""
        service = request.service
        if service.max_per_host is not None:
            count = self.ledger.per_service[(host.name, service.name)]
            if count >= service.max_per_host:
                return (
                    f"already runs {count} replica(s) of {service.name} "
                    f"(maxPerHost {service.max_per_host})"
                )
        free = host.capacity - self.ledger.used[host.name]
        need = service.requests
        if need.cpu > free.cpu:
            return (
                f"insufficient cpu: requests {format_cpu(need.cpu)}, free "
                f"{format_cpu(max(free.cpu, 0))} of {format_cpu(host.capacity.cpu)}"
            )
        if need.memory > free.memory:
            return (
                f"insufficient memory: requests {format_memory(need.memory)}, free "
                f"{format_memory(max(free.memory, 0))} of {format_memory(host.capacity.memory)}"
            )
        return None

    # -- scores --------------------------------------------------------------------------
    def used_fraction(self, host: HostState) -> float:
        """How full the host is now (mean of cpu and memory), 0..1."""
        used, cap = self.ledger.used[host.name], host.capacity
        cpu = used.cpu / cap.cpu if cap.cpu else 1.0
        mem = used.memory / cap.memory if cap.memory else 1.0
        return (cpu + mem) / 2

    def score(self, host: HostState, service: DesiredService) -> float:
        """0..400 for spread (service spread 200, zone spread 100, least allocated 100);
        0..100 for binpack (most allocated)."""
        full = self.used_fraction(host)
        if service.placement is Placement.binpack:
            return 100.0 * full
        on_host = self.ledger.per_service[(host.name, service.name)]
        in_zone = self.ledger.per_zone[(service.name, host.zone)] if host.zone else 0
        return (
            W_SERVICE_SPREAD * 100.0 / (1 + on_host)
            + W_ZONE_SPREAD * 100.0 / (1 + in_zone)
            + W_LEAST_ALLOCATED * 100.0 * (1 - full)
        )

    # -- placing -------------------------------------------------------------------------
    def place_all(self, requests: list[PlacementRequest]) -> list[PlacementDecision]:
        """Place requests in order; each placement sees the ones before it."""
        return [self.place(request) for request in requests]

    def place(self, request: PlacementRequest) -> PlacementDecision:
        candidates = self._candidates(request)
        if not candidates:
            return PlacementDecision(
                service=request.service.name,
                slot=request.slot,
                host=None,
                rejected=self._rejections(request, exclude=None, full=True),
                canary=request.canary,
            )
        best = min(candidates, key=lambda c: (-c[0], c[1]))  # highest score, then name
        host = self.by_name[best[1]]
        small = self.small
        ranked = sorted(candidates, key=lambda c: (-c[0], c[1])) if small else [best]
        decision = PlacementDecision(
            service=request.service.name,
            slot=request.slot,
            host=host.name,
            scores=tuple((name, round(score, 1)) for score, name in ranked[:5]),
            rejected=self._rejections(request, exclude=host.name, full=small),
            canary=request.canary,
        )
        self._commit(host, request.service)
        return decision

    def _candidates(self, request: PlacementRequest) -> list[tuple[float, str]]:
        """The hosts worth scoring: every host that already runs this service, plus the
        emptiest host without it per zone (all such hosts score alike but for fullness).
        On small clusters simply every host that passes the filters."""
        service = request.service
        if self.small or request.pinned_host is not None:
            pool: Iterable[HostState] = self.hosts
        else:
            pool = self._short_list(request)
        out: list[tuple[float, str]] = []
        for host in pool:
            if self.rejection(host, request) is None:
                out.append((self.score(host, service), host.name))
        return out

    def _short_list(self, request: PlacementRequest) -> list[HostState]:
        service = request.service
        chosen = [self.by_name[n] for n in sorted(self.ledger.hosts_of[service.name])]
        binpack = service.placement is Placement.binpack
        for order in self.ledger.zone_order.values():
            found: float | None = None
            for fullness, name in reversed(order) if binpack else order:
                if found is not None and fullness != found:
                    break  # binpack walks backwards: take every host tying with the first fit
                if self.ledger.per_service.get((name, service.name)):
                    continue
                host = self.by_name[name]
                if self.rejection(host, request) is None:
                    chosen.append(host)
                    if not binpack:
                        break  # sorted by (fullness, name): the first fit wins its zone
                    found = fullness
        return chosen

    def rejection(self, host: HostState, request: PlacementRequest) -> str | None:
        return self.static_rejection(host, request) or self.dynamic_rejection(host, request)

    def _rejections(
        self, request: PlacementRequest, *, exclude: str | None, full: bool
    ) -> tuple[Rejection, ...]:
        if not full:
            return ()
        out = []
        for host in self.hosts:
            if host.name == exclude:
                continue
            reason = self.rejection(host, request)
            if reason is not None:
                out.append(Rejection(host.name, reason))
        return tuple(out)

    def _commit(self, host: HostState, service: DesiredService) -> None:
        self.ledger.remove_order(host, self.used_fraction(host))
        self.ledger.add(host, service.name, service.requests)
        self.ledger.insert_order(host, self.used_fraction(host))


def pod_usage(pods: Iterable[ActualPod]) -> Resources:
    """Total requests of some pods."""
    total = Resources()
    for pod in pods:
        total = total + pod.requests
    return total
