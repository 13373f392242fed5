"""The Replicas view: every pod, its host, state, readiness, restarts, age, revision, ports."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

from fleet.tui import format as fmt
from fleet.tui.format import Cell
from fleet.tui.model import ClusterModel
from fleet.tui.source import ReplicaRow
from fleet.tui.views.base import Column, Context, TableView


def _ready(value: bool | None) -> Cell:
    if value is None:
        return Cell("?", "dim", 1)
    return Cell("yes", "green", 0) if value else Cell("no", "bold red", 2)


class ReplicasView(TableView):
    """One row per pod; rows on stale hosts say their state is last-known ("?")."""

    KIND = "replicas"
    DEFAULT_SORT = "pod"
    USES_CLOCK = True
    USES_STALE_HOSTS = True
    COLUMNS = (
        Column("pod", "POD"),
        Column("service", "SERVICE"),
        Column("host", "HOST"),
        Column("state", "STATE"),
        Column("ready", "READY"),
        Column("restarts", "RESTARTS"),
        Column("age", "AGE"),
        Column("revision", "REVISION"),
        Column("ports", "PORTS"),
        Column("ip", "IP"),
        Column("reason", "REASON"),
    )

    def rows(self, model: ClusterModel) -> Mapping[str, ReplicaRow]:
        return model.replicas

    def signature(self, row: ReplicaRow, ctx: Context) -> Hashable:
        started = None if row.started_at is None else fmt.age(ctx.now - row.started_at)
        return (row, started, row.host in ctx.stale_hosts)

    def cells(self, row: ReplicaRow, ctx: Context) -> tuple[Cell, ...]:
        stale = row.host in ctx.stale_hosts
        state_style = "green" if row.state == "running" else "bold red"
        state = Cell(f"{row.state}?" if stale else row.state, "dim" if stale else state_style)
        age_s = None if row.started_at is None else ctx.now - row.started_at
        restarts_style = "yellow" if row.restarts else ""
        return (
            Cell(f"{row.app}/{row.pod}", "magenta" if row.canary else "bold"),
            Cell(f"{row.app}/{row.service}"),
            Cell(row.host, "dim" if stale else ""),
            state,
            _ready(row.ready),
            fmt.number(row.restarts, restarts_style),
            Cell(fmt.age(age_s), "", -1.0 if age_s is None else age_s),
            Cell(row.revision, "dim"),
            Cell(",".join(row.ports) or "-"),
            Cell(row.ip or "-"),
            Cell(row.reason, "red"),
        )
