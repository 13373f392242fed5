"""The UI's live source: the cluster as `fleet apply` sees it, and the operator's actions.

One session (SSH pool, journal, reconciler with probes and HAProxy) lives as
long as the UI. A refresh observes every host at once and yields each host's
row as it answers (a dead host costs its connect timeout and nothing else),
then probes, plans and reads HAProxy's runtime state for the full snapshot.
Actions go through `fleet.operations` under the cluster lock, like the CLI's,
so a cron `fleet heal` and the UI never act at the same time.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any

import yaml

from fleet import autoscale, operations
from fleet.errors import FleetError
from fleet.lb.status import LbHostView
from fleet.model import ActualPod, ClusterState, HostState, PodHealth
from fleet.observed import Observed
from fleet.observed import Outcome as RunOutcome
from fleet.overview import lb_views
from fleet.planview import lines as plan_lines
from fleet.rollup import rollup
from fleet.session import Session, Sources, open_session
from fleet.tui.source import (
    Canary,
    Describe,
    EventRow,
    FrontendRow,
    HostRef,
    HostRow,
    HostUpdate,
    Outcome,
    PlacementReason,
    PlanPreview,
    PodRef,
    ProbeResult,
    ReplicaRow,
    ServerRow,
    ServiceRef,
    ServiceRow,
    Snapshot,
    Target,
    Update,
)

ERRORS = {"failed", "rollout-failed", "lb-error", "unreachable", "liveness-failed"}
WARNINGS = {"not-ready", "back-off", "cordon", "drain", "rollout-undo", "canary-abort"}


class LiveSource:
    """`StateSource` over the inventory's hosts (see fleet.tui.source for the contract)."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self._stack = AsyncExitStack()
        self._session: Session | None = None
        self._last_ok: dict[str, float] = {}
        self._last: Observed | None = None
        self._views: dict[str, LbHostView] = {}

    @property
    def name(self) -> str:
        return str(self.sources.inventory)

    async def _open(self) -> Session:
        if self._session is None:
            self._session = await self._stack.enter_async_context(open_session(self.sources))
        return self._session

    async def close(self) -> None:
        await self._stack.aclose()
        self._session = None

    # -- refresh -----------------------------------------------------------------------------
    async def refresh(self) -> AsyncIterator[Update]:
        session = await self._open()
        rc = session.reconciler
        backoff = session.journal.scope("backoff")  # read once, not once per pod

        async def one(name: str) -> tuple[str, HostState]:
            return name, await rc.observe_host(name)

        states: dict[str, HostState] = {}
        for done in asyncio.as_completed([one(h.name) for h in session.inventory]):
            name, state = await done
            states[name] = state
            if state.reachable:
                self._last_ok[name] = time.time()
            yield HostUpdate(self._host_row(state), tuple(_replica_rows(state, {}, backoff)))
        cluster = ClusterState(hosts=states, observed_at=time.time())
        observed = await rc.assess(cluster)
        self._last = observed
        self._views = await self._lb_views(session, observed)
        yield Snapshot(
            hosts=tuple(self._host_row(states[h.name]) for h in session.inventory),
            services=tuple(self._service_rows(session, observed)),
            replicas=tuple(
                row for h in states.values() for row in _replica_rows(h, observed.health, backoff)
            ),
            frontends=tuple(self._frontends()),
            observed_at=observed.now,
        )

    def _host_row(self, state: HostState) -> HostRow:
        used_cpu = sum(p.requests.cpu for p in state.pods)
        used_memory = sum(p.requests.memory for p in state.pods)
        host = self._inventory_host(state.name)
        return HostRow(
            name=state.name,
            address=state.address,
            reachable=state.reachable,
            error=state.error,
            round_trip_ms=state.round_trip_ms,
            engine=f"{host.engine.value} {state.engine_version}".strip()
            if state.reachable
            else None,
            cpu_requested_m=used_cpu,
            cpu_capacity_m=state.capacity.cpu,
            memory_requested=used_memory,
            memory_capacity=state.capacity.memory,
            replicas=len(state.pods),
            cordoned=state.cordoned,
            labels=state.labels,
            zone=state.zone,
            roles=host.roles,
            observed_at=self._last_ok.get(state.name),
        )

    def _inventory_host(self, name: str) -> Any:
        assert self._session is not None  # refresh opened it
        return self._session.inventory.host(name)

    def _service_rows(self, session: Session, observed: Observed) -> list[ServiceRow]:
        rows = []
        scale = session.journal.scope("autoscale")
        for (app, name), target in sorted(observed.targets.items()):
            service = target.service
            roll = rollup(service, observed.cluster, observed.health, observed.now)
            canary = None
            if service.canary_active:
                pods = [
                    p
                    for p in observed.cluster.pods()
                    if (p.app, p.service) == (app, name) and p.canary
                ]
                canary = Canary(
                    revision=service.revision,
                    weight=service.canary_weight,
                    replicas=service.canary_replicas,
                    ready=sum(1 for p in pods if (h := observed.health.get(p.key)) and h.ready),
                )
            pending = tuple(
                f"{d.replica}: fits on no host ("
                + "; ".join(f"{r.host}: {r.reason}" for r in d.rejected)
                + ")"
                for d in observed.plan.pending
                if d.service == name
            )
            rows.append(
                ServiceRow(
                    app=app,
                    name=name,
                    desired=roll.desired,
                    ready=roll.ready,
                    up_to_date=roll.up_to_date,
                    available=roll.available,
                    revision=roll.revision,
                    rollout=roll.progress + (f" ({target.note})" if target.note else ""),
                    strategy=service.strategy.value,
                    autoscaler=autoscale.summary(scale.get(name)),
                    canary=canary,
                    pending=pending,
                )
            )
        known = set(observed.targets)
        others = Counter(
            (p.app, p.service) for p in observed.cluster.pods() if (p.app, p.service) not in known
        )
        for (app, name), count in sorted(others.items()):
            rows.append(
                ServiceRow(app, name, count, 0, 0, 0, "", rollout="not in these blueprints")
            )
        return rows

    async def _lb_views(self, session: Session, observed: Observed) -> dict[str, LbHostView]:
        try:
            return await lb_views(session, observed)
        except FleetError:
            return {}

    def _frontends(self) -> list[FrontendRow]:
        by_section: dict[str, tuple[Any, list[str]]] = {}
        for host, view in sorted(self._views.items()):
            for frontend in view.frontends:
                entry = by_section.setdefault(frontend.name, (frontend, []))
                entry[1].append(host)
        rows = []
        for frontend, hosts in by_section.values():
            rows.append(
                FrontendRow(
                    app=frontend.app,
                    service=frontend.service,
                    bind_port=frontend.listen_port,
                    lb_hosts=tuple(hosts),
                    servers=tuple(
                        ServerRow(s.name, s.address, s.state, s.weight, s.check)
                        for s in frontend.servers
                    ),
                )
            )
        return rows

    # -- reading -----------------------------------------------------------------------------
    async def events(self, after_id: int) -> Sequence[EventRow]:
        session = await self._open()
        return [_event_row(e) for e in session.journal.events(after_id=after_id, limit=300)]

    async def describe(self, target: Target) -> Describe:
        session = await self._open()
        recent = session.journal.events(limit=500)
        if isinstance(target, HostRef):
            return self._describe_host(target, recent)
        if isinstance(target, ServiceRef):
            return self._describe_service(session, target, recent)
        return self._describe_pod(session, target, recent)

    def _describe_host(self, target: HostRef, recent: Sequence[Any]) -> Describe:
        state = self._last.cluster.hosts.get(target.name) if self._last else None
        facts: tuple[tuple[str, str], ...] = ()
        if state is not None:
            facts = (
                ("address", state.address),
                ("reachable", "yes" if state.reachable else f"no: {state.error}"),
                ("engine", state.engine_version or "?"),
                ("capacity", f"cpu {state.capacity.cpu}m, memory {state.capacity.memory} B"),
                ("cordoned", "draining" if state.draining else str(state.cordoned).lower()),
                ("pods", ", ".join(p.name for p in state.pods) or "none"),
            )
        events = [e for e in recent if e.host == target.name]
        return Describe(f"host {target.name}", facts, events=_rows(events))

    def _describe_service(
        self, session: Session, target: ServiceRef, recent: Sequence[Any]
    ) -> Describe:
        from fleet.spec.dump import object_data

        deployment = session.blueprint.deployments.get(target.name)
        spec = yaml.safe_dump(object_data(deployment), sort_keys=False) if deployment else ""
        observed = self._last
        pods = [
            p
            for p in (observed.cluster.pods() if observed else [])
            if p.app == target.app and p.service == target.name
        ]
        rejected = [
            PlacementReason(host, reason, p.replica)
            for p in pods
            for host, reason in self._placement(session, p.key).items()
        ]
        for decision in observed.plan.pending if observed else ():
            if decision.service == target.name:
                rejected += [
                    PlacementReason(r.host, r.reason, decision.replica) for r in decision.rejected
                ]
        events = [e for e in recent if e.service == target.name and e.app == target.app]
        return Describe(
            f"service {target}",
            spec=spec,
            placed=tuple((p.replica, p.host) for p in pods),
            rejected=tuple(rejected),
            events=_rows(events),
        )

    def _describe_pod(self, session: Session, target: PodRef, recent: Sequence[Any]) -> Describe:
        pod = self._find(target)
        if pod is None:
            raise FleetError(f"{target} is not running any more")
        facts = (
            ("host", pod.host),
            ("state", pod.main.state.value if pod.main else "incomplete"),
            ("revision", pod.revision),
            ("address", pod.ip or "?"),
            ("ports", ", ".join(f"{c}->{h}" for c, h in pod.ports) or "none"),
        )
        placement = self._placement(session, pod.key)
        probe = session.journal.get("probe", pod.key) or {}
        probes = tuple(
            ProbeResult(
                pod.name,
                kind,
                counter.get("last_result") == "success",
                counter.get("last_reason") or counter.get("last_result") or "",
                counter.get("last_run") or 0.0,
            )
            for kind, counter in sorted((probe.get("counters") or {}).items())
        )
        events = [
            e
            for e in recent
            if (e.app, e.service, e.replica) == (pod.app, pod.service, pod.replica)
        ]
        return Describe(
            f"pod {target}",
            facts,
            placed=((pod.replica, pod.host),),
            rejected=tuple(PlacementReason(h, r, pod.replica) for h, r in placement.items()),
            events=_rows(events),
            probes=probes,
        )

    def _placement(self, session: Session, key: str) -> dict[str, str]:
        entry = session.journal.get("placement", key) or {}
        return dict(entry.get("rejected", {})) if isinstance(entry, dict) else {}

    def _find(self, ref: PodRef) -> ActualPod | None:
        if self._last is None:
            return None
        host = self._last.cluster.hosts.get(ref.host)
        return next(
            (p for p in (host.pods if host else ()) if p.name == ref.pod and p.app == ref.app),
            None,
        )

    async def logs(self, target: PodRef | ServiceRef, follow: bool) -> AsyncIterator[str]:
        session = await self._open()
        name = target.pod if isinstance(target, PodRef) else target.name
        async for line in operations.logs(session, name, follow=follow, app=target.app):
            yield line

    async def shell_argv(self, pod: PodRef) -> list[str]:
        session = await self._open()
        found = self._find(pod)
        if found is None or not found.containers:
            raise FleetError(f"{pod} is not running any more")
        host = session.inventory.host(pod.host)
        argv = ["ssh", "-t", "-p", str(host.port), "-o", "StrictHostKeyChecking=yes"]
        if host.identity is not None:
            argv += ["-i", str(host.identity), "-o", "IdentitiesOnly=yes"]
        if host.known_hosts is not None:
            argv += ["-o", f"UserKnownHostsFile={host.known_hosts}"]
        engine = host.engine.value
        container = found.containers[0].name  # built from validated names
        return [*argv, f"{host.user}@{host.address}", engine, "exec", "-it", container, "sh"]

    # -- actions --------------------------------------------------------------------------------
    async def _act(self, what: str, work: Callable[[Session], Awaitable[str]]) -> Outcome:
        session = await self._open()
        try:
            async with session.lock(f"ui {what}"):
                message = await work(session)
        except FleetError as exc:
            return Outcome(False, str(exc))
        return Outcome(True, message)

    async def _on_service(
        self,
        what: str,
        done: str,
        op: Callable[..., Awaitable[RunOutcome]],
        service: ServiceRef,
        *args: Any,
    ) -> Outcome:
        """`op(session, service.name, *args)` under the lock, summed up as "{service} {done}"."""

        async def work(session: Session) -> str:
            return _summary(f"{service} {done}", await op(session, service.name, *args))

        return await self._act(what, work)

    async def scale(self, service: ServiceRef, replicas: int) -> Outcome:
        done = f"scaled to {replicas}"
        return await self._on_service("scale", done, operations.scale, service, replicas)

    async def restart(self, service: ServiceRef) -> Outcome:
        return await self._on_service("restart", "restarted", operations.rolling_restart, service)

    async def rollout_undo(self, service: ServiceRef) -> Outcome:
        return await self._on_service("rollout undo", "rolled back", operations.undo, service)

    async def promote(self, service: ServiceRef) -> Outcome:
        return await self._on_service("promote", "canary promoted", operations.promote, service)

    async def abort(self, service: ServiceRef) -> Outcome:
        return await self._on_service("abort", "canary aborted", operations.abort, service)

    async def _mark(self, host: str, kind: str) -> Outcome:
        async def work(session: Session) -> str:
            await operations.mark_host(session.pool, session.journal, host, kind=kind)
            return f"{host}: {kind} done"

        return await self._act(kind, work)

    async def cordon(self, host: str) -> Outcome:
        return await self._mark(host, "cordon")

    async def uncordon(self, host: str) -> Outcome:
        return await self._mark(host, "uncordon")

    async def drain(self, host: str) -> Outcome:
        return await self._mark(host, "drain")

    async def plan_apply(self) -> PlanPreview:
        session = await self._open()
        observed = await session.reconciler.look()
        text = "\n".join(
            line
            for _, line in plan_lines(
                observed.plan, observed.targets, observed.cluster.hosts.values()
            )
        )
        return PlanPreview(text, not observed.plan.empty)

    async def apply(self) -> Outcome:
        async def work(session: Session) -> str:
            rc = session.reconciler
            return _summary("apply", await rc.converge(await rc.look()))

        return await self._act("apply", work)


