"""`SyntheticSource`: a deterministic `StateSource` for tests, benchmarks and demos.

`SyntheticSource(hosts=50, replicas=1000, seed=1)` makes up a cluster (see
`synthetic_world`) and answers like the live source would: `HostUpdate`s in
the order hosts "answer" (`delay`), then a `Snapshot`. Actions change the
made-up state (scale adds pods, cordon flags a host, drain moves pods, ...),
are journaled as events and recorded in `calls` for tests to assert on.

Trouble on demand, for the UI's honesty tests:
- `set_down(host)`: the host answers "connection refused" (reachable=False,
  last observed data, old `observed_at`);
- `hang(host)`: its answer never comes until `release(host)` (or until
  `timeout` seconds, then it is reported unreachable); the other hosts'
  updates still stream;
- `fail_next(method, message)`: the next call of `refresh`, `scale`, ... raises
  `FleetError(message)`.

Time comes from an injectable `clock` so tests and snapshots are stable.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence

from fleet.errors import FleetError
from fleet.tui.format import memory
from fleet.tui.source import (
    Describe,
    EventLevel,
    EventRow,
    HostRef,
    HostUpdate,
    Outcome,
    PlacementReason,
    PlanPreview,
    PodRef,
    ProbeResult,
    ReplicaRow,
    ServiceRef,
    Snapshot,
    Target,
    Update,
)
from fleet.tui.synthetic_world import SimHost, SimPod, SimService, World, revision_of

MAX_REPLICAS = 500


class SyntheticSource:
    """A made-up cluster that behaves like a live one (see the module docstring)."""

    def __init__(
        self,
        hosts: int = 3,
        replicas: int = 9,
        seed: int = 0,
        *,
        clock: Callable[[], float] = time.time,
        churn: float = 0.0,
        timeout: float = 30.0,
        log_interval: float = 0.2,
    ) -> None:
        self._clock = clock
        self._seed = seed
        self._churn = churn
        self.timeout = timeout
        self.log_interval = log_interval
        self.world = World.generate(hosts, replicas, seed, clock())
        self.calls: list[tuple[str, ...]] = []
        self.refreshes = 0
        self._events: list[EventRow] = []
        self._released: dict[str, asyncio.Event] = {}
        self._failures: dict[str, str] = {}
        api = self.world.services["shop/api"]
        self._plan: list[str] = ["~ shop/api  image shop/api:1.0 -> shop/api:1.1  "
                                 f"(RollingUpdate, {api.desired} replicas)"]
        self._label = f"synthetic {hosts}x{replicas}"
        for svc in self.world.services.values():
            self._record("rollout", f"{svc.key} at {svc.revision}: {svc.desired} replicas",
                         service=svc.key)

    # ---- test hooks ----

    def set_down(self, host: str, down: bool = True) -> None:
        """The host answers "connection refused" from the next refresh on (or answers again)."""
        self.world.hosts[host].down = down

    def hang(self, host: str) -> None:
        """The host's answer is held back until `release(host)` or `timeout`."""
        self.world.hosts[host].hung = True
        self._released[host] = asyncio.Event()

    def release(self, host: str) -> None:
        """Let a hung host answer again."""
        self.world.hosts[host].hung = False
        event = self._released.pop(host, None)
        if event is not None:
            event.set()

    def set_delay(self, host: str, seconds: float) -> None:
        """The host answers `seconds` after the refresh starts (others are not held up)."""
        self.world.hosts[host].delay = seconds

    def fail_next(self, method: str, message: str) -> None:
        """The next call of `method` ("refresh", "scale", ...) raises FleetError(message)."""
        self._failures[method] = message

    # ---- StateSource ----

    @property
    def name(self) -> str:
        return self._label

    async def refresh(self) -> AsyncIterator[Update]:
        """HostUpdates in answer order (delay), hung hosts last, then the Snapshot."""
        self._maybe_fail("refresh")
        self.refreshes += 1
        self._evolve()
        world = self.world
        order = sorted(world.hosts.values(), key=lambda h: h.delay)
        waited = 0.0
        hung: list[SimHost] = []
        for host in order:
            if host.delay > waited:
                await asyncio.sleep(host.delay - waited)
                waited = host.delay
            if host.hung:
                hung.append(host)
                continue
            yield self._answer(host)
        for host in hung:
            event = self._released.get(host.name)
            try:
                if event is not None:
                    await asyncio.wait_for(event.wait(), self.timeout)
            except TimeoutError:
                host.error = f"no answer within {self.timeout:g} s"
                yield HostUpdate(world.host_row(host, reachable=False), self._pods_of(host))
                continue
            yield self._answer(host)
        now = self._clock()
        reachable = {h.name: not (h.down or h.hung) for h in world.hosts.values()}
        yield Snapshot(
            hosts=tuple(world.host_row(h, reachable[h.name]) for h in world.hosts.values()),
            services=tuple(world.service_row(s) for s in world.services.values()),
            replicas=tuple(world.replica_row(p) for p in world.pods),
            frontends=world.frontend_rows(),
            observed_at=now,
        )

    async def events(self, after_id: int) -> Sequence[EventRow]:
        return [e for e in self._events if e.id > after_id][:500]

    async def describe(self, target: Target) -> Describe:
        self._maybe_fail("describe")
        if isinstance(target, HostRef):
            return self._describe_host(target.name)
        if isinstance(target, ServiceRef):
            return self._describe_service(self._service(target), None)
        pod = self._pod(target)
        svc = self.world.services[pod.service]
        return self._describe_service(svc, pod)

    async def logs(self, target: PodRef | ServiceRef, follow: bool) -> AsyncIterator[str]:
        """A 20-line tail per pod, then (follow) one line per pod every `log_interval`."""
        self._maybe_fail("logs")
        if isinstance(target, ServiceRef):
            svc = self._service(target)
            names = [self.world.replica_row(p).pod for p in self.world.pods
                     if p.service == svc.key]
        else:
            self._pod(target)
            names = [target.pod]
        prefix = isinstance(target, ServiceRef)
        n = 0
        for batch in range(1_000_000):
            if batch >= 20:
                if not follow:
                    return
                await asyncio.sleep(self.log_interval)
            for name in names:
                n += 1
                line = _log_line(n, self._seed)
                yield f"{name} {line}" if prefix else line

    async def shell_argv(self, pod: PodRef) -> list[str]:
        self._maybe_fail("shell")
        self._pod(pod)
        self.calls.append(("shell", str(pod)))
        # No container behind a synthetic pod: a shell that says so and waits for Enter.
        return ["sh", "-c", 'echo "synthetic pod $1: no container here (Enter)"; read _',
                "sh", str(pod)]

    async def scale(self, service: ServiceRef, replicas: int) -> Outcome:
        self._call("scale", str(service), str(replicas))
        svc = self._service(service)
        if not 0 <= replicas <= MAX_REPLICAS:
            return Outcome(False, f"replicas must be 0..{MAX_REPLICAS}, not {replicas}")
        before = svc.desired
        svc.desired = replicas
        removed = self.world.trim(svc)
        unplaced = self.world.place(svc, self._rng("scale"), self._clock())
        message = f"scaled {svc.key} from {before} to {replicas} replicas"
        if removed:
            message += f" ({removed} removed)"
        if unplaced:
            message += f" ({unplaced} could not be placed)"
        self._record("scale", message, service=svc.key,
                     level="warning" if unplaced else "info")
        return Outcome(True, message)

    async def restart(self, service: ServiceRef) -> Outcome:
        self._call("restart", str(service))
        svc = self._service(service)
        now = self._clock()
        pods = [p for p in self.world.pods if p.service == svc.key]
        for pod in pods:
            pod.started_at = now
            pod.state, pod.ready, pod.reason = "running", True, ""
        message = f"restarted {svc.key}: {len(pods)} pods replaced"
        self._record("rollout", message, service=svc.key)
        return Outcome(True, message)

    async def cordon(self, host: str) -> Outcome:
        return self._set_cordon("cordon", host, True)

    async def uncordon(self, host: str) -> Outcome:
        return self._set_cordon("uncordon", host, False)

    async def drain(self, host: str) -> Outcome:
        self._call("drain", host)
        sim = self._host(host)
        sim.cordoned = True
        moving = [p for p in self.world.pods if p.host == host]
        self.world.pods = [p for p in self.world.pods if p.host != host]
        unplaced = 0
        for key in sorted({p.service for p in moving if not p.canary}):
            unplaced += self.world.place(self.world.services[key], self._rng("drain"),
                                         self._clock())
        message = f"drained {host}: {len(moving)} pods moved"
        if unplaced:
            message += f", {unplaced} could not be placed"
        self._record("host", message, host=host, level="warning" if unplaced else "info")
        return Outcome(True, message)

    async def plan_apply(self) -> PlanPreview:
        self._call("plan_apply")
        if not self._plan:
            return PlanPreview("No changes: the cluster matches the blueprints.", False)
        return PlanPreview("\n".join(["Plan: 1 to change", "", *self._plan]), True)

    async def apply(self) -> Outcome:
        self._call("apply")
        if not self._plan:
            return Outcome(True, "nothing to apply")
        svc = self.world.services["shop/api"]
        self._roll(svc, revision_of(svc.key, "apply", svc.generation + 1))
        svc.generation += 1
        self._plan = []
        message = f"applied 1 change: {svc.key} rolled to {svc.revision}"
        self._record("rollout", message, service=svc.key)
        return Outcome(True, message)

    async def rollout_undo(self, service: ServiceRef) -> Outcome:
        self._call("rollout_undo", str(service))
        svc = self._service(service)
        if not svc.previous:
            return Outcome(False, f"{svc.key} has no previous revision")
        target = svc.previous.pop()
        current = svc.revision
        self._roll(svc, target)  # `current` becomes the previous one: undo twice toggles back
        message = f"rolled {svc.key} back from {current} to {target}"
        self._record("rollout", message, service=svc.key)
        return Outcome(True, message)

    async def promote(self, service: ServiceRef) -> Outcome:
        self._call("promote", str(service))
        svc = self._service(service)
        revision = self._drop_canary(svc)
        if revision is None:
            return Outcome(False, f"{svc.key} has no canary")
        self._roll(svc, revision)
        message = f"promoted canary {revision} of {svc.key}"
        self._record("rollout", message, service=svc.key)
        return Outcome(True, message)

    async def abort(self, service: ServiceRef) -> Outcome:
        self._call("abort", str(service))
        svc = self._service(service)
        revision = self._drop_canary(svc)
        if revision is None:
            return Outcome(False, f"{svc.key} has no canary")
        message = f"aborted canary {revision} of {svc.key}"
        self._record("rollout", message, service=svc.key, level="warning")
        return Outcome(True, message)

    async def close(self) -> None:
        for host in list(self._released):
            self.release(host)

    # ---- internals ----

    def _answer(self, host: SimHost) -> HostUpdate:
        if host.down:
            host.error = "connection refused"
            return HostUpdate(self.world.host_row(host, reachable=False), self._pods_of(host))
        host.last_ok = self._clock()
        host.error = None
        return HostUpdate(self.world.host_row(host, reachable=True), self._pods_of(host))

    def _pods_of(self, host: SimHost) -> tuple[ReplicaRow, ...]:
        return tuple(self.world.replica_row(p) for p in self.world.pods if p.host == host.name)

    def _evolve(self) -> None:
        """Change a few pods and round trips per refresh (`churn` of them), reproducibly."""
        if self._churn <= 0 or not self.world.pods:
            return
        rng = self._rng(f"evolve{self.refreshes}")
        for pod in rng.sample(self.world.pods, max(1, int(len(self.world.pods) * self._churn))):
            if pod.ready and rng.random() < 0.5:
                pod.ready, pod.reason = False, "readiness: GET /healthz 503"
            else:
                pod.ready, pod.reason = True, ""
                pod.restarts += rng.random() < 0.3
        for host in self.world.hosts.values():
            host.rtt_ms = round(0.4 + rng.random() * 2.5, 1)

    def _roll(self, svc: SimService, revision: str) -> None:
        svc.previous.append(svc.revision)
        svc.revision = revision
        now = self._clock()
        for pod in self.world.pods:
            if pod.service == svc.key and not pod.canary:
                pod.revision, pod.started_at, pod.ready = revision, now, True

    def _drop_canary(self, svc: SimService) -> str | None:
        """Remove the service's canary; its revision, or None when there was none."""
        revision = svc.canary_revision
        if revision is None:
            return None
        svc.canary_revision, svc.canary_weight = None, 0
        svc.strategy = "RollingUpdate"
        self.world.pods = [p for p in self.world.pods if not (p.service == svc.key and p.canary)]
        return revision

    def _set_cordon(self, verb: str, host: str, flag: bool) -> Outcome:
        self._call(verb, host)
        sim = self._host(host)
        if sim.cordoned == flag:
            return Outcome(True, f"{host} already {'cordoned' if flag else 'schedulable'}")
        sim.cordoned = flag
        message = f"{verb}ed {host}"
        self._record("host", message, host=host)
        return Outcome(True, message)

    def _record(self, kind: str, message: str, *, host: str | None = None,
                service: str | None = None, replica: str | None = None,
                level: EventLevel = "info") -> None:
        event_id = self._events[-1].id + 1 if self._events else 1
        self._events.append(EventRow(id=event_id, time=self._clock(), kind=kind,
                                     message=message, host=host, service=service,
                                     replica=replica, level=level))

    def _call(self, method: str, *args: str) -> None:
        """An action was called: fail it if asked to (`fail_next`), else record it in `calls`."""
        self._maybe_fail(method)
        self.calls.append((method, *args))

    def _maybe_fail(self, method: str) -> None:
        message = self._failures.pop(method, None)
        if message is not None:
            raise FleetError(message)

    def _rng(self, purpose: str) -> random.Random:
        return random.Random(f"{self._seed}:{purpose}:{len(self._events)}")

    def _service(self, ref: ServiceRef) -> SimService:
        svc = self.world.services.get(str(ref))
        if svc is None:
            raise FleetError(f"no service {ref}")
        return svc

    def _host(self, name: str) -> SimHost:
        host = self.world.hosts.get(name)
        if host is None:
            raise FleetError(f"no host {name} in the inventory")
        return host

    def _pod(self, ref: PodRef) -> SimPod:
        for pod in self.world.pods:
            row = self.world.replica_row(pod)
            if row.ref == ref:
                return pod
        raise FleetError(f"no pod {ref}")

    def _describe_host(self, name: str) -> Describe:
        host = self._host(name)
        row = self.world.host_row(host, reachable=not (host.down or host.hung))
        facts = (
            ("address", row.address), ("zone", row.zone or ""),
            ("roles", ", ".join(row.roles) or "-"), ("engine", row.engine or "?"),
            ("cpu", f"{row.cpu_requested_m}m of {row.cpu_capacity_m}m requested"),
            ("memory", f"{memory(row.memory_requested)} of {memory(row.memory_capacity)}"),
            ("labels", ", ".join(f"{k}={v}" for k, v in row.labels)),
            ("cordoned", "yes" if row.cordoned else "no"), ("replicas", str(row.replicas)),
        )
        placed = tuple((self.world.replica_row(p).replica, name)
                       for p in self.world.pods if p.host == name)
        return Describe(title=f"host {name}", facts=facts, placed=placed,
                        events=tuple(e for e in self._events if e.host == name)[-10:])

    def _describe_service(self, svc: SimService, pod: SimPod | None) -> Describe:
        row = self.world.service_row(svc)
        pods = [p for p in self.world.pods if p.service == svc.key]
        if pod is not None:
            pods = [pod]
        placed = tuple((self.world.replica_row(p).replica, p.host) for p in pods)
        used = {p.host for p in pods}
        rejected = []
        for host in self.world.hosts.values():
            if host.name in used:
                continue
            rejected.append(PlacementReason(host.name, _why_not(self.world, host, svc)))
        facts = [("desired", str(row.desired)), ("ready", f"{row.ready}/{row.desired}"),
                 ("revision", row.revision), ("strategy", row.strategy),
                 ("rollout", row.rollout)]
        if row.autoscaler:
            facts.append(("autoscaler", row.autoscaler))
        if row.canary:
            facts.append(("canary", f"{row.canary.revision} weight {row.canary.weight}%"))
        facts.extend(("pending", p) for p in row.pending)
        probes: list[ProbeResult] = []
        title = f"service {svc.key}"
        if pod is not None:
            rrow = self.world.replica_row(pod)
            title = f"replica {svc.app}/{rrow.pod} on {pod.host}"
            facts = [("state", pod.state), ("host", pod.host), ("ip", pod.ip),
                     ("revision", pod.revision), ("restarts", str(pod.restarts)), *facts]
        for p in pods[:10]:
            name = self.world.replica_row(p).pod
            at = self._clock() - 3
            probes.append(ProbeResult(name, "readiness", p.ready,
                                      "GET :8080/healthz " + ("200 in 3ms" if p.ready
                                                              else "503 in 1ms"), at))
            probes.append(ProbeResult(name, "liveness", p.state == "running",
                                      "tcp :8080 open in 1ms", at))
        events = tuple(e for e in self._events if e.service == svc.key)[-10:]
        return Describe(title=title, facts=tuple(facts), spec=self.world.spec_yaml(svc),
                        placed=placed, rejected=tuple(rejected), events=events,
                        probes=tuple(probes))


def _why_not(world: World, host: SimHost, svc: SimService) -> str:
    if host.down:
        return "unreachable: last observation failed"
    if host.cordoned:
        return "cordoned (unschedulable)"
    _, mem = world.requested(host.name)
    free = host.memory - mem
    if free < svc.memory:
        return f"insufficient memory: {memory(free)} free, {memory(svc.memory)} requested"
    return "fits; spread scored it lower than the chosen hosts"


_PATHS = ("/", "/healthz", "/api/items", "/api/cart", "/static/app.js", "/login")


def _log_line(n: int, seed: int) -> str:
    rng = random.Random(f"{seed}:log:{n}")
    status = rng.choice((200, 200, 200, 200, 201, 304, 404, 500))
    path = rng.choice(_PATHS)
    return f"{n:06d} 10.0.{rng.randint(0, 9)}.{rng.randint(2, 250)} GET {path} {status} " \
           f"{rng.randint(1, 90)}ms"


