"""Runs one wave of a Plan on the hosts: hosts in parallel, drain before stop.

The executor is the only place (besides the lab) with side effects on hosts.
Every action is idempotent with respect to what the next observation shows:
a create that dies halfway leaves an incomplete pod that the next plan
restarts; a remove that dies halfway leaves a pod the next plan removes again.

Order inside a wave: pods that are about to stop (removals, restarts) first
leave the load balancer and drain; then removals, restarts and creates run
concurrently, except that a create waits for the removals it names in
`after` (a stateful replica's volume must be free before its new pod starts).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fleet.desired import Target
from fleet.errors import FleetError, RemoteCommandError
from fleet.journal import Journal
from fleet.model import (
    Action,
    ActionKind,
    ActualPod,
    ClusterState,
    DesiredService,
    PodHealth,
    container_name,
    scratch_volume_name,
)
from fleet.pods import Endpoint, PodPlacement, pod_containers
from fleet.remote.engine import Engine
from fleet.spec.blueprint import Blueprint, Deployment
from fleet.spec.inventory import Inventory

# the actions that stop a running pod (the load balancer must let go of it first)
STOPS = (ActionKind.remove, ActionKind.restart)


class Drainer(Protocol):
    """The load balancer's part in a wave (fleet.lb implements it; a no-op without lb)."""

    async def drain(
        self,
        cluster: ClusterState,
        pods: set[str],
        health: Mapping[str, PodHealth],
        desired: Sequence[DesiredService],
    ) -> None:
        """Take these pods out of every backend (the other ready pods, by `health`, stay)
        and return once their connections are done (or a bounded wait is up)."""
        ...


class NoDrain:
    async def drain(
        self,
        cluster: ClusterState,
        pods: set[str],
        health: Mapping[str, PodHealth],
        desired: Sequence[DesiredService],
    ) -> None:
        return None


@dataclass(frozen=True)
class ActionResult:
    action: Action
    ok: bool
    error: str = ""
    seconds: float = 0.0


@dataclass
class Runtime:
    """What executing actions needs, built once per run."""

    inventory: Inventory
    engine: Engine
    blueprint: Blueprint
    journal: Journal
    targets: dict[tuple[str, str], Target]
    # pod templates of other revisions still running (canary stable, pinned), by (name, rev)
    history: dict[tuple[str, str], Deployment] = field(default_factory=dict)
    endpoints: dict[str, list[Endpoint]] = field(default_factory=dict)  # by app
    drainer: Drainer = field(default_factory=NoDrain)
    # the observation's readiness: a drain keeps every other ready pod in the backends
    health: Mapping[str, PodHealth] = field(default_factory=dict)
    on_result: Callable[[ActionResult], None] | None = None

    def deployment(self, action: Action) -> Deployment:
        target = self.targets[(action.app, action.service)]
        if action.revision == target.service.revision:
            return target.deployment
        earlier = self.history.get((action.service, action.revision))
        if earlier is None:
            raise FleetError(
                f"{action.pod}: no pod template for revision {action.revision} "
                "(the local store lost it); change the blueprint or run `fleet apply` again"
            )
        return earlier


def find_pod(cluster: ClusterState, action: Action) -> ActualPod | None:
    host = cluster.hosts.get(action.host)
    if host is None:
        return None
    return next((p for p in host.pods if p.name == action.pod and p.app == action.app), None)


async def run_wave(
    rt: Runtime, cluster: ClusterState, actions: Sequence[Action]
) -> list[ActionResult]:
    """Execute actions concurrently (the pool keeps each host under its session limit)."""
    stopping = draining(cluster, actions)
    if stopping:
        desired = [t.service for t in rt.targets.values()]
        await rt.drainer.drain(cluster, stopping, rt.health, desired)
    removed: dict[str, asyncio.Event] = {
        a.key: asyncio.Event() for a in actions if a.kind is ActionKind.remove
    }

    async def one(action: Action) -> ActionResult:
        started = time.monotonic()
        try:
            for pod in action.after:
                if pod in removed:
                    await removed[pod].wait()
            await _ACTIONS[action.kind](rt, cluster, action)
            result = ActionResult(action, True, seconds=time.monotonic() - started)
        except FleetError as exc:
            result = ActionResult(action, False, str(exc), time.monotonic() - started)
        finally:
            if action.kind is ActionKind.remove:
                removed[action.key].set()
        _record(rt, result)
        return result

    return list(await asyncio.gather(*(one(a) for a in actions)))


