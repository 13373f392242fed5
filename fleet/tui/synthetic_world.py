"""The made-up cluster behind `SyntheticSource`: deterministic generation and mutation.

`World.generate(hosts, replicas, seed, now)` builds the same cluster for the
same arguments: hosts `node1..nodeN`, services spread over a few apps, pods
placed by a small spread scheduler that respects cordons and memory. A few
services carry the interesting states the UI must show: `shop/web` has an
autoscaler and a frontend, `shop/api` a canary, `shop/worker` a rollout in
progress and (with four or more services) `data/reports` cannot be placed.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from fleet.tui.format import natural_key
from fleet.tui.source import (
    Canary,
    FrontendRow,
    HostRow,
    ReplicaRow,
    ServerRow,
    ServiceRow,
)

MiB = 2**20
GiB = 2**30
_APPS = ("shop", "blog", "data", "media", "ops")
_BASES = ("web", "api", "worker", "cache", "search", "auth", "mail", "cron", "feed", "img")


def revision_of(*parts: object) -> str:
    """A 10-hex-digit revision, like the hash of a pod spec."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:10]


@dataclass
class SimHost:
    name: str
    address: str
    cpu_m: int
    memory: int
    zone: str
    roles: tuple[str, ...]
    engine: str
    rtt_ms: float
    labels: tuple[tuple[str, str], ...]
    cordoned: bool = False
    down: bool = False  # answers "connection refused"
    hung: bool = False  # does not answer until released or timed out
    delay: float = 0.0  # seconds before its answer arrives
    last_ok: float | None = None
    error: str | None = None


@dataclass
class SimService:
    app: str
    name: str
    desired: int
    cpu_m: int
    memory: int
    revision: str
    previous: list[str] = field(default_factory=list)
    strategy: str = "RollingUpdate"
    autoscaler: str = ""
    port: int | None = None  # container port; services with one get a frontend
    bind_port: int | None = None
    canary_revision: str | None = None
    canary_weight: int = 0
    generation: int = 0

    @property
    def key(self) -> str:
        return f"{self.app}/{self.name}"


@dataclass
class SimPod:
    service: str  # service key "app/name"
    slot: int
    host: str
    revision: str
    started_at: float
    state: str = "running"
    ready: bool = True
    restarts: int = 0
    canary: bool = False
    reason: str = ""
    ip: str = ""
    host_port: int = 0

    def replica(self, name: str) -> str:
        return f"{name}-canary-{self.slot}" if self.canary else f"{name}-{self.slot}"


