"""The Load balancer view: each frontend and its servers with state and weight."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fleet.tui import format as fmt
from fleet.tui.format import Cell
from fleet.tui.model import ClusterModel
from fleet.tui.source import ServerRow, ServiceRef
from fleet.tui.views.base import Column, Context, TableView

_STATE_STYLE = {"UP": "green", "DOWN": "bold red", "MAINT": "yellow", "DRAIN": "yellow"}


@dataclass(frozen=True)
class ServerLine:
    """One row of the view: a server of a frontend (frontends repeat, so sort/filter work).

    It carries the frontend's own fields, not the FrontendRow: comparing a line must not
    compare every other server of its frontend.
    """

    app: str
    service: str
    bind_port: int
    lb_hosts: tuple[str, ...]
    server: ServerRow | None  # None: a frontend without servers

    @property
    def ref(self) -> ServiceRef:
        return ServiceRef(self.app, self.service)


class LoadBalancerView(TableView):
    """One row per (frontend, server)."""

    KIND = "lb"
    DEFAULT_SORT = "frontend"
    COLUMNS = (
        Column("frontend", "FRONTEND"),
        Column("bind", "BIND"),
        Column("server", "SERVER"),
        Column("address", "ADDRESS"),
        Column("state", "STATE"),
        Column("weight", "WEIGHT"),
        Column("check", "CHECK"),
        Column("lbhosts", "LB HOSTS"),
    )

    def rows(self, model: ClusterModel) -> Mapping[str, ServerLine]:
        lines: dict[str, ServerLine] = {}
        for fe in model.frontends.values():
            head = (fe.app, fe.service, fe.bind_port, fe.lb_hosts)
            if not fe.servers:
                lines[f"{fe.key}/-"] = ServerLine(*head, None)
            for server in fe.servers:
                lines[f"{fe.key}/{server.name}"] = ServerLine(*head, server)
        return lines

    def cells(self, row: ServerLine, ctx: Context) -> tuple[Cell, ...]:
        server = row.server
        head = (Cell(f"{row.app}/{row.service}", "bold"), fmt.number(row.bind_port))
        tail = (Cell(",".join(row.lb_hosts) or "-"),)
        if server is None:
            return (*head, Cell("(no servers)", "bold red"), Cell("-"), Cell("-"),
                    fmt.number(None), Cell("-"), *tail)
        return (
            *head,
            Cell(server.name),
            Cell(server.address),
            Cell(server.state, _STATE_STYLE.get(server.state, "")),
            fmt.number(server.weight, "magenta" if server.weight not in (0, 100) else ""),
            Cell(server.check, "dim"),
            *tail,
        )
