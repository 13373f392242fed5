"""The shared state of one plan step (pure): the actions so far, the pods removed, and
the creates, placed together by the scheduler at the end of the step (fleet.schedule).
`fleet.plan.step()` fills it, one service at a time (fleet.service_plan).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fleet.model import (
    Action,
    ActionKind,
    ActualPod,
    Bucket,
    HostState,
    PlacementDecision,
    PodHealth,
)
from fleet.schedule import PlacementRequest, Scheduler

if TYPE_CHECKING:  # fleet.plan imports this module
    from fleet.plan import PlanInput


@dataclass
class Create:
    """A new pod the step asks for; the scheduler places all of them at the end."""

    request: PlacementRequest
    revision: str
    bucket: Bucket
    reason: str
    after: tuple[str, ...] = ()


class StepContext:
    def __init__(self, inp: PlanInput) -> None:
        self.inp = inp
        self.actions: list[Action] = []
        self.creates: list[Create] = []
        self.placements: list[PlacementDecision] = []
        self.pending: list[PlacementDecision] = []
        self.waiting: list[str] = []
        self.removed: set[str] = set()
        ready = self._services_with_a_ready_pod()
        self.ready_services = {s.name for s in inp.services if (s.app, s.name) in ready}

    def _services_with_a_ready_pod(self) -> set[tuple[str, str]]:
        """(app, service) of every service with a ready pod: one pass over all pods (not one
        per service: 1,000 services on 1,000 hosts would be 10^7 pod visits)."""
        found: set[tuple[str, str]] = set()
        for host in self.inp.cluster.reachable_hosts():
            for pod in host.pods:
                key = (pod.app, pod.service)
                if key not in found and self.available(pod):
                    found.add(key)
        return found

    def host(self, name: str) -> HostState:
        return self.inp.cluster.hosts[name]

    def health(self, pod: ActualPod) -> PodHealth:
        return self.inp.health.get(pod.key) or PodHealth(ready=pod.running)

    def ready(self, pod: ActualPod) -> bool:
        return pod.running and self.health(pod).ready

    def available(self, pod: ActualPod, min_ready_seconds: float = 0.0) -> bool:
        """Ready, and ready for long enough (minReadySeconds)."""
        if not self.ready(pod):
            return False
        since = self.health(pod).ready_since
        return min_ready_seconds <= 0 or (
            since is not None and self.inp.now - since >= min_ready_seconds
        )

    def remove(self, pod: ActualPod, bucket: Bucket, reason: str, *, copy: bool = False) -> None:
        """`copy`: another copy of the pod (same key, another host) stays, so the key is
        still in use and does not count as removed."""
        if not copy:
            if pod.key in self.removed:
                return
            self.removed.add(pod.key)
        self.actions.append(_pod_action(ActionKind.remove, pod, bucket, reason))

    def restart(self, pod: ActualPod, reason: str) -> None:
        self.actions.append(_pod_action(ActionKind.restart, pod, Bucket.unhealthy, reason))

    def place_creates(self) -> None:
        if not self.creates:
            return
        scheduler = Scheduler(self.inp.cluster.hosts.values(), ignore_pods=self.removed)
        requests = [c.request for c in self.creates]
        for create, decision in zip(self.creates, scheduler.place_all(requests), strict=True):
            if decision.host is None:
                self.pending.append(decision)
                continue
            self.placements.append(decision)
            request = create.request
            self.actions.append(
                Action(
                    kind=ActionKind.create,
                    host=decision.host,
                    app=request.service.app,
                    service=request.service.name,
                    slot=request.slot,
                    revision=create.revision,
                    bucket=create.bucket,
                    reason=create.reason,
                    canary=request.canary,
                    after=create.after,
                )
            )


def _pod_action(kind: ActionKind, pod: ActualPod, bucket: Bucket, reason: str) -> Action:
    """An action on an existing pod (remove, restart)."""
    return Action(
        kind=kind,
        host=pod.host,
        app=pod.app,
        service=pod.service,
        slot=pod.slot,
        revision=pod.revision,
        bucket=bucket,
        reason=reason,
        canary=pod.canary,
    )
