"""Per-service counts like `kubectl get deploy`: desired, ready, up-to-date, available (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fleet.model import ActualPod, ClusterState, DesiredService, PodHealth


@dataclass(frozen=True)
class ServiceRollup:
    app: str
    name: str
    desired: int
    current: int  # pods of the service on reachable hosts
    ready: int
    up_to_date: int  # at the target revision
    available: int  # at the target revision, ready for minReadySeconds
    revision: str
    lost: int = 0  # pods on unreachable hosts
    canary: int = 0  # canary pods (any revision)
    canary_settled: bool = True  # as many available canary pods as wanted (none without canary)

    @property
    def converged(self) -> bool:
        """Exactly `desired` pods, all at the target revision and available."""
        steady = self.current == self.up_to_date == self.available == self.desired
        return steady and not self.lost and self.canary_settled

    @property
    def progress(self) -> str:
        if self.converged:
            return f"{self.available}/{self.desired} at {self.revision}"
        return f"rolling {self.available}/{self.desired} to {self.revision}"


def is_available(
    pod: ActualPod, health: Mapping[str, PodHealth], now: float, min_ready_seconds: float
) -> bool:
    h = health.get(pod.key) or PodHealth(ready=pod.running, ready_since=pod.started_at)
    if not (pod.running and h.ready):
        return False
    if min_ready_seconds <= 0:
        return True
    return h.ready_since is not None and now - h.ready_since >= min_ready_seconds


def rollup(
    service: DesiredService,
    cluster: ClusterState,
    health: Mapping[str, PodHealth],
    now: float,
) -> ServiceRollup:
    """Count one service's stable replicas (canary pods are counted apart)."""
    target = (
        service.stable_revision
        if service.canary_active and service.stable_revision
        else service.revision
    )
    mine = [
        (h.reachable, p)
        for h in cluster.hosts.values()
        for p in h.pods
        if p.app == service.app and p.service == service.name
    ]
    stable = [p for reachable, p in mine if reachable and not p.canary]
    in_range = [p for p in stable if p.slot < service.replicas]
    current = [p for p in in_range if p.revision == target]
    canaries = [p for reachable, p in mine if reachable and p.canary]
    if service.canary_active:
        settled = len(canaries) == service.canary_replicas and all(
            p.revision == service.revision and is_available(p, health, now, 0) for p in canaries
        )
    else:
        settled = not canaries
    return ServiceRollup(
        app=service.app,
        name=service.name,
        desired=service.replicas,
        current=len(stable),
        ready=sum(1 for p in stable if is_available(p, health, now, 0)),
        up_to_date=len({p.slot for p in current}),
        available=len(
            {p.slot for p in current if is_available(p, health, now, service.min_ready_seconds)}
        ),
        revision=target,
        lost=sum(1 for reachable, _ in mine if not reachable),
        canary=len(canaries),
        canary_settled=settled,
    )
