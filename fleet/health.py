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

from fleet.desired import Target
from fleet.errors import HAProxyConfigError, RemoteError
from fleet.journal import Journal
from fleet.lb.haproxy import LbOutcome, apply_lb, wait_drained
from fleet.lb.merge import merge
from fleet.lb.render import render_hosts
from fleet.lb.services import lb_services
from fleet.model import ClusterState, DesiredService, PodHealth
from fleet.probe import ProbeState, health
from fleet.probe.runner import ProbeTarget, check_pods
from fleet.reconcile import Reconciler
from fleet.remote.engine import Engine
from fleet.remote.ssh import SSHPool
from fleet.spec.blueprint import Container

SCOPE = "probe"


@dataclass
class ProbeHealth:
    pool: SSHPool
    engine: Engine
    journal: Journal

    async def check(
        self, cluster: ClusterState, targets: Mapping[tuple[str, str], Target], *, gate: bool
    ) -> dict[str, PodHealth]:
        probe_targets: list[ProbeTarget] = []
        out: dict[str, PodHealth] = {}
        for host in cluster.reachable_hosts():
            for pod in host.pods:
                target = targets.get((pod.app, pod.service))
                if target is None:  # not ours to probe: running counts as ready
                    out[pod.key] = PodHealth(ready=pod.running, ready_since=pod.started_at)
                    continue
                probe_targets.append(ProbeTarget(pod, _main_container(target, pod.revision)))
        stored = self.journal.scope(SCOPE)
        states = {
            t.key: ProbeState.from_json(stored[t.key]) for t in probe_targets if t.key in stored
        }
        fresh = await check_pods(self.pool, self.engine, probe_targets, states, poll=gate)
        for probed in probe_targets:
            after = fresh[probed.key]
            self._transition(probed, states.get(probed.key), after)
            out[probed.key] = health(after)
        # unreachable hosts keep their pods' last states for when they answer again
        reachable = {p.key for h in cluster.reachable_hosts() for p in h.pods}
        kept = {k: v for k, v in stored.items() if k not in reachable}
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


def _main_container(target: Target, revision: str) -> Container:
    """The container whose probes apply: the target's (pods of an earlier revision still
    running during a rollout are probed like the current one)."""
    return target.deployment.main_container


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
        if not rc.blueprint.services:
            return
        self.last_health, self.desired = health_map, desired or self.desired
        hosts = rc.inventory.lb_hosts
        await self._read_live([h.name for h in hosts])
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

    async def drain(self, cluster: ClusterState, pods: set[str]) -> float:
        """Out of every backend, then wait (bounded) for old workers' connections."""
        rc = self.reconciler
        if not rc.blueprint.services:
            return 0.0
        await self.sync(cluster, self.last_health, exclude=pods)
        grace = max((s.grace_seconds for s in lb_services(rc.blueprint)), default=5.0)
        await wait_drained(rc.pool, [h.name for h in rc.inventory.lb_hosts], timeout=grace)
        return 0.0

    async def _read_live(self, hosts: list[str]) -> None:
        """The lb hosts' current configs, once per run (other apps' frontends come from them)."""
        rc = self.reconciler
        missing = [h for h in hosts if h not in self.live]
        if not missing:
            return

        async def read(host: str) -> str | None:
            config = rc.pool.host(host).haproxy.config
            try:
                result = await rc.pool.run(host, ["cat", config], check=False)
            except RemoteError:  # unreachable: rendered without others' sections this time
                return None
            return result.text if result.ok else None

        texts = await asyncio.gather(*(read(h) for h in missing))
        self.live.update(dict(zip(missing, texts, strict=True)))

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
