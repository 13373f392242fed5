"""`fleet status`: every host (reachable or why not) and the fleet-managed containers on them.

`collect_status` observes all hosts at once over one SSHPool (one round trip
each); an unreachable host costs at most its connect timeout and never holds
up the others. `StatusReport` renders as JSON (`fleet.status/v1`) or as a
compact text table that fits 80 columns. Only the collection does I/O.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fleet.errors import FleetError, HostKeyError, RemoteError, UnreachableError

if TYPE_CHECKING:
    from fleet.remote.model import ContainerInfo, HostObservation
    from fleet.remote.ssh import SSHPool
    from fleet.spec.inventory import Host

SCHEMA = "fleet.status/v1"


@dataclass(frozen=True)
class ContainerRow:
    """One fleet-managed container as status shows it."""

    host: str
    name: str
    app: str | None
    service: str | None
    replica: str | None
    state: str
    health: str | None
    image: str
    ports: list[str]
    address: str | None
    restart_count: int


@dataclass
class HostStatus:
    """One host: reachable with its facts, or the reason it is not."""

    name: str
    address: str
    reachable: bool = False
    problem: str | None = None  # unreachable | host-key | engine | error
    reason: str | None = None
    round_trip_ms: float | None = None
    connect_ms: float | None = None
    engine: str | None = None
    engine_version: str | None = None
    hostname: str | None = None
    cpus: int | None = None
    memory_bytes: int | None = None
    containers_total: int | None = None
    managed: int | None = None
    cordon: str | None = None  # None, "cordoned" or "draining" (the host's cordon mark)
    containers: list[ContainerRow] = field(default_factory=list)


@dataclass
class StatusReport:
    """All hosts' status, in inventory order, and how long collecting it took."""

    hosts: list[HostStatus]
    seconds: float = 0.0

    @property
    def unreachable(self) -> list[HostStatus]:
        return [h for h in self.hosts if not h.reachable]

    def to_json(self) -> dict[str, Any]:
        """The document behind `--output json` (without the schema key)."""
        return {
            "seconds": round(self.seconds, 3),
            "hosts": [
                {
                    "name": h.name,
                    "address": h.address,
                    "reachable": h.reachable,
                    "problem": h.problem,
                    "reason": h.reason,
                    "round_trip_ms": _round(h.round_trip_ms),
                    "connect_ms": _round(h.connect_ms),
                    "engine": h.engine,
                    "engine_version": h.engine_version,
                    "hostname": h.hostname,
                    "cpus": h.cpus,
                    "memory_bytes": h.memory_bytes,
                    "containers_total": h.containers_total,
                    "containers_managed": h.managed,
                    "cordon": h.cordon,
                    "containers": [
                        {
                            "name": c.name,
                            "app": c.app,
                            "service": c.service,
                            "replica": c.replica,
                            "state": c.state,
                            "health": c.health,
                            "image": c.image,
                            "ports": c.ports,
                            "address": c.address,
                            "restart_count": c.restart_count,
                        }
                        for c in h.containers
                    ],
                }
                for h in self.hosts
            ],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _port_text(host_ip: str, host_port: int, container_port: int, proto: str) -> str:
    where = "" if host_ip in ("", "0.0.0.0", "::") else f"{host_ip}:"
    suffix = "" if proto == "tcp" else f"/{proto}"
    return f"{where}{host_port}->{container_port}{suffix}"


def container_row(host: str, c: ContainerInfo) -> ContainerRow:
    """The status view of one observed container (IPv6 duplicates of a port folded)."""
    ports: list[str] = []
    for p in c.ports:
        text = _port_text(p.host_ip, p.host_port, p.container_port, p.protocol)
        if text not in ports:
            ports.append(text)
    return ContainerRow(
        host=host,
        name=c.name,
        app=c.app,
        service=c.service,
        replica=c.replica,
        state=c.state,
        health=c.health,
        image=c.image,
        ports=ports,
        address=c.address,
        restart_count=c.restart_count,
    )


def host_status(
    host: Host, outcome: HostObservation | BaseException, connect_seconds: float | None = None
) -> HostStatus:
    """A host's status from its observation or the error observing it raised (pure)."""
    status = HostStatus(host.name, host.address)
    if connect_seconds is not None:
        status.connect_ms = connect_seconds * 1000
    if isinstance(outcome, BaseException):
        status.problem = (
            "host-key"
            if isinstance(outcome, HostKeyError)
            else "unreachable"
            if isinstance(outcome, UnreachableError)
            else "engine"
            if not isinstance(outcome, RemoteError)
            else "error"
        )
        status.reason = (
            outcome.message
            if isinstance(outcome, RemoteError)
            else str(outcome) or type(outcome).__name__
        )
        prefix = f"{host.name}: "
        if status.reason.startswith(prefix):
            status.reason = status.reason[len(prefix) :]
        return status
    facts = outcome.facts
    status.reachable = True
    status.round_trip_ms = outcome.round_trip_ms
    status.engine = facts.engine
    status.engine_version = facts.engine_version
    status.hostname = facts.hostname
    status.cpus = facts.cpus
    status.memory_bytes = facts.memory_bytes
    status.containers_total = facts.containers_total
    status.managed = len(outcome.containers)
    status.cordon = _cordon(outcome.cordon)
    status.containers = [container_row(host.name, c) for c in outcome.containers]
    return status


def _cordon(mark: str | None) -> str | None:
    """ "cordoned" or "draining" from a host's cordon marker (JSON with a `drain` flag)."""
    if mark is None:
        return None
    from fleet.state import cordon_drains

    return "draining" if cordon_drains(mark) else "cordoned"


async def collect_status(
    pool: SSHPool, hosts: Sequence[str] | None = None, *, timeout: float | None = None
) -> StatusReport:
    """Observe every host concurrently (one round trip each); failures become reasons."""
    from fleet.remote.engine import Engine

    engine = Engine(pool)
    names = list(hosts) if hosts is not None else list(pool.hosts)
    started = time.monotonic()

    async def one(name: str) -> HostObservation | BaseException:
        try:
            return await engine.observe(name, timeout=timeout, volumes=False)
        except FleetError as exc:
            return exc

    outcomes = await asyncio.gather(*(one(n) for n in names))
    report = StatusReport(
        [
            host_status(pool.host(n), o, pool.connect_seconds.get(n))
            for n, o in zip(names, outcomes, strict=True)
        ]
    )
    report.seconds = time.monotonic() - started
    return report


# ---- text rendering ------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A text-table column: `shrink` > 0 lets it be cut to fit the width (widest first)."""

    title: str
    align: str = "<"
    shrink: int = 0
    least: int = 4  # never cut below this many characters


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def render_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    width: int = 80,
    spanning: int | None = None,
    gap: int = 2,
) -> str:
    """Rows under titles, columns cut (by `shrink` priority) until the table fits `width`.

    With `spanning=i`, a row whose cells after i are all empty lets cell i run
    to the end of the line (an unreachable host's reason).
    """

    def spans(row: Sequence[str]) -> bool:
        return spanning is not None and not any(row[spanning + 1 :])

    widths = [len(c.title) for c in columns]
    for row in rows:
        for i, cell in enumerate(row):
            if not (spans(row) and spanning is not None and i >= spanning):
                widths[i] = max(widths[i], len(cell))
    minimum = [
        min(w, max(c.least, len(c.title))) if c.shrink else w
        for c, w in zip(columns, widths, strict=True)
    ]
    while sum(widths) + gap * (len(columns) - 1) > width:
        candidates = [i for i, c in enumerate(columns) if c.shrink and widths[i] > minimum[i]]
        if not candidates:
            break
        # the widest column gives first; `shrink` decides between equally wide ones
        widest = max(candidates, key=lambda i: (widths[i], columns[i].shrink))
        widths[widest] -= 1
    pad = " " * gap

    def line(cells: Sequence[str]) -> str:
        if spans(cells) and spanning is not None:
            head = [
                f"{_cut(c, w):{col.align}{w}}"
                for c, w, col in zip(cells[:spanning], widths, columns, strict=False)
            ]
            used = sum(widths[:spanning]) + gap * spanning
            return (pad.join(head) + pad + _cut(cells[spanning], max(width - used, 8))).rstrip()
        return pad.join(
            f"{_cut(c, w):{col.align}{w}}" for c, w, col in zip(cells, widths, columns, strict=True)
        ).rstrip()

    return "\n".join([line([c.title for c in columns]), *(line(r) for r in rows)])


