"""The Services view: desired / ready / up-to-date / available, rollout and autoscaler state."""

from __future__ import annotations

from collections.abc import Mapping

from fleet.tui import format as fmt
from fleet.tui.format import Cell
from fleet.tui.model import ClusterModel
from fleet.tui.source import ServiceRow
from fleet.tui.views.base import Column, Context, TableView


class ServicesView(TableView):
    """One row per service, counted like `kubectl get deploy`."""

    KIND = "services"
    DEFAULT_SORT = "name"
    COLUMNS = (
        Column("name", "NAME"),
        Column("ready", "READY"),
        Column("uptodate", "UP-TO-DATE"),
        Column("available", "AVAILABLE"),
        Column("rollout", "ROLLOUT"),
        Column("strategy", "STRATEGY"),
        Column("canary", "CANARY"),
        Column("autoscaler", "AUTOSCALER"),
        Column("revision", "REVISION"),
        Column("pending", "PENDING"),
    )

    def rows(self, model: ClusterModel) -> Mapping[str, ServiceRow]:
        return model.services

    def cells(self, row: ServiceRow, ctx: Context) -> tuple[Cell, ...]:
        rolling = row.up_to_date < row.desired
        canary = "-"
        if row.canary is not None:
            canary = (f"{row.canary.ready}/{row.canary.replicas} {row.canary.revision[:7]} "
                      f"@{row.canary.weight}%")
        return (
            Cell(row.key, "bold"),
            fmt.ratio(row.ready, row.desired),
            fmt.number(row.up_to_date, "yellow" if rolling else ""),
            fmt.number(row.available, "yellow" if row.available < row.desired else ""),
            Cell(row.rollout or "-", "yellow" if row.rollout.startswith("rolling") else ""),
            Cell(row.strategy),
            Cell(canary, "magenta" if row.canary else "dim"),
            Cell(row.autoscaler or "-", "" if row.autoscaler else "dim"),
            Cell(row.revision, "dim"),
            Cell("; ".join(row.pending) or "", "red"),
        )
