"""The load balancer as `fleet status` and the UI show it: each frontend and its servers.

    views = await lb_status(pool, inventory, rendered)    # {host: LbHostView}

What fleet rendered (pure: `view_from_rendered`) is the base; when the lb
host answers, HAProxy's runtime state is merged in from ONE `show stat`
(through the master socket `@1 show stat`, else the stats socket), so a
replica HAProxy's own check took out shows DOWN before fleet's next run.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from fleet.errors import RemoteError
from fleet.lb.master import socket_command
from fleet.lb.render import Rendered, stats_socket_path

if TYPE_CHECKING:
    from fleet.remote.ssh import SSHPool
    from fleet.spec.inventory import Inventory


@dataclass(frozen=True)
class ServerView:
    name: str  # pod name
    address: str  # host:port
    weight: int
    state: str  # UP, DOWN, MAINT, NOLB, "UP 1/3" ... from HAProxy; "configured" without runtime
    check: str = ""  # last check: "L7OK/200 in 3ms", "L4CON" ...
    canary: bool = False


@dataclass(frozen=True)
class FrontendView:
    name: str  # the HAProxy section: demo.web.80
    app: str
    service: str
    listen_port: int
    mode: str
    servers: tuple[ServerView, ...]
    state: str = "configured"  # OPEN / STOP at runtime
    sessions: int | None = None  # current sessions at runtime

    @property
    def up(self) -> int:
        return sum(1 for s in self.servers if s.state.startswith("UP") or s.state == "no check")


@dataclass(frozen=True)
class LbHostView:
    host: str
    frontends: tuple[FrontendView, ...]
    runtime: bool = False  # merged with HAProxy's live state
    error: str | None = None  # why the runtime state is missing

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "runtime": self.runtime,
            "error": self.error,
            "frontends": [
                {
                    "name": f.name, "app": f.app, "service": f.service,
                    "listen_port": f.listen_port, "mode": f.mode, "state": f.state,
                    "sessions": f.sessions,
                    "servers": [
                        {"name": s.name, "address": s.address, "weight": s.weight,
                         "state": s.state, "check": s.check, "canary": s.canary}
                        for s in f.servers
                    ],
                }
                for f in self.frontends
            ],
        }  # fmt: skip


def view_from_rendered(host: str, rendered: Rendered) -> LbHostView:
    """What fleet configured, without HAProxy's runtime state."""
    frontends = []
    for section in rendered.sections:
        service = section.service
        frontends.append(
            FrontendView(
                name=service.section,
                app=service.app,
                service=service.name,
                listen_port=service.listen_port,
                mode=service.mode,
                servers=tuple(
                    ServerView(
                        s.name,
                        f"{s.address}:{s.port}",
                        1 if s.weight is None else s.weight,
                        "configured",
                        canary=s.canary,
                    )
                    for s in section.servers
                ),
            )
        )
    return LbHostView(host, tuple(frontends))


def parse_show_stat(text: str) -> dict[tuple[str, str], dict[str, str]]:
    """`show stat` CSV -> {(proxy, server or FRONTEND/BACKEND): row}."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        return {}
    body = "\n".join([lines[0][2:], *lines[1:]])
    out: dict[tuple[str, str], dict[str, str]] = {}
    for row in csv.DictReader(io.StringIO(body)):
        px, sv = row.get("pxname"), row.get("svname")
        if px and sv:
            out[(px, sv)] = {k: v for k, v in row.items() if k}
    return out


def merge_runtime(
    view: LbHostView, stats: Mapping[tuple[str, str], Mapping[str, str]]
) -> LbHostView:
    """The configured view with HAProxy's server states, weights and check results."""
    frontends = []
    for frontend in view.frontends:
        servers = []
        for server in frontend.servers:
            row = stats.get((frontend.name, server.name))
            if row is None:
                servers.append(replace(server, state="not in HAProxy (reload pending?)"))
                continue
            weight = row.get("weight", "")
            check = row.get("check_status", "")
            if row.get("check_code"):
                check += f"/{row['check_code']}"
            if row.get("check_duration"):
                check += f" in {row['check_duration']}ms"
            servers.append(
                replace(
                    server,
                    state=row.get("status") or server.state,
                    weight=int(weight) if weight.isdigit() else server.weight,
                    check=check.strip("/ "),
                )
            )
        listener = stats.get((frontend.name, "FRONTEND"), {})
        sessions = listener.get("scur", "")
        frontends.append(
            replace(
                frontend,
                servers=tuple(servers),
                state=listener.get("status") or "missing",
                sessions=int(sessions) if sessions.isdigit() else None,
            )
        )
    return replace(view, frontends=tuple(frontends), runtime=True, error=None)


def view_from_stats(host: str, stats: Mapping[tuple[str, str], Mapping[str, str]]) -> LbHostView:
    """The view from HAProxy's `show stat` alone (what runs, when no rendered config is at
    hand): fleet's sections (`app.service.port`) with their servers."""
    sections: dict[str, list[tuple[str, Mapping[str, str]]]] = {}
    for (px, sv), row in stats.items():
        parts = px.split(".")
        if len(parts) == 3 and parts[2].isdigit():
            sections.setdefault(px, []).append((sv, row))
    frontends = []
    for px in sorted(sections, key=lambda name: (int(name.split(".")[2]), name)):
        app, service, port = px.split(".")
        rows = dict(sections[px])
        servers = tuple(
            ServerView(sv, row.get("addr", ""), 0, "")
            for sv, row in sorted(rows.items())
            if sv not in ("FRONTEND", "BACKEND")
        )
        frontend = FrontendView(px, app, service, int(port), rows.get("FRONTEND", rows.get(
            "BACKEND", {})).get("mode", ""), servers)
        frontends.append(frontend)
    return merge_runtime(LbHostView(host, tuple(frontends)), stats)


async def read_stats(pool: SSHPool, host: str) -> str:
    """HAProxy's `show stat` on a host: master CLI `@1 show stat`, else the stats socket."""
    settings = pool.host(host).haproxy
    if settings.master_socket and settings.reload != "systemd":
        try:
            return await socket_command(pool, host, settings.master_socket, "@1 show stat")
        except RemoteError:
            pass
    return await socket_command(pool, host, stats_socket_path(pool.host(host)), "show stat")


async def lb_status(
    pool: SSHPool,
    inventory: Inventory,
    rendered: Mapping[str, Rendered] | None = None,
    *,
    hosts: Collection[str] | None = None,
) -> dict[str, LbHostView]:
    """Each lb host's (or only `hosts`') frontends and servers: the rendered config (if given)
    plus HAProxy's runtime state (one `show stat` per host); without `rendered`, what HAProxy
    runs."""

    async def one(host: str) -> LbHostView:
        view = view_from_rendered(host, rendered[host]) if rendered else LbHostView(host, ())
        try:
            stats = parse_show_stat(await read_stats(pool, host))
        except RemoteError as exc:
            return replace(view, error=exc.message)
        if not stats:
            return replace(view, error="HAProxy's stats socket gave no answer")
        return merge_runtime(view, stats) if rendered else view_from_stats(host, stats)

    chosen = [
        h.name
        for h in inventory.lb_hosts
        if (rendered is None or h.name in rendered) and (hosts is None or h.name in hosts)
    ]
    views = await asyncio.gather(*(one(h) for h in chosen))
    return {v.host: v for v in views}
