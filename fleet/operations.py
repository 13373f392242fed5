"""Day-two operations: scale, rolling restart, rollout history/undo/promote/abort,
cordon/uncordon/drain, logs. Shared by the CLI and the UI; each leaves an event.

Each operation changes one input of the reconcile (the blueprint file, a pin
or canary record in the journal, a cordon marker on a host) and then lets the
ordinary reconcile loop do the work, so there is one way things happen.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from fleet.edit import set_replicas
from fleet.errors import FleetError
from fleet.execute import run_wave
from fleet.journal import Journal, Revision
from fleet.model import Action, ActionKind, Bucket
from fleet.observed import Outcome
from fleet.remote.argv import CORDON_REMOVE, CORDON_WRITE
from fleet.remote.ssh import SSHPool
from fleet.session import Session, load


def _deployment(session: Session, service: str) -> str:
    if service not in session.blueprint.deployments:
        known = ", ".join(sorted(session.blueprint.deployments)) or "none"
        raise FleetError(f"no Deployment named {service!r} in the blueprints (known: {known})")
    return session.blueprint.deployments[service].app


async def scale(session: Session, service: str, replicas: int) -> Outcome:
    """Write the new count into the blueprint file (comments kept), then apply."""
    app = _deployment(session, service)
    path = set_replicas(list(session.sources.blueprints), service, replicas)
    session.journal.event(
        "scale", f"{service} scaled to {replicas} in {path}", app=app, service=service
    )
    _reload(session)
    return await session.reconciler.converge(await session.reconciler.look())


def _reload(session: Session) -> None:
    """Re-read the blueprints after an edit (the reconciler keeps the new ones)."""
    _, blueprint = load(session.sources)
    session.blueprint = blueprint
    session.reconciler.blueprint = blueprint
    session.reconciler.__post_init__()


async def rolling_restart(
    session: Session, service: str, say: Callable[[str], None] = lambda s: None
) -> Outcome:
    """Restart the service's pods one at a time: drain, restart, wait until ready."""
    app = _deployment(session, service)
    reconciler = session.reconciler
    observed = await reconciler.look()
    target = observed.targets[(app, service)]
    pods = sorted(
        (p for h in observed.cluster.reachable_hosts() for p in h.pods),
        key=lambda p: (p.canary, p.slot),
    )
    mine = [p for p in pods if p.app == app and p.service == service]
    session.journal.event(
        "restart", f"rolling restart of {service} ({len(mine)} pods)", app=app, service=service
    )
    outcome = Outcome(converged=False)
    deadline = target.service.progress_deadline_seconds
    for pod in mine:
        action = Action(
            kind=ActionKind.restart,
            host=pod.host,
            app=app,
            service=service,
            slot=pod.slot,
            revision=pod.revision,
            bucket=Bucket.unhealthy,
            reason="rolling restart",
            canary=pod.canary,
        )
        say(f"restarting {pod.name} on {pod.host}")
        results = await run_wave(reconciler.runtime(observed), observed.cluster, [action])
        outcome.results.extend(results)
        if not results[0].ok:
            break
        started = time.monotonic()
        while True:
            observed = await reconciler.look(gate=True)
            health = observed.health.get(pod.key)
            if health is not None and health.ready:
                break
            if time.monotonic() - started > deadline:
                raise FleetError(f"{pod.name} not ready {deadline:.0f} s after its restart")
            await asyncio.sleep(0.5)
        await reconciler.load_balancer.sync(observed.cluster, observed.health, observed.desired)
    outcome.converged = all(r.ok for r in outcome.results)
    outcome.last = observed
    return outcome


@dataclass(frozen=True)
class HistoryEntry:
    revision: str
    first_seen: float
    last_deployed: float
    image: str
    current: bool
    file: bool  # what the blueprint file asks for now


def history(session: Session, service: str) -> list[HistoryEntry]:
    app = _deployment(session, service)
    deployed = session.journal.get("deployed", service)
    file_rev = session.reconciler.file_revisions[service]
    return [
        HistoryEntry(
            revision=r.revision,
            first_seen=r.first_seen,
            last_deployed=r.last_deployed,
            image=_image(r),
            current=r.revision == deployed,
            file=r.revision == file_rev,
        )
        for r in session.journal.revisions(app, service)
    ]


def _image(revision: Revision) -> str:
    try:
        containers = revision.spec["spec"]["template"]["spec"]["containers"]
        return ", ".join(str(c.get("image", "?")) for c in containers)
    except (KeyError, TypeError):
        return "?"