def draining(cluster: ClusterState, actions: Sequence[Action]) -> set[str]:
    """Keys of the pods to take out of the load balancer before the wave stops them.

    Not a key whose other copy stays (a host that answers again still runs the pod that
    was rescheduled while it was gone; both have one name): the load balancer names
    servers by pod, so draining the copy that goes would drain the one that stays."""
    stops = {(a.host, a.key) for a in actions if a.kind in STOPS}
    stays = {
        p.key for h in cluster.reachable_hosts() for p in h.pods if (h.name, p.key) not in stops
    }
    return {key for _, key in stops if key not in stays}


def _record(rt: Runtime, result: ActionResult) -> None:
    action = result.action
    verb = {"create": "created", "remove": "removed", "restart": "restarted"}[action.kind.value]
    message = (
        f"{verb} {action.pod} on {action.host} ({action.reason})"
        if result.ok
        else f"failed to {action.kind.value} {action.pod} on {action.host}: {result.error}"
    )
    rt.journal.event(
        action.kind.value if result.ok else "failed",
        message,
        host=action.host,
        app=action.app,
        service=action.service,
        replica=action.replica,
    )
    if rt.on_result is not None:
        rt.on_result(result)


# -- the three actions ----------------------------------------------------------------------


async def _create(rt: Runtime, cluster: ClusterState, action: Action) -> None:
    deployment = rt.deployment(action)
    host = rt.inventory.host(action.host)
    where = PodPlacement(
        app=action.app,
        service=action.service,
        slot=action.slot,
        revision=action.revision,
        host=host.name,
        host_address=host.address,
        canary=action.canary,
    )
    specs = pod_containers(where, deployment, rt.blueprint, rt.endpoints.get(action.app, []))
    for spec in specs:
        try:
            await rt.engine.run(host.name, spec)
        except RemoteCommandError as exc:
            if "already in use" not in exc.stderr:
                raise
            # a leftover of a run killed halfway: the name is ours (same pod, same revision)
            await rt.engine.remove(host.name, [spec.name], force=True)
            await rt.engine.run(host.name, spec)


async def _remove(rt: Runtime, cluster: ClusterState, action: Action) -> None:
    pod = find_pod(cluster, action)
    if pod is None:
        return  # already gone
    grace = _grace(rt, action)
    names = [c.name for c in reversed(pod.containers)]  # sidecars before the main container
    scratch = sorted(
        v for v in pod.volumes if v.startswith(scratch_volume_name(action.app, pod.name, ""))
    )
    await rt.engine.stop_and_remove(action.host, names, grace=grace, volumes=scratch)


async def _restart(rt: Runtime, cluster: ClusterState, action: Action) -> None:
    pod = find_pod(cluster, action)
    if pod is not None and not pod.complete:
        await _remove(rt, cluster, action)
        await _create(rt, cluster, action)
        return
    names = [c.name for c in pod.containers] if pod else [container_name(action.app, action.pod)]
    await rt.engine.restart(action.host, names, grace=_grace(rt, action))


def _grace(rt: Runtime, action: Action) -> int:
    target = rt.targets.get((action.app, action.service))
    if target is None:
        return 30
    return int(target.service.termination_grace_period_seconds)


_ACTIONS: dict[ActionKind, Callable[[Runtime, ClusterState, Action], Awaitable[None]]] = {
    ActionKind.create: _create,
    ActionKind.remove: _remove,
    ActionKind.restart: _restart,
}
