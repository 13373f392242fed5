"""The local store (SQLite): what a stateless read of the hosts cannot tell.

Events, probe failure counters between cron runs, crash-loop back-off, the
last observation of each host (so an unreachable host is "unknown", not
"empty"), rollout history with each revision's pod spec, pins from
`rollout undo` and automatic rollbacks, canary promotions, autoscaler state.

Losing this file never loses a workload: the hosts' container labels are the
source of truth for what exists. Without it fleet forgets history and counts,
and is more careful (a host of unknown contents holds back stateful replicas).

One connection per process; WAL so `fleet events --follow` and the UI read
while apply or heal write. Every write is its own short transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    host TEXT, app TEXT, service TEXT, replica TEXT,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_service ON events(service, id);
CREATE TABLE IF NOT EXISTS facts (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS revisions (
    app TEXT NOT NULL,
    service TEXT NOT NULL,
    revision TEXT NOT NULL,
    spec TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_deployed REAL NOT NULL,
    PRIMARY KEY (app, service, revision)
);
"""


def state_dir() -> Path:
    """$FLEET_STATE_DIR, else $XDG_STATE_HOME/fleet, else ~/.local/state/fleet."""
    if env := os.environ.get("FLEET_STATE_DIR"):
        return Path(env)
    xdg = os.environ.get("XDG_STATE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "fleet"


def cluster_dir(cluster: str) -> Path:
    """Where one cluster's (inventory's) journal and lock live."""
    return state_dir() / cluster


@dataclass(frozen=True)
class Event:
    id: int
    ts: float
    kind: str
    message: str
    host: str | None = None
    app: str | None = None
    service: str | None = None
    replica: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.ts,
            "kind": self.kind,
            "host": self.host,
            "app": self.app,
            "service": self.service,
            "replica": self.replica,
            "message": self.message,
        }


@dataclass(frozen=True)
class Revision:
    app: str
    service: str
    revision: str
    spec: dict[str, Any]
    first_seen: float
    last_deployed: float


class Journal:
    """Typed access to the store. Scopes of `facts` are named by the methods using them."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    @classmethod
    def for_cluster(cls, cluster: str) -> Journal:
        return cls(cluster_dir(cluster) / "journal.sqlite")

    def close(self) -> None:
        self.db.close()

    # -- events ---------------------------------------------------------------------------
    def event(
        self,
        kind: str,
        message: str,
        *,
        host: str | None = None,
        app: str | None = None,
        service: str | None = None,
        replica: str | None = None,
        ts: float | None = None,
    ) -> Event:
        when = time.time() if ts is None else ts
        cursor = self.db.execute(
            "INSERT INTO events (ts, kind, host, app, service, replica, message)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (when, kind, host, app, service, replica, message),
        )
        assert cursor.lastrowid is not None
        return Event(cursor.lastrowid, when, kind, message, host, app, service, replica)

    def events(
        self,
        *,
        after_id: int = 0,
        service: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Events after `after_id`, oldest first; with `limit`, the newest `limit` of them."""
        where, args = ["id > ?"], [after_id]
        if service is not None:
            where.append("service = ?")
            args.append(service)  # type: ignore[arg-type]
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)  # type: ignore[arg-type]
        sql = (
            "SELECT id, ts, kind, message, host, app, service, replica FROM events"
            f" WHERE {' AND '.join(where)} ORDER BY id DESC"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self.db.execute(sql, args).fetchall()
        return [Event(*row) for row in reversed(rows)]

    # -- facts: small JSON values by scope and key ---------------------------------------------
    def get(self, scope: str, key: str, default: Any = None) -> Any:
        row = self.db.execute(
            "SELECT value FROM facts WHERE scope = ? AND key = ?", (scope, key)
        ).fetchone()
        return default if row is None else json.loads(row[0])

    def put(self, scope: str, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT INTO facts (scope, key, value, updated) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value,"
            " updated = excluded.updated",
            (scope, key, json.dumps(value, sort_keys=True), time.time()),
        )

    def delete(self, scope: str, key: str) -> None:
        self.db.execute("DELETE FROM facts WHERE scope = ? AND key = ?", (scope, key))

    def scope(self, scope: str) -> dict[str, Any]:
        rows = self.db.execute("SELECT key, value FROM facts WHERE scope = ?", (scope,))
        return {key: json.loads(value) for key, value in rows}

    def replace_scope(self, scope: str, values: dict[str, Any]) -> None:
        """Make the scope hold exactly these keys (stale keys go), in one transaction."""
        now = time.time()
        with self._transaction():
            self.db.execute("DELETE FROM facts WHERE scope = ?", (scope,))
            self.db.executemany(
                "INSERT INTO facts (scope, key, value, updated) VALUES (?, ?, ?, ?)",
                [(scope, k, json.dumps(v, sort_keys=True), now) for k, v in values.items()],
            )

    # -- rollout history ------------------------------------------------------------------
    def record_revision(
        self, app: str, service: str, revision: str, spec: dict[str, Any], now: float
    ) -> bool:
        """Remember a revision's pod spec; True if it was new."""
        cursor = self.db.execute(
            "INSERT INTO revisions (app, service, revision, spec, first_seen, last_deployed)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (app, service, revision, json.dumps(spec, sort_keys=True), now, now),
        )
        return cursor.rowcount == 1

    def mark_deployed(self, app: str, service: str, revision: str, now: float) -> None:
        self.db.execute(
            "UPDATE revisions SET last_deployed = ? WHERE app = ? AND service = ? AND revision = ?",
            (now, app, service, revision),
        )

    def revisions(self, app: str, service: str) -> list[Revision]:
        """Oldest first (by when each revision was last deployed)."""
        rows = self.db.execute(
            "SELECT app, service, revision, spec, first_seen, last_deployed FROM revisions"
            " WHERE app = ? AND service = ? ORDER BY last_deployed, first_seen",
            (app, service),
        ).fetchall()
        return [Revision(a, s, r, json.loads(spec), f, d) for a, s, r, spec, f, d in rows]

    def revision(self, app: str, service: str, revision: str) -> Revision | None:
        return next((r for r in self.revisions(app, service) if r.revision == revision), None)

    def prune_revisions(self, app: str, service: str, keep: int, protect: set[str]) -> None:
        """Honour revisionHistoryLimit: keep the newest `keep` old revisions plus `protect`."""
        history = [r for r in self.revisions(app, service) if r.revision not in protect]
        for old in history[: max(len(history) - keep, 0)]:
            self.db.execute(
                "DELETE FROM revisions WHERE app = ? AND service = ? AND revision = ?",
                (app, service, old.revision),
            )

    # -- helpers ----------------------------------------------------------------------------
    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> None:
            self.db.execute("BEGIN IMMEDIATE")

        def __exit__(self, kind: object, *_: object) -> None:
            self.db.execute("ROLLBACK" if kind else "COMMIT")

    def _transaction(self) -> Journal._Tx:
        return Journal._Tx(self.db)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def iter_follow(
    journal: Journal, *, after_id: int, service: str | None, poll: float
) -> Iterator[Event]:
    """Yield new events as they are written (for `fleet events --follow`)."""
    last = after_id
    while True:
        batch = journal.events(after_id=last, service=service)
        yield from batch
        if batch:
            last = batch[-1].id
        else:
            time.sleep(poll)