@dataclass
class World:
    """All mutable state of the synthetic cluster."""

    hosts: dict[str, SimHost]
    services: dict[str, SimService]
    pods: list[SimPod]
    now0: float
    next_port: int = 20000

    @classmethod
    def generate(cls, hosts: int, replicas: int, seed: int, now: float) -> World:
        rng = random.Random(seed)
        world = cls(hosts={}, services={}, pods=[], now0=now)
        lb_count = 1 if hosts <= 3 else 2
        for i in range(hosts):
            name = f"node{i + 1}"
            zone = "abc"[i % 3]
            world.hosts[name] = SimHost(
                name=name,
                address=f"10.77.{i // 200}.{i % 200 + 10}",
                cpu_m=(8000, 16000)[i % 2] if hosts > 3 else 4000,
                memory=(16 * GiB, 32 * GiB)[i % 2] if hosts > 3 else 8 * GiB,
                zone=f"zone-{zone}",
                roles=("lb",) if i < lb_count else (),
                engine="podman 4.3.1" if i % 7 == 6 else "docker 24.0.7",
                rtt_ms=round(0.4 + rng.random() * 2.5, 1),
                labels=(("disk", "ssd" if i % 2 == 0 else "hdd"), ("zone", f"zone-{zone}")),
                last_ok=now,
            )
        for spec in _service_plan(replicas, rng):
            world.services[spec.key] = spec
        for svc in world.services.values():
            world.place(svc, rng, now)
        web = world.services.get("shop/web")
        if web is not None:
            web.autoscaler = f"HPA 2..{max(6, web.desired * 2)} cpu 43%/70%"
        world._start_rollout("shop/worker")
        world._start_canary("shop/api", now)
        return world

    # ---- placement (a tiny spread scheduler, enough to make counts move) ----

    def schedulable(self) -> list[SimHost]:
        return [h for h in self.hosts.values() if not h.cordoned and not h.down]

    def requested(self, host: str) -> tuple[int, int]:
        cpu = mem = 0
        for pod in self.pods:
            if pod.host == host:
                svc = self.services[pod.service]
                cpu += svc.cpu_m
                mem += svc.memory
        return cpu, mem

    def place(self, svc: SimService, rng: random.Random, now: float) -> int:
        """Create pods for the missing stable slots; returns how many could not be placed."""
        used = {p.slot for p in self.pods if p.service == svc.key and not p.canary}
        missing = [s for s in range(svc.desired) if s not in used]
        load = {h.name: 0 for h in self.hosts.values()}
        mine = {h.name: 0 for h in self.hosts.values()}
        free_mem = {h.name: h.memory for h in self.hosts.values()}
        for pod in self.pods:
            load[pod.host] += 1
            free_mem[pod.host] -= self.services[pod.service].memory
            if pod.service == svc.key:
                mine[pod.host] += 1
        unplaced = 0
        for slot in missing:
            fits = [h for h in self.schedulable() if free_mem[h.name] >= svc.memory]
            if not fits:
                unplaced += 1
                continue
            host = min(fits, key=lambda h: (mine[h.name], load[h.name], natural_key(h.name)))
            self.pods.append(self._pod(svc, slot, host, svc.revision, now - rng.randint(60, 86400)))
            load[host.name] += 1
            mine[host.name] += 1
            free_mem[host.name] -= svc.memory
        return unplaced

    def _pod(self, svc: SimService, slot: int, host: SimHost, revision: str, started: float,
             canary: bool = False) -> SimPod:
        self.next_port += 1
        index = int(host.address.rsplit(".", 1)[1])
        return SimPod(service=svc.key, slot=slot, host=host.name, revision=revision,
                      started_at=started, canary=canary, host_port=self.next_port,
                      ip=f"172.18.{index}.{2 + self.next_port % 250}")

    def trim(self, svc: SimService) -> int:
        """Remove stable pods whose slot is >= desired; returns how many."""
        before = len(self.pods)
        self.pods = [p for p in self.pods
                     if not (p.service == svc.key and not p.canary and p.slot >= svc.desired)]
        return before - len(self.pods)

    def _start_rollout(self, key: str) -> None:
        svc = self.services.get(key)
        if svc is None or svc.desired < 2:
            return
        svc.previous.append(svc.revision)
        svc.revision = revision_of(key, "next")
        for pod in self.pods:
            if pod.service == key and pod.slot == 0:
                pod.revision = svc.revision
                pod.started_at = self.now0 - 42

    def _start_canary(self, key: str, now: float) -> None:
        svc = self.services.get(key)
        if svc is None or not self.schedulable():
            return
        svc.strategy = "Canary"
        if svc.desired > 1:  # the canary pod counts toward the cluster's replica total
            svc.desired -= 1
            self.trim(svc)
        svc.canary_revision = revision_of(key, "canary")
        svc.canary_weight = 10
        host = self.schedulable()[-1]
        self.pods.append(self._pod(svc, 0, host, svc.canary_revision, now - 300, canary=True))

    # ---- rows ----

    def host_row(self, host: SimHost, reachable: bool) -> HostRow:
        cpu, mem = self.requested(host.name)
        return HostRow(
            name=host.name, address=host.address, reachable=reachable,
            error=None if reachable else host.error,
            round_trip_ms=host.rtt_ms if reachable else None, engine=host.engine,
            cpu_requested_m=cpu, cpu_capacity_m=host.cpu_m,
            memory_requested=mem, memory_capacity=host.memory,
            replicas=sum(1 for p in self.pods if p.host == host.name),
            cordoned=host.cordoned, labels=host.labels, zone=host.zone, roles=host.roles,
            observed_at=host.last_ok,
        )

    def replica_row(self, pod: SimPod) -> ReplicaRow:
        svc = self.services[pod.service]
        replica = pod.replica(svc.name)
        return ReplicaRow(
            pod=f"{replica}.{pod.revision}", replica=replica, service=svc.name, app=svc.app,
            host=pod.host, state=pod.state, ready=pod.ready, live=pod.state == "running",
            restarts=pod.restarts, started_at=pod.started_at, revision=pod.revision,
            ports=(f"{svc.port}/tcp",) if svc.port else (), ip=pod.ip, reason=pod.reason,
            canary=pod.canary,
        )

    def service_row(self, svc: SimService) -> ServiceRow:
        stable = [p for p in self.pods if p.service == svc.key and not p.canary]
        ready = sum(1 for p in stable if p.ready)
        current = sum(1 for p in stable if p.revision == svc.revision)
        available = sum(1 for p in stable if p.ready and self.now0 - p.started_at > 10)
        if current < svc.desired and current < len(stable):
            rollout = f"rolling {current}/{svc.desired}"
        else:
            rollout = f"{ready}/{svc.desired} at {svc.revision}"
        pending: tuple[str, ...] = ()
        if len(stable) < svc.desired:
            n = len(self.hosts)
            fits = [h for h in self.schedulable() if h.memory >= svc.memory]
            why = (f"insufficient memory ({_gib(svc.memory)} requested)" if not fits
                   else "no schedulable host")
            pending = (f"{svc.desired - len(stable)} unplaced: 0/{n} hosts fit: {why}",)
        canary = None
        if svc.canary_revision is not None:
            pods = [p for p in self.pods if p.service == svc.key and p.canary]
            canary = Canary(revision=svc.canary_revision, weight=svc.canary_weight,
                            replicas=len(pods), ready=sum(1 for p in pods if p.ready))
        return ServiceRow(
            app=svc.app, name=svc.name, desired=svc.desired, ready=ready,
            up_to_date=current, available=available, revision=svc.revision, rollout=rollout,
            strategy=svc.strategy, autoscaler=svc.autoscaler, canary=canary, pending=pending,
        )

    def frontend_rows(self) -> tuple[FrontendRow, ...]:
        lbs = tuple(h.name for h in self.hosts.values() if "lb" in h.roles)
        rows = []
        for svc in self.services.values():
            if svc.bind_port is None:
                continue
            servers = []
            for pod in self.pods:
                if pod.service != svc.key:
                    continue
                host = self.hosts[pod.host]
                state = "DRAIN" if host.cordoned else ("UP" if pod.ready else "DOWN")
                weight = svc.canary_weight if pod.canary else 100
                check = "L7OK/200 in 2ms" if pod.ready else "L7STS/503 in 1ms"
                servers.append(ServerRow(name=f"{pod.replica(svc.name)}.{pod.revision}",
                                         address=f"{host.address}:{pod.host_port}",
                                         state=state, weight=weight, check=check))
            rows.append(FrontendRow(app=svc.app, service=svc.name, bind_port=svc.bind_port,
                                    lb_hosts=lbs, servers=tuple(servers)))
        return tuple(rows)

    def spec_yaml(self, svc: SimService) -> str:
        port = f"\n          ports:\n            - containerPort: {svc.port}" if svc.port else ""
        return (
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {svc.name}\n"
            f"  labels:\n    app: {svc.app}\nspec:\n  replicas: {svc.desired}\n"
            f"  strategy:\n    type: {svc.strategy}\n  template:\n    spec:\n      containers:\n"
            f"        - name: {svc.name}\n          image: {svc.app}/{svc.name}:1.{svc.generation}"
            f"\n          resources:\n            requests:\n              cpu: {svc.cpu_m}m\n"
            f"              memory: {svc.memory // MiB}Mi{port}\n"
            f"          readinessProbe:\n            httpGet:\n              path: /healthz\n"
            f"              port: {svc.port or 8080}\n"
        )


