"""One reconcile: observe every host, check health, plan, act; apply and heal share it.

    observe (one round trip per host) -> health (probes) -> targets (blueprints
    + journal) -> plan (pure) -> run wave 1 -> observe again ... until converged

`fleet apply` loops until every service is converged, waiting for readiness
between waves and giving up on a service after its progressDeadlineSeconds
(then rolling it back to the revision that ran before, by default).
`fleet heal` runs one pass: the same steps, one wave, no waiting.

What a run records in the journal on the way (rollouts, deadlines and rollbacks,
back-off, reasons to wait, placements) is kept by fleet.rollouts (`Reconciler.rollouts`).

Journal scopes used here (fleet.journal facts):
    snapshot/<host>     last observation of a host (stands in while it is unreachable)
    unreachable/<host>  since when a host has not answered
    deployed/<service>  the revision the service last converged at (rollback target)
    rollout/<service>   {revision, started} of the rollout in progress
    pin/<service>       {revision, while, reason}: rollout undo / automatic rollback
    canary/<service>    {stable}: revision the stable replicas keep while a canary is out
    autoscale/<service> {replicas, ...}: the autoscaler's count
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fleet.desired import Override, Target, targets
from fleet.errors import FleetError, RemoteTimeout
from fleet.execute import STOPS, ActionResult, Drainer, NoDrain, Runtime, run_wave
from fleet.journal import Journal
from fleet.model import (
    Action,
    ActionKind,
    ClusterState,
    DesiredService,
    HostState,
    PodHealth,
)
from fleet.observed import Observed, Outcome
from fleet.plan import PlanInput, plan
from fleet.pods import Endpoint
from fleet.remote.engine import Engine
from fleet.remote.ssh import SSHPool
from fleet.rollouts import Rollouts
from fleet.rollup import ServiceRollup, is_available
from fleet.spec.blueprint import Blueprint, Deployment
from fleet.spec.inventory import Inventory
from fleet.spec.service import listen_port
from fleet.state import host_state, snapshot

POLL_SECONDS = 0.5
OBSERVE_TIMEOUT = 10.0  # connect (5 s by default) plus one `docker ps`/`inspect` round trip


class HealthChecker(Protocol):
    """Turns observed pods into readiness/liveness (fleet.probe implements the real one)."""

    async def check(
        self, cluster: ClusterState, targets: Mapping[tuple[str, str], Target], *, gate: bool
    ) -> dict[str, PodHealth]: ...


class RunningIsReady:
    """Without probes a running pod counts as ready from the moment it started."""

    async def check(
        self, cluster: ClusterState, targets: Mapping[tuple[str, str], Target], *, gate: bool
    ) -> dict[str, PodHealth]:
        return {
            p.key: PodHealth(ready=p.running, ready_since=p.started_at)
            for h in cluster.reachable_hosts()
            for p in h.pods
        }


class LoadBalancer(Protocol):
    # problems of this run (a config HAProxy rejected, a failed reload), for the operator
    errors: list[str]

    async def sync(
        self,
        cluster: ClusterState,
        health: Mapping[str, PodHealth],
        desired: Sequence[DesiredService] = (),
    ) -> None: ...


class NoLoadBalancer:
    def __init__(self) -> None:
        self.errors: list[str] = []  # never any: nothing to balance

    async def sync(
        self,
        cluster: ClusterState,
        health: Mapping[str, PodHealth],
        desired: Sequence[DesiredService] = (),
    ) -> None:
        return None


@dataclass
class Reconciler:
    inventory: Inventory
    blueprint: Blueprint
    pool: SSHPool
    engine: Engine
    journal: Journal
    health_checker: HealthChecker = field(default_factory=RunningIsReady)
    load_balancer: LoadBalancer = field(default_factory=NoLoadBalancer)
    drainer: Drainer = field(default_factory=NoDrain)
    # heal: reschedule the replicas of hosts unreachable for longer than this
    lost_after: float | None = None
    # observing a host is one quick round trip; longer means it does not answer
    observe_timeout: float = OBSERVE_TIMEOUT
    say: Callable[[str], None] = lambda line: None
    on_result: Callable[[ActionResult], None] | None = None
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.file_revisions = {
            name: self.blueprint.revision(d) for name, d in self.blueprint.deployments.items()
        }
        self.apps = frozenset(self.blueprint.apps)
        # reads `say` at each line: the CLI replaces it after the reconciler is built
        self.rollouts = Rollouts(self.journal, lambda line: self.say(line), self.apps)

    # -- observe ----------------------------------------------------------------------------
    async def observe_cluster(self) -> ClusterState:
        """Every host at once; an unreachable host keeps its last known contents."""
        hosts = [h.name for h in self.inventory]
        states = await asyncio.gather(*(self.observe_host(h) for h in hosts))
        return ClusterState(hosts=dict(zip(hosts, states, strict=True)), observed_at=self.clock())

    async def observe_host(self, name: str) -> HostState:
        """One host in one round trip, remembered in the journal for when it does not answer."""
        host = self.inventory.host(name)
        asked = self.clock()  # the grace period counts from the first question unanswered
        try:
            # connecting is bounded by the host's connect timeout, the round trip by what
            # is left of observe_timeout: on a connection whose peer vanished (link down,
            # nothing answers) the command is given up as soon as a fresh connect would be
            await self.pool.connect(name)
            round_trip = max(1.0, self.observe_timeout - host.connect_timeout)
            seen = await self.engine.observe(name, timeout=round_trip)
        except FleetError as exc:
            if isinstance(exc, RemoteTimeout):
                # a connection whose peer vanished (link down) hangs every command until
                # keepalives give up: drop it, so the next look connects afresh (bounded)
                self.pool.reset(name)
            reason = getattr(exc, "message", str(exc))
            if self.journal.get("unreachable", name) is None:
                self.journal.put("unreachable", name, asked)
                self.journal.event("unreachable", f"{name}: {reason}", host=name)
            remembered = self.journal.get("snapshot", name)
            return host_state(host, None, error=reason, remembered=remembered)
        volumes = seen.volumes
        if not seen.volumes_read:  # not listed this time (no use in this run): keep the last list
            volumes = tuple((self.journal.get("snapshot", name) or {}).get("volumes", ()))
        state = host_state(host, seen, volumes=volumes, cordon=seen.cordon)
        if self.journal.get("unreachable", name) is not None:
            self.journal.delete("unreachable", name)
            self.journal.event("reachable", f"{name} answers again", host=name)
        self.journal.put("snapshot", name, snapshot(state))
        return state

    # -- desired ----------------------------------------------------------------------------
    def overrides(self) -> dict[str, Override]:
        pins = self.journal.scope("pin")
        scale = self.journal.scope("autoscale")
        out = {}
        for name in self.blueprint.deployments:
            pin = pins.get(name) or {}
            out[name] = Override(
                pin_revision=pin.get("revision"),
                pinned_while=pin.get("while"),
                pin_reason=pin.get("reason", ""),
                replicas=(scale.get(name) or {}).get("replicas"),
                stable_revision=self.canary_stable(name),
            )
        return out

    def canary_stable(self, name: str) -> str | None:
        """For a Canary service: the revision its stable replicas keep, None when no canary.

        A canary starts when the file asks for another revision than the one the
        service last converged at; `rollout promote` ends it (the stable
        replicas then roll), `rollout abort` pins the service back.
        """
        deployment = self.blueprint.deployments[name]
        if deployment.spec.strategy.type != "Canary":
            return None
        record = self.journal.get("canary", name)
        file_rev = self.file_revisions[name]
        if record is not None and record.get("canary") == file_rev:
            return None if record.get("promoted") else record.get("stable")
        deployed = self.journal.get("deployed", name)
        return deployed if deployed and deployed != file_rev else None

    def history(self) -> dict[tuple[str, str], Deployment]:
        """Pod templates of earlier revisions (pins, canary stable), from the journal."""
        out: dict[tuple[str, str], Deployment] = {}
        for name, deployment in self.blueprint.deployments.items():
            for rev in self.journal.revisions(deployment.app, name):
                try:
                    out[(name, rev.revision)] = Deployment.model_validate(rev.spec)
                except ValueError:
                    continue  # written by another fleet version: not usable
        return out

    def endpoints(self) -> dict[str, list[Endpoint]]:
        """Service name -> load-balancer address and port, per application."""
        lbs = self.inventory.lb_hosts
        if not lbs:
            return {}
        address = lbs[0].address
        out: dict[str, list[Endpoint]] = {}
        for service in self.blueprint.services.values():
            port = service.spec.ports[0]
            out.setdefault(service.app, []).append(
                Endpoint(service.name, address, listen_port(service.spec.type, port))
            )
        return out

    # -- one look at the cluster -----------------------------------------------------------------
    async def look(self, *, gate: bool = False) -> Observed:
        cluster = await self.observe_cluster()
        return await self.assess(cluster, gate=gate)

    def replan(self, observed: Observed) -> Observed:
        """Plan again over the same observation (after the journal changed, e.g. autoscale)."""
        history = self.history()
        chosen = self._targets(history)
        inp = self._plan_input(observed.cluster, observed.health, chosen, observed.now)
        return Observed(observed.cluster, observed.health, chosen, history, plan(inp), observed.now)

    async def assess(self, cluster: ClusterState, *, gate: bool = False) -> Observed:
        """Health, targets and plan for an observed cluster."""
        history = self.history()
        chosen = self._targets(history)
        health = await self.health_checker.check(cluster, chosen, gate=gate)
        now = self.clock()
        inp = self._plan_input(cluster, health, chosen, now)
        return Observed(cluster, health, chosen, history, plan(inp), now)

    def _targets(
        self, history: Mapping[tuple[str, str], Deployment]
    ) -> dict[tuple[str, str], Target]:
        """Every Deployment's target by (app, service), as the journal has them now."""
        return {
            (t.service.app, t.service.name): t
            for t in targets(self.blueprint, self.file_revisions, self.overrides(), history)
        }

    def _plan_input(
        self,
        cluster: ClusterState,
        health: dict[str, PodHealth],
        chosen: dict[tuple[str, str], Target],
        now: float,
    ) -> PlanInput:
        lost = frozenset(
            name
            for name, since in self.journal.scope("unreachable").items()
            if self.lost_after is not None and now - float(since) >= self.lost_after
        )
        return PlanInput(
            services=tuple(t.service for t in chosen.values()),
            apps=self.apps,
            cluster=cluster,
            health=health,
            now=now,
            lost_hosts=lost,
            backoff_until=self.rollouts.backoff_until(),
        )

    # -- acting --------------------------------------------------------------------------------
    def runtime(self, observed: Observed) -> Runtime:
        return Runtime(
            inventory=self.inventory,
            engine=self.engine,
            blueprint=self.blueprint,
            journal=self.journal,
            targets=observed.targets,
            history=observed.history,
            endpoints=self.endpoints(),
            drainer=self.drainer,
            health=observed.health,
            on_result=self.on_result,
        )

    async def converge(self, first: Observed, *, max_seconds: float | None = None) -> Outcome:
        """apply: wave after wave until converged, stuck, or past the deadlines."""
        outcome = Outcome(converged=False)
        observed = first
        skip: set[tuple[str, str, str]] = set()  # (kind, host, pod) that failed in this run
        budget = (
            max_seconds
            or max([t.service.progress_deadline_seconds for t in first.targets.values()] or [60.0])
            + 30.0
        )
        started = self.clock()
        self.rollouts.record_rollouts(observed)
        while True:
            wave = [a for a in observed.plan.first_wave() if _key(a) not in skip]
            if wave and self.load_balancer.errors and _stops(wave):
                # HAProxy kept its old config: it may still send requests to these pods
                outcome.stuck.append(
                    "replicas are not stopped while the load balancer runs an old config"
                )
                break
            if wave:
                self.say(_describe_wave(wave))
                self.rollouts.record_placements(observed, wave)
                results = await run_wave(self.runtime(observed), observed.cluster, wave)
                outcome.results.extend(results)
                skip.update(_key(r.action) for r in results if not r.ok)
                self.rollouts.note_restarts(results, self.clock())
            else:
                if observed is first:  # later observations were synced right after their look
                    await self.load_balancer.sync(
                        observed.cluster, observed.health, observed.desired
                    )
                self.rollouts.record_converged(observed)
                rollups = observed.rollups()
                if all(r.converged for r in rollups):
                    outcome.converged = not observed.unreachable
                    break
                outcome.failed_rollouts.extend(self.rollouts.check_deadlines(observed))
                waiting = [r for r in rollups if not r.converged and self._progressing(r, observed)]
                if not waiting or self.clock() - started > budget:
                    outcome.stuck = [
                        f"{r.name}: {r.progress}" for r in rollups if not r.converged
                    ] + list(observed.plan.waiting)
                    break
                await asyncio.sleep(POLL_SECONDS)
            observed = await self.look(gate=True)
            self.rollouts.record_rollouts(observed)
            await self.load_balancer.sync(observed.cluster, observed.health, observed.desired)
        outcome.last = observed
        outcome.unreachable = [h.name for h in observed.unreachable]
        # an lb host that would not take the new config (rejected by `haproxy -c`, failed
        # reload) still serves the old servers: the run is not done, say why (exit 3)
        lb_errors = list(self.load_balancer.errors)
        if lb_errors:
            outcome.converged = False
            outcome.stuck.extend(lb_errors)
        return outcome

    def _progressing(self, roll: ServiceRollup, observed: Observed) -> bool:
        """Waiting may still help: a reachable pod at the target revision is not available
        yet, and the rollout is within its progressDeadlineSeconds (pods on unreachable
        hosts do not count: waiting does not bring a host back)."""
        target = observed.targets[(roll.app, roll.name)].service
        rollout = self.journal.get("rollout", roll.name) or {}
        if rollout.get("revision") == target.revision:
            started = float(rollout.get("started", observed.now))
            if observed.now - started > target.progress_deadline_seconds:
                return False
        for host in observed.cluster.reachable_hosts():
            for pod in host.pods:
                if pod.app != roll.app or pod.service != roll.name:
                    continue
                if pod.revision != roll.revision or pod.slot >= target.replicas:
                    continue
                if not is_available(pod, observed.health, observed.now, target.min_ready_seconds):
                    return True
        return False

    async def heal_pass(self, observed: Observed, *, ready_wait: float = 0.0) -> Outcome:
        """heal: one wave of repairs, then a look at what it left (HAProxy follows that
        look, not the one before the wave), waiting up to `ready_wait` seconds for the pods
        it started to be ready, so the load balancer routes to them in this pass."""
        outcome = Outcome(converged=False)
        self.rollouts.record_rollouts(observed)
        self.rollouts.forget_recovered(observed)
        self.rollouts.note_waiting(observed)
        wave = list(observed.plan.first_wave())
        if wave:
            self.rollouts.record_placements(observed, wave)
            outcome.results = await run_wave(self.runtime(observed), observed.cluster, wave)
            # back-off counts from when the restarts happened, not from the look before them
            self.rollouts.note_restarts(outcome.results, self.clock())
            observed = await self._settle(outcome.results, ready_wait)
        self.rollouts.check_deadlines(observed)
        self.rollouts.record_converged(observed)
        await self.load_balancer.sync(observed.cluster, observed.health, observed.desired)
        outcome.last = observed
        outcome.unreachable = [h.name for h in observed.unreachable]
        outcome.converged = not wave and not outcome.unreachable
        return outcome

    async def _settle(self, results: Sequence[ActionResult], ready_wait: float) -> Observed:
        """Look again after a wave; while pods it started are running but not ready yet,
        and for at most `ready_wait` seconds, look again (probes polled)."""
        started = {
            (r.action.host, r.action.key)
            for r in results
            if r.ok and r.action.kind in (ActionKind.create, ActionKind.restart)
        }
        deadline = self.clock() + ready_wait
        while True:
            latest = await self.look(gate=True)
            if settled(latest, started) or self.clock() >= deadline:
                return latest
            await asyncio.sleep(POLL_SECONDS)


def settled(observed: Observed, started: Collection[tuple[str, str]]) -> bool:
    """Every (host, pod key) a wave started is ready, or is gone or not running (waiting
    would not help: the next pass sees to it)."""
    pods = {(h.name, p.key): p for h in observed.cluster.reachable_hosts() for p in h.pods}
    for where in started:
        pod = pods.get(where)
        if pod is None or not pod.running:
            continue
        health = observed.health.get(pod.key)
        if health is None or not health.ready:
            return False
    return True


def _stops(wave: Sequence[Action]) -> bool:
    return any(a.kind in STOPS for a in wave)


def _key(action: Action) -> tuple[str, str, str]:
    return (action.kind.value, action.host, action.key)


def _describe_wave(wave: Sequence[Action]) -> str:
    counts: dict[str, int] = {}
    for action in wave:
        counts[action.kind.value] = counts.get(action.kind.value, 0) + 1
    return "wave: " + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
