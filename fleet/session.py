"""A run against a cluster: files loaded, one SSH pool, the engine, the journal, the reconciler.

`fleet plan`, `apply`, `heal`, the operations (`scale`, `restart`, `rollout`,
`cordon` ...) and the UI's live source all start here, so they see the
cluster the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fleet.desired import persistent_volumes
from fleet.journal import Journal, cluster_dir
from fleet.lock import ClusterLock, LocalLock
from fleet.reconcile import OBSERVE_TIMEOUT, Reconciler
from fleet.remote.engine import Engine
from fleet.remote.ssh import SSHPool
from fleet.spec.blueprint import Blueprint
from fleet.spec.documents import load_blueprints
from fleet.spec.inventory import Inventory
from fleet.spec.loader import load_inventory

FACTS_SCOPE = "hostfacts"  # journal scope: each host's engine facts and when they were read


@dataclass(frozen=True)
class Sources:
    """The files a run reads (what the operator typed)."""

    inventory: Path
    blueprints: tuple[Path, ...]
    values: tuple[Path, ...] = ()
    sets: tuple[str, ...] = ()


def load(sources: Sources) -> tuple[Inventory, Blueprint]:
    """Both files validated; SpecErrors with every problem otherwise (nothing touched yet)."""
    inventory = load_inventory(sources.inventory)
    blueprint = load_blueprints(
        list(sources.blueprints),
        values_files=list(sources.values),
        sets=list(sources.sets),
        inventory=inventory,
    )
    return inventory, blueprint


@dataclass
class Session:
    sources: Sources
    inventory: Inventory
    blueprint: Blueprint
    pool: SSHPool
    engine: Engine
    journal: Journal
    reconciler: Reconciler

    def lock(self, command: str) -> ClusterLock:
        """The cluster's lock for one command (`async with session.lock("heal"): ...`):
        local, and on the first inventory host that answers."""
        local = LocalLock(cluster_dir(self.inventory.name), self.inventory.name, command)
        return ClusterLock(local, self.pool, list(self.inventory.hosts))


@asynccontextmanager
async def open_session(
    sources: Sources,
    *,
    lock: str | None = None,
    lost_after: float | None = None,
    say: Callable[[str], None] = lambda line: None,
    probes: bool = True,
) -> AsyncIterator[Session]:
    """Load, lock (when `lock` names the command: locally and on the cluster), connect
    lazily; always cleaned up."""
    inventory, blueprint = load(sources)
    journal = Journal(cluster_dir(inventory.name) / "journal.sqlite")
    engine: Engine | None = None
    try:
        async with SSHPool(inventory) as pool:
            engine = Engine(pool)
            engine.remember_facts(journal.scope(FACTS_SCOPE))
            # volumes matter to stateful services only (where their data lives); the
            # journal keeps each host's last list for the runs that skip it, so a host
            # without one yet is listed anyway
            remembered = journal.scope("snapshot")
            engine.list_volumes = any(
                persistent_volumes(d) for d in blueprint.deployments.values()
            ) or any(h.name not in remembered for h in inventory)
            reconciler = Reconciler(
                inventory=inventory,
                blueprint=blueprint,
                pool=pool,
                engine=engine,
                journal=journal,
                lost_after=lost_after,
                # hosts the inventory calls slow to connect (emulated VMs: connect_timeout 15s)
                # are slow to answer an observation too
                observe_timeout=max([OBSERVE_TIMEOUT, *(2 * h.connect_timeout for h in inventory)]),
                say=say,
            )
            _attach_health_and_lb(reconciler, probes=probes)
            session = Session(sources, inventory, blueprint, pool, engine, journal, reconciler)
            if lock is None:
                yield session
            else:
                # a locked run observes every host next: their handshakes overlap the lock's
                pool.prefetch(inventory.hosts)
                async with session.lock(lock):
                    yield session
    finally:
        if engine is not None:  # host facts read in this run serve the next for a while
            for host, record in engine.facts_record().items():
                journal.put(FACTS_SCOPE, host, record)
        journal.close()


def _attach_health_and_lb(reconciler: Reconciler, *, probes: bool) -> None:
    """Readiness from probes and HAProxy on the lb hosts (not for read-only commands like
    `fleet logs`, which need neither)."""
    if probes:
        from fleet.health import attach

        attach(reconciler)
