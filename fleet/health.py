"""Probes decide readiness and liveness; HAProxy follows readiness; pods drain before stop.

This is where the reconcile loop meets fleet.probe and fleet.lb:

- `ProbeHealth` runs the probes that are due (all readiness probes while an
  apply waits for a wave), carries each pod's probe state between runs in the
  journal (scope `probe`, by pod key) so liveness failures count across cron
  passes, and records every readiness/liveness transition as an event.
- `HAProxySync` renders the lb hosts' config from the ready replicas, keeps the
  frontends of applications not in this run, and installs it only when it
  changed (`haproxy -c` first; a rejected config never replaces the running
  one). As the drainer it takes stopping pods out of every backend and waits
  for HAProxy's old workers to finish their connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fleet.desired import Target
from fleet.errors import HAProxyConfigError, RemoteError
from fleet.journal import Journal
from fleet.model import ActualPod, ClusterState, DesiredService, PodHealth
from fleet.probe import ProbeState, health
from fleet.probe.runner import ProbeTarget, check_pods
from fleet.reconcile import Reconciler
from fleet.remote.engine import Engine
from fleet.remote.ssh import SSHPool

SCOPE = "probe"


@dataclass
class ProbeHealth:
    pool: SSHPool
    engine: Engine
    journal: Journal

    async def check(
        self, cluster: ClusterState, targets: Mapping[tuple[str, str], Target], *, gate: bool
    ) -> dict[str, PodHealth]:
        probe_targets, out = choose_targets(cluster, targets)
        stored = self.journal.scope(SCOPE)
        states = {
            t.key: ProbeState.from_json(stored[t.key]) for t in probe_targets if t.key in stored
        }
        fresh = await check_pods(self.pool, self.engine, probe_targets, states, poll=gate)
        for probed in probe_targets:
            after = fresh[probed.key]
            self._transition(probed, states.get(probed.key), after)
            out[probed.key] = health(after)
        kept = kept_states(stored, cluster, fresh)
        self.journal.replace_scope(SCOPE, {**kept, **{k: s.to_json() for k, s in fresh.items()}})
        return out

    def _transition(
        self, probed: ProbeTarget, before: ProbeState | None, after: ProbeState
    ) -> None:
        """Readiness and liveness changes become events."""
        old = health(before) if before is not None else None
        new = health(after)
        pod = probed.pod
        kind, message = "", ""
        if (old is None or not old.ready) and new.ready:
            kind, message = "ready", f"{pod.name} is ready"
        elif old is not None and old.ready and not new.ready:
            kind, message = "not-ready", f"{pod.name} not ready: {new.reason}"
        if (old is None or old.live) and not new.live:
            kind, message = "liveness-failed", f"{pod.name}: {new.reason}"
        if kind:
            self.journal.event(
                kind, message, host=pod.host, app=pod.app, service=pod.service, replica=pod.replica
            )


def choose_targets(
    cluster: ClusterState, targets: Mapping[tuple[str, str], Target]
) -> tuple[list[ProbeTarget], dict[str, PodHealth]]:
    """The pods to probe (one per health key), and the health of pods this run does not
    own (running counts as ready).

    A host that answers again may still hold a pod that was rescheduled while it was
    gone: two copies with one name and key. The copy the planner keeps (running, newest)
    is probed; the other is about to be removed.
    """
    chosen: dict[str, ProbeTarget] = {}
    others: dict[str, PodHealth] = {}
    for host in cluster.reachable_hosts():
        for pod in host.pods:
            target = targets.get((pod.app, pod.service))
            if target is None:
                others[pod.key] = PodHealth(ready=pod.running, ready_since=pod.started_at)
                continue
            seen = chosen.get(pod.key)
            if seen is None or _rank(pod) > _rank(seen.pod):
                # pods of an earlier revision still running during a rollout are probed
                # like the current one: by the target's main container
                chosen[pod.key] = ProbeTarget(pod, target.deployment.main_container)
    return list(chosen.values()), others


def _rank(pod: ActualPod) -> tuple[bool, float]:
    return (pod.running, pod.created_at)


def kept_states(
    stored: Mapping[str, Any], cluster: ClusterState, probed: Collection[str]
) -> dict[str, Any]:
    """Stored probe states this run did not renew that still belong to a pod: on an
    unreachable host (for when it answers again) or of an application not in this run
    (its liveness failures keep counting across its own passes). Gone pods are forgotten."""
    known = {p.key for h in cluster.hosts.values() for p in h.pods}
    return {k: v for k, v in stored.items() if k in known and k not in probed}


@dataclass
class HAProxySync:
    """The reconciler's load balancer and drainer (reads blueprint and apps through it, so
    an operation that re-reads the blueprint is seen at once)."""

    reconciler: Reconciler
    last_health: Mapping[str, PodHealth] = field(default_factory=dict)
    desired: Sequence[DesiredService] = ()
    live: dict[str, str | None] = field(default_factory=dict)  # config text read per host
    installed: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    async def sync(
        self,
        cluster: ClusterState,
        health_map: Mapping[str, PodHealth],
        desired: Sequence[DesiredService] = (),
        *,
        exclude: Collection[str] = (),
    ) -> None:
        rc = self.reconciler
        # imported here: a run that changes nothing (a no-op apply) never needs them
        from fleet.lb.haproxy import LbOutcome, apply_lb
        from fleet.lb.merge import listen_blocks, merge
        from fleet.lb.render import render_hosts
        from fleet.lb.services import lb_services

        self.last_health, self.desired = health_map, desired or self.desired
        hosts = rc.inventory.lb_hosts
        await self._read_live([h.name for h in hosts])
        if not rc.blueprint.services and not any(
            b.app in rc.apps for text in self.live.values() if text for b in listen_blocks(text)
        ):
            return  # nothing of ours to balance, and nothing of ours left to take out
        services = lb_services(rc.blueprint, self.desired)
        rendered = render_hosts(hosts, services, cluster, health_map, exclude=exclude)
        texts: dict[str, str] = {}
        for name, config in rendered.items():
            try:
                text = merge(config.text, self.live.get(name), rc.apps, name)
            except HAProxyConfigError as exc:  # a port clash with another application
                self._error(str(exc))
                continue
            if text != self.installed.get(name, self.live.get(name)):
                texts[name] = text
        if not texts:
            return
        report = await apply_lb(rc.pool, rc.inventory, texts)
        for host, result in report.results.items():
            if result.ok:
                self.installed[host] = texts[host]
                if result.outcome is LbOutcome.reloaded:
                    rc.journal.event("lb-reload", f"HAProxy on {host} reloaded", host=host)
            else:
                self._error(f"HAProxy on {host}: {result.outcome.value}: {result.reason}")

    async def drain(
        self,
        cluster: ClusterState,
        pods: set[str],
        health: Mapping[str, PodHealth],
        desired: Sequence[DesiredService],
    ) -> None:
        """Out of every backend, then wait (bounded) for old workers' connections.

        The other ready pods come from `health` (the wave's observation): a command whose
        first wave drains (restart, scale-down) has synced nothing yet, and rendering from
        an empty health map would empty the backends."""
        rc = self.reconciler
        if not rc.blueprint.services:
            return
        from fleet.lb.haproxy import wait_drained
        from fleet.lb.services import lb_services

        await self.sync(cluster, health or self.last_health, desired, exclude=pods)
        grace = max((s.grace_seconds for s in lb_services(rc.blueprint)), default=5.0)
        await wait_drained(rc.pool, [h.name for h in rc.inventory.lb_hosts], timeout=grace)

    async def _read_live(self, hosts: list[str]) -> None:
        """The lb hosts' current configs (other apps' frontends come from them), read at
        every sync: another application's run may have changed them since, and a
        `fleet heal --watch` session lives for days."""
        rc = self.reconciler

        async def read(host: str) -> str | None:
            config = rc.pool.host(host).haproxy.config
            limit = rc.pool.host(host).connect_timeout + 10.0  # a lost lb host must not stall
            try:
                result = await rc.pool.run(host, ["cat", config], check=False, timeout=limit)
            except RemoteError:  # unreachable: rendered without others' sections this time
                return None
            return result.text if result.ok else None

        texts = await asyncio.gather(*(read(h) for h in hosts))
        self.live.update(dict(zip(hosts, texts, strict=True)))

    def _error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)
            self.reconciler.journal.event("lb-error", message)
            self.reconciler.say(message)


def attach(reconciler: Reconciler) -> None:
    """Give a reconciler real probes and HAProxy (every session does)."""
    reconciler.health_checker = ProbeHealth(reconciler.pool, reconciler.engine, reconciler.journal)
    balancer = HAProxySync(reconciler)
    reconciler.load_balancer = balancer
    reconciler.drainer = balancer
