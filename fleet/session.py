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

from fleet.journal import Journal, cluster_dir
from fleet.lock import ClusterLock, LocalLock
from fleet.reconcile import Reconciler
from fleet.remote.engine import Engine
from fleet.remote.ssh import SSHPool
from fleet.spec.blueprint import Blueprint
from fleet.spec.documents import load_blueprints
from fleet.spec.inventory import Inventory
from fleet.spec.loader import load_inventory


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
    try:
        async with SSHPool(inventory) as pool:
            engine = Engine(pool)
            reconciler = Reconciler(
                inventory=inventory,
                blueprint=blueprint,
                pool=pool,
                engine=engine,
                journal=journal,
                lost_after=lost_after,
                say=say,
            )
            _attach_health_and_lb(reconciler, probes=probes)
            session = Session(sources, inventory, blueprint, pool, engine, journal, reconciler)
            if lock is None:
                yield session
            else:
                async with session.lock(lock):
                    yield session
    finally:
        journal.close()


def _attach_health_and_lb(reconciler: Reconciler, *, probes: bool) -> None:
    """Readiness from probes and HAProxy on the lb hosts (not for read-only commands like
    `fleet logs`, which need neither)."""
    if probes:
        from fleet.health import attach

        attach(reconciler)