def format_bytes(value: int | None) -> str:
    """1.5Gi, 512Mi, 900Ki (binary units, like Kubernetes quantities)."""
    if value is None:
        return "-"
    for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value >= size:
            number = value / size
            return f"{number:.1f}{unit}" if number < 10 else f"{number:.0f}{unit}"
    return f"{value}B"


def render_text(report: StatusReport, width: int = 80) -> str:
    """Two compact tables (hosts, then containers) that fit `width` columns."""
    host_rows = []
    for h in report.hosts:
        if h.reachable:
            host_rows.append(
                [
                    h.name,
                    h.address,
                    {"cordoned": "cordon", "draining": "drain"}.get(h.cordon or "", "ok"),
                    f"{h.round_trip_ms:.0f}ms",
                    f"{h.engine} {(h.engine_version or '').split('+')[0]}",  # no distro suffix
                    str(h.cpus),
                    format_bytes(h.memory_bytes),
                    f"{h.managed}/{h.containers_total}",
                ]
            )
        else:
            state = {"unreachable": "DOWN", "host-key": "REFUSED"}.get(h.problem or "", "ERROR")
            host_rows.append([h.name, h.address, state, h.reason or "", "", "", "", ""])
    hosts_table = render_table(
        [
            Column("HOST", shrink=2),
            Column("ADDRESS"),
            Column("STATE"),
            Column("RTT", align=">"),
            Column("ENGINE", shrink=3, least=15),
            Column("CPU", align=">"),
            Column("MEMORY", align=">"),
            Column("FLEET/ALL", align=">"),
        ],
        host_rows,
        width=width,
        spanning=3,  # an unreachable host's reason runs across the empty columns
    )
    container_rows = []
    for h in report.hosts:
        for c in h.containers:
            state = c.state if not c.health else f"{c.state} ({c.health})"
            if c.restart_count:
                state += f" x{c.restart_count}"
            service = (c.service or "-") + (f"#{c.replica}" if c.replica else "")
            container_rows.append(
                [
                    h.name,
                    c.name,
                    service,
                    state,
                    c.image,
                    ",".join(c.ports) or "-",
                ]
            )
    lines = [hosts_table]
    if container_rows:
        lines.append("")
        lines.append(
            render_table(
                [
                    Column("HOST", shrink=1),
                    Column("CONTAINER", shrink=2),
                    Column("SERVICE", shrink=2),
                    Column("STATE", shrink=1, least=17),
                    Column("IMAGE", shrink=2, least=12),
                    Column("PORTS", shrink=3, least=12),
                ],
                container_rows,
                width=width,
            )
        )
    down = report.unreachable
    summary = (
        f"{len(report.hosts) - len(down)}/{len(report.hosts)} hosts reachable, "
        f"{sum(len(h.containers) for h in report.hosts)} fleet containers "
        f"({report.seconds:.2f} s)"
    )
    lines += ["", summary]
    return "\n".join(lines) + "\n"
