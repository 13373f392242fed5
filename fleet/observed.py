"""What one look at the cluster saw (`Observed`) and what a reconcile did (`Outcome`).

Plain data shared by the reconcile loop (fleet.reconcile), its journal bookkeeping
(fleet.rollouts) and the commands and UI that show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet.desired import Target
from fleet.execute import ActionResult
from fleet.model import ClusterState, DesiredService, HostState, Plan, PodHealth
from fleet.rollup import ServiceRollup, rollup
from fleet.spec.blueprint import Deployment


@dataclass
class Observed:
    cluster: ClusterState
    health: dict[str, PodHealth]
    targets: dict[tuple[str, str], Target]
    history: dict[tuple[str, str], Deployment]
    plan: Plan
    now: float

    @property
    def desired(self) -> list[DesiredService]:
        return [t.service for t in self.targets.values()]

    @property
    def unreachable(self) -> list[HostState]:
        return [h for h in self.cluster.hosts.values() if not h.reachable]

    def rollups(self) -> list[ServiceRollup]:
        return [
            rollup(t.service, self.cluster, self.health, self.now) for t in self.targets.values()
        ]


@dataclass
class Outcome:
    converged: bool
    results: list[ActionResult] = field(default_factory=list)
    failed_rollouts: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)  # services that could not finish, and why
    last: Observed | None = None

    @property
    def failures(self) -> list[ActionResult]:
        return [r for r in self.results if not r.ok]
