"""The cluster after a wave ran, for planning the waves after it (pure).

`fleet.plan.plan()` executes nothing past wave 1; to show the whole rollout it plans
wave 2 over the state wave 1 would leave (every new or restarted pod ready), and so on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING

from fleet.model import (
    Action,
    ActionKind,
    ActualContainer,
    ActualPod,
    ClusterState,
    ContainerState,
    HostState,
    Plan,
    PodHealth,
    volume_name,
)

if TYPE_CHECKING:  # fleet.plan imports this module
    from fleet.plan import PlanInput


def simulate(inp: PlanInput, done: Plan) -> PlanInput:
    """The state after `done` ran, every new or restarted pod became ready, and
    enough time passed for minReadySeconds and back-offs to expire."""
    removed = {(a.host, a.key) for a in done.actions if a.kind is ActionKind.remove}
    restarted = {(a.host, a.key) for a in done.actions if a.kind is ActionKind.restart}
    services = {(s.app, s.name): s for s in inp.services}
    later = inp.now + 1 + max((s.min_ready_seconds for s in inp.services), default=0.0)
    health = dict(inp.health)
    creates: dict[str, list[Action]] = defaultdict(list)  # by host: one pass over the actions
    for action in done.actions:
        if action.kind is ActionKind.create:
            creates[action.host].append(action)
    hosts: dict[str, HostState] = {}
    for name, host in inp.cluster.hosts.items():
        pods = [p for p in host.pods if (name, p.key) not in removed]
        for i, pod in enumerate(pods):
            if (name, pod.key) in restarted:
                pods[i] = replace(pod, containers=tuple(_running(c) for c in pod.containers))
                health[pod.key] = PodHealth(ready=True, ready_since=inp.now)
        volumes = set(host.volumes)
        for action in creates.get(name, ()):
            service = services[(action.app, action.service)]
            pod = ActualPod(
                host=name,
                app=action.app,
                service=action.service,
                slot=action.slot,
                revision=action.revision,
                canary=action.canary,
                containers=(ActualContainer("simulated", "main", ContainerState.running),),
                requests=service.requests,
                created_at=inp.now,
            )
            pods.append(pod)
            health[pod.key] = PodHealth(ready=True, ready_since=inp.now)
            if not action.canary:
                volumes.update(
                    volume_name(pod.app, pod.service, pod.slot, v)
                    for v in service.persistent_volumes
                )
        hosts[name] = replace(host, pods=tuple(pods), volumes=tuple(sorted(volumes)))
    return replace(
        inp,
        cluster=ClusterState(hosts=hosts, observed_at=inp.cluster.observed_at),
        health=health,
        now=later,
    )


def _running(container: ActualContainer) -> ActualContainer:
    return replace(container, state=ContainerState.running)
