"""`fleet status` with blueprints: services like `kubectl get deploy`, and the load balancer.

Counts come from one reconcile look (observe + probes), the autoscaled replica
counts from the local store, the load balancer's frontends and servers from
HAProxy's own runtime state on the lb hosts (one `show stat` each).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from fleet import autoscale
from fleet.lb.render import render_hosts
from fleet.lb.services import lb_services
from fleet.lb.status import LbHostView, lb_status
from fleet.observed import Observed
from fleet.rollup import rollup
from fleet.session import Session
from fleet.status import Column, render_table


@dataclass(frozen=True)
class ServiceLine:
    app: str
    name: str
    desired: int
    ready: int
    up_to_date: int
    available: int
    revision: str
    rollout: str
    autoscaled: str  # "HPA 2..6 cpu 43%/70%" or "" (autoscale.summary)


@dataclass(frozen=True)
class ServerLine:
    lb_host: str
    frontend: str
    port: int
    server: str
    address: str
    state: str
    weight: int


@dataclass(frozen=True)
class Overview:
    services: list[ServiceLine]
    servers: list[ServerLine]
    waiting: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "services": [asdict(s) for s in self.services],
            "load_balancer": [asdict(s) for s in self.servers],
            "waiting": self.waiting,
        }


async def collect_overview(session: Session) -> Overview:
    observed = await session.reconciler.look()
    scale = session.journal.scope("autoscale")
    services = []
    for (app, name), target in sorted(observed.targets.items()):
        roll = rollup(target.service, observed.cluster, observed.health, observed.now)
        services.append(
            ServiceLine(
                app,
                name,
                roll.desired,
                roll.ready,
                roll.up_to_date,
                roll.available,
                roll.revision,
                roll.progress + (f" - {target.note}" if target.note else ""),
                autoscale.summary(scale.get(name)),
            )
        )
    servers = server_lines(await lb_views(session, observed))
    return Overview(services, servers, list(observed.plan.waiting))


async def lb_views(session: Session, observed: Observed) -> dict[str, LbHostView]:
    """Each lb host's frontends and servers as the blueprints render them for `observed`,
    with HAProxy's runtime state (one `show stat` per lb host); none without Services."""
    if not session.blueprint.services:
        return {}
    rendered = render_hosts(
        session.inventory.lb_hosts,
        lb_services(session.blueprint, observed.desired),
        observed.cluster,
        observed.health,
    )
    return await lb_status(session.pool, session.inventory, rendered)


def server_lines(views: Mapping[str, LbHostView]) -> list[ServerLine]:
    """One line per server of every frontend on every lb host (or one saying it has none)."""
    lines = []
    for host, view in sorted(views.items()):
        for frontend in view.frontends:
            name = f"{frontend.app}/{frontend.service}"
            for server in frontend.servers:
                lines.append(
                    ServerLine(
                        host,
                        name,
                        frontend.listen_port,
                        server.name,
                        server.address,
                        server.state,
                        server.weight,
                    )
                )
            if not frontend.servers:
                lines.append(
                    ServerLine(host, name, frontend.listen_port, "-", "-", "no ready replica", 0)
                )
    return lines


def render_servers(servers: list[ServerLine], width: int) -> str:
    return render_table(
        [
            Column("LB"),
            Column("FRONTEND", shrink=2),
            Column("PORT", align=">"),
            Column("SERVER", shrink=3),
            Column("ADDRESS"),
            Column("STATE", shrink=1),
            Column("WEIGHT", align=">"),
        ],
        [
            [s.lb_host, s.frontend, str(s.port), s.server, s.address, s.state, str(s.weight)]
            for s in servers
        ],
        width=width,
    )


def render_overview(overview: Overview, width: int) -> str:
    services = render_table(
        [
            Column("SERVICE", shrink=2),
            Column("READY"),
            Column("UP-TO-DATE", align=">"),
            Column("AVAILABLE", align=">"),
            Column("ROLLOUT", shrink=3, least=12),
            Column("AUTOSCALER", shrink=1),
        ],
        [
            [
                f"{s.app}/{s.name}",
                f"{s.ready}/{s.desired}",
                str(s.up_to_date),
                str(s.available),
                s.rollout,
                s.autoscaled or "-",
            ]
            for s in overview.services
        ],
        width=width,
    )
    parts = [services]
    if overview.servers:
        parts.append(render_servers(overview.servers, width))
    parts.extend(f"waiting: {line}" for line in overview.waiting)
    return "\n\n".join(parts) + "\n"