def _replica_rows(
    state: HostState, health: dict[str, PodHealth], backoff: dict[str, Any]
) -> list[ReplicaRow]:
    rows = []
    for pod in state.pods:
        main = pod.main
        h = health.get(pod.key)
        rows.append(
            ReplicaRow(
                pod=pod.name,
                replica=pod.replica,
                service=pod.service,
                app=pod.app,
                host=pod.host,
                state=main.state.value if main else "incomplete",
                ready=h.ready if h else None,
                live=h.live if h else None,
                restarts=sum(c.restart_count for c in pod.containers) + _backed_off(backoff, pod),
                started_at=pod.started_at,
                revision=pod.revision,
                ports=tuple(f"{c}->{hp}" for c, hp in pod.ports),
                ip=pod.ip,
                reason=(h.reason if h and not h.ready else "") or _exit(pod),
                canary=pod.canary,
            )
        )
    return rows


def _backed_off(backoff: dict[str, Any], pod: ActualPod) -> int:
    """The restarts fleet itself made (the journal's back-off count of the pod)."""
    entry = backoff.get(pod.key) or {}
    return int(entry.get("count", 0)) if isinstance(entry, dict) else 0


def _exit(pod: ActualPod) -> str:
    main = pod.main
    if main is None or pod.running:
        return ""
    return f"{main.state.value}" + (
        f" (exit {main.exit_code})" if main.exit_code is not None else ""
    )


def _summary(what: str, outcome: RunOutcome) -> str:
    failed = outcome.failures
    text = f"{what}: {len(outcome.results) - len(failed)} action(s) done"
    if failed:
        text += f", {len(failed)} failed ({failed[0].error})"
    if outcome.failed_rollouts:
        text += "; " + "; ".join(outcome.failed_rollouts)
    return text


def _event_row(event: Any) -> EventRow:
    level = "error" if event.kind in ERRORS else "warning" if event.kind in WARNINGS else "info"
    return EventRow(
        id=event.id,
        time=event.ts,
        kind=event.kind,
        message=event.message,
        host=event.host,
        service=f"{event.app}/{event.service}" if event.service else None,
        replica=event.replica,
        level=level,  # type: ignore[arg-type]
    )


def _rows(events: Sequence[Any]) -> tuple[EventRow, ...]:
    return tuple(_event_row(e) for e in events[-20:])
