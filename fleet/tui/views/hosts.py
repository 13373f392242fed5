"""The Hosts view: reachability, round trip, engine, requested vs capacity, cordons, staleness."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

from fleet.tui import format as fmt
from fleet.tui.format import Cell
from fleet.tui.model import ClusterModel
from fleet.tui.source import HostRow
from fleet.tui.views.base import Column, Context, TableView


def host_is_stale(row: HostRow, now: float, stale_after: float) -> bool:
    """Stale: the last observation failed, or the last good one is older than `stale_after`."""
    if not row.reachable or row.observed_at is None:
        return True
    return now - row.observed_at > stale_after


def stale_hosts(hosts: Mapping[str, HostRow], now: float, stale_after: float) -> frozenset[str]:
    return frozenset(n for n, r in hosts.items() if host_is_stale(r, now, stale_after))


def host_status(row: HostRow, now: float, stale_after: float) -> Cell:
    """Ready | Unreachable | Stale, plus ",Cordoned" (like kubectl's SchedulingDisabled)."""
    if not row.reachable:
        text, style = "Unreachable", "bold red"
    elif host_is_stale(row, now, stale_after):
        text, style = "Stale", "bold yellow"
    else:
        text, style = "Ready", "green"
    if row.cordoned:
        text += ",Cordoned"
        style = style if style != "green" else "yellow"
    return Cell(text, style)


class HostsView(TableView):
    """Every inventory host, with a stale badge when its data is old."""

    KIND = "hosts"
    DEFAULT_SORT = "name"
    USES_CLOCK = True
    COLUMNS = (
        Column("name", "NAME"),
        Column("status", "STATUS"),
        Column("cpu", "CPU REQ/CAP"),
        Column("memory", "MEM REQ/CAP"),
        Column("pods", "PODS"),
        Column("rtt", "RTT"),
        Column("seen", "SEEN"),
        Column("address", "ADDRESS"),
        Column("zone", "ZONE"),
        Column("roles", "ROLES"),
        Column("engine", "ENGINE"),
        Column("labels", "LABELS"),
        Column("error", "ERROR"),
    )

    def rows(self, model: ClusterModel) -> Mapping[str, HostRow]:
        return model.hosts

    def signature(self, row: HostRow, ctx: Context) -> Hashable:
        seen = None if row.observed_at is None else int(ctx.now - row.observed_at)
        return (row, seen, host_is_stale(row, ctx.now, ctx.stale_after))

    def cells(self, row: HostRow, ctx: Context) -> tuple[Cell, ...]:
        cpu_pct = fmt.percent(row.cpu_requested_m, row.cpu_capacity_m)
        mem_pct = fmt.percent(row.memory_requested, row.memory_capacity)
        stale = host_is_stale(row, ctx.now, ctx.stale_after)
        seen_s = None if row.observed_at is None else ctx.now - row.observed_at
        rtt = row.round_trip_ms
        return (
            Cell(row.name, "bold"),
            host_status(row, ctx.now, ctx.stale_after),
            Cell(fmt.usage(fmt.millicores(row.cpu_requested_m),
                           fmt.millicores(row.cpu_capacity_m), cpu_pct),
                 fmt.usage_style(cpu_pct), cpu_pct),
            Cell(fmt.usage(fmt.memory(row.memory_requested), fmt.memory(row.memory_capacity),
                           mem_pct), fmt.usage_style(mem_pct), mem_pct),
            fmt.number(row.replicas),
            Cell("-" if rtt is None else f"{rtt:.1f}ms", "", -1.0 if rtt is None else rtt),
            Cell("never" if seen_s is None else fmt.age(seen_s),
                 "bold red" if stale else "dim", -1.0 if seen_s is None else seen_s),
            Cell(row.address),
            Cell(row.zone or "-"),
            Cell(",".join(row.roles) or "-"),
            Cell(row.engine or "-"),
            Cell(",".join(f"{k}={v}" for k, v in row.labels), "dim"),
            Cell(row.error or "", "red"),
        )