async def undo(session: Session, service: str, to_revision: str | None = None) -> Outcome:
    """Go back to the revision before the current one (or a given one) and hold it there
    while the blueprint file still asks for what is running now."""
    app = _deployment(session, service)
    revisions = session.journal.revisions(app, service)
    deployed = session.journal.get("deployed", service)
    file_rev = session.reconciler.file_revisions[service]
    if to_revision is None:
        earlier = [r for r in revisions if r.revision != deployed]
        if not earlier:
            raise FleetError(f"{service} has no earlier revision to go back to")
        to_revision = earlier[-1].revision
    elif not any(r.revision == to_revision for r in revisions):
        known = ", ".join(r.revision for r in revisions) or "none"
        raise FleetError(f"{service} has no revision {to_revision} (known: {known})")
    session.journal.put(
        "pin",
        service,
        {"revision": to_revision, "while": file_rev, "reason": "rollout undo"},
    )
    session.journal.event(
        "rollout-undo", f"{service}: back to revision {to_revision}", app=app, service=service
    )
    return await session.reconciler.converge(await session.reconciler.look())


async def promote(session: Session, service: str) -> Outcome:
    """Canary: roll the new revision out to every replica."""
    app = _deployment(session, service)
    record = session.journal.get("canary", service)
    if not record:
        raise FleetError(f"{service} has no canary out")
    session.journal.put("canary", service, {**record, "promoted": True})
    session.journal.event(
        "canary-promote", f"{service}: promoting {record.get('canary')}", app=app, service=service
    )
    return await session.reconciler.converge(await session.reconciler.look())


async def abort(session: Session, service: str) -> Outcome:
    """Canary: remove the canary replicas and stay on the stable revision."""
    app = _deployment(session, service)
    record = session.journal.get("canary", service)
    if not record:
        raise FleetError(f"{service} has no canary out")
    session.journal.put(
        "pin",
        service,
        {
            "revision": record["stable"],
            "while": session.reconciler.file_revisions[service],
            "reason": "canary aborted",
        },
    )
    session.journal.delete("canary", service)
    session.journal.event(
        "canary-abort",
        f"{service}: canary {record.get('canary')} aborted, back to {record['stable']}",
        app=app,
        service=service,
    )
    return await session.reconciler.converge(await session.reconciler.look())


async def mark_host(
    pool: SSHPool, journal: Journal, host: str, *, kind: str, reason: str = ""
) -> None:
    """cordon: place nothing new on the host; drain: also move its replicas away;
    uncordon: undo both. The mark lives on the host itself, so every controller sees it."""
    if kind == "uncordon":
        await pool.run(host, ["sh", "-c", CORDON_REMOVE])
        journal.event("uncordon", f"{host} takes new replicas again", host=host)
        return
    if kind not in ("cordon", "drain"):
        raise ValueError(f"unknown host mark {kind!r}")
    marker = json.dumps({"drain": kind == "drain", "reason": reason, "at": time.time()})
    await pool.run(host, ["sh", "-c", CORDON_WRITE], stdin=marker.encode())
    journal.event(
        kind,
        f"{host} {'drained' if kind == 'drain' else 'cordoned'}"
        + (f": {reason}" if reason else ""),
        host=host,
    )


async def logs(
    session: Session, target: str, *, follow: bool, tail: int = 50, app: str | None = None
) -> AsyncIterator[str]:
    """Log lines of a pod (`web-0.3f9a1c2b7e`), a replica (`web-0`) or all pods of a service,
    each prefixed with its pod name; only pods of `app`, by default of the blueprints' apps."""
    observed = await session.reconciler.look()
    apps = frozenset({app}) if app else session.reconciler.apps
    pods = [
        p
        for h in observed.cluster.reachable_hosts()
        for p in h.pods
        if p.app in apps and target in (p.name, p.replica, p.service)
    ]
    if not pods:
        raise FleetError(f"no running pod matches {target!r} in {', '.join(sorted(apps))}")
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def pump(pod_name: str, host: str, container: str) -> None:
        try:
            if follow:
                async with session.engine.follow_logs(host, container, tail=tail) as process:
                    async for line in process.lines():
                        await queue.put(f"{pod_name} | {line}")
            else:
                text = await session.engine.logs(host, container, tail=tail)
                for line in text.splitlines():
                    await queue.put(f"{pod_name} | {line}")
        finally:
            await queue.put(None)

    tasks = [
        asyncio.create_task(pump(p.name, p.host, p.containers[0].name))
        for p in pods
        if p.containers
    ]
    open_ = len(tasks)
    try:
        while open_:
            item = await queue.get()
            if item is None:
                open_ -= 1
                continue
            yield item
    finally:
        for task in tasks:
            task.cancel()