def _service_plan(replicas: int, rng: random.Random) -> list[SimService]:
    count = max(3, round(replicas / 25))
    names: list[tuple[str, str]] = [("shop", "web"), ("shop", "api"), ("shop", "worker")]
    if count >= 4:
        names.append(("data", "reports"))
    k = 0
    while len(names) < count:
        app = _APPS[k % len(_APPS)]
        base = _BASES[(k // len(_APPS)) % len(_BASES)]
        suffix = k // (len(_APPS) * len(_BASES))
        candidate = (app, f"{base}{suffix + 2}" if suffix else base)
        if candidate not in names:
            names.append(candidate)
        k += 1
    placed = [n for n in names if n != ("data", "reports")]
    share, extra = divmod(replicas, len(placed))
    services = []
    for i, (app, name) in enumerate(names):
        if (app, name) == ("data", "reports"):
            services.append(SimService(app, name, desired=2, cpu_m=2000, memory=48 * GiB,
                                       revision=revision_of(app, name, 0)))
            continue
        desired = share + (1 if placed.index((app, name)) < extra else 0)
        port = 8080 if name.startswith(("web", "api", "search", "auth", "feed")) else None
        svc = SimService(app, name, desired=desired, cpu_m=rng.choice((100, 200, 250, 500)),
                         memory=rng.choice((64, 128, 256)) * MiB,
                         revision=revision_of(app, name, 0), port=port,
                         bind_port=(8000 + i) if port else None)
        if port and (app, name) == ("shop", "web"):
            svc.bind_port = 80
        services.append(svc)
    return services


def _gib(value: int) -> str:
    return f"{value / GiB:g}Gi"
