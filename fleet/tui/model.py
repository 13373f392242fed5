"""The UI's copy of the cluster: rows by key, updated from a `StateSource`'s stream.

Pure (no textual): `ClusterModel.apply(update)` folds a `HostUpdate` or a
`Snapshot` into dictionaries keyed like the tables' rows and says which kinds
of rows changed, so the app syncs only the views that need it. Events are
kept as a bounded tail.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from fleet.tui.source import (
    EventRow,
    FrontendRow,
    HostRow,
    HostUpdate,
    ReplicaRow,
    ServiceRow,
    Snapshot,
    Update,
)

Kind = Literal["hosts", "services", "replicas", "lb", "events"]
KINDS: tuple[Kind, ...] = ("hosts", "services", "replicas", "lb", "events")
MAX_EVENTS = 2000
Row = TypeVar("Row")


@dataclass
class ClusterModel:
    """Rows by key, the time of the last complete snapshot, and a change counter per kind."""

    hosts: dict[str, HostRow] = field(default_factory=dict)
    services: dict[str, ServiceRow] = field(default_factory=dict)
    replicas: dict[str, ReplicaRow] = field(default_factory=dict)
    frontends: dict[str, FrontendRow] = field(default_factory=dict)
    events: deque[EventRow] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    observed_at: float | None = None  # the last Snapshot's time
    versions: dict[Kind, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    _by_host: dict[str, set[str]] = field(default_factory=dict)

    @property
    def last_event_id(self) -> int:
        return self.events[-1].id if self.events else 0

    def apply(self, update: Update) -> set[Kind]:
        """Fold one update in; returns the kinds whose rows changed."""
        if isinstance(update, HostUpdate):
            return self._apply_host(update)
        return self._apply_snapshot(update)

    def add_events(self, events: Iterable[EventRow]) -> bool:
        """Append new events (ids above the last one); True when any were new."""
        last = self.last_event_id
        fresh = [e for e in events if e.id > last]
        self.events.extend(sorted(fresh, key=lambda e: e.id))
        if fresh:
            self.versions["events"] += 1
        return bool(fresh)

    def replicas_of_service(self, app: str, service: str) -> list[ReplicaRow]:
        return [r for r in self.replicas.values() if r.app == app and r.service == service]

    def _apply_host(self, update: HostUpdate) -> set[Kind]:
        changed: set[Kind] = set()
        row = update.host
        if self.hosts.get(row.name) != row:
            self.hosts[row.name] = row
            changed.add("hosts")
        new = {r.key: r for r in update.replicas}
        old_keys = self._by_host.get(row.name, set())
        for key in old_keys - new.keys():
            del self.replicas[key]
            changed.add("replicas")
        for key, replica in new.items():
            if self.replicas.get(key) != replica:
                self.replicas[key] = replica
                changed.add("replicas")
        self._by_host[row.name] = set(new)
        self._bump(changed)
        return changed

    def _apply_snapshot(self, snap: Snapshot) -> set[Kind]:
        changed: set[Kind] = set()
        if _replace(self.hosts, {r.key: r for r in snap.hosts}):
            changed.add("hosts")
        if _replace(self.services, {r.key: r for r in snap.services}):
            changed.add("services")
        if _replace(self.replicas, {r.key: r for r in snap.replicas}):
            changed.add("replicas")
        if _replace(self.frontends, {r.key: r for r in snap.frontends}):
            changed.add("lb")
        by_host: dict[str, set[str]] = {}
        for replica in snap.replicas:
            by_host.setdefault(replica.host, set()).add(replica.key)
        self._by_host = by_host
        self.observed_at = snap.observed_at
        self._bump(changed)
        return changed

    def _bump(self, kinds: set[Kind]) -> None:
        for kind in kinds:
            self.versions[kind] += 1


def _replace(target: dict[str, Row], fresh: dict[str, Row]) -> bool:
    """Make `target` equal to `fresh` (in place); True when it was different."""
    if fresh == target:
        return False
    target.clear()
    target.update(fresh)
    return True
