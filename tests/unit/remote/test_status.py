"""`fleet status` rendering and model: pure, from captured observations and errors."""

from __future__ import annotations

import json
from pathlib import Path

from fleet.errors import EngineError, HostKeyError, UnreachableError
from fleet.remote.model import HostObservation
from fleet.remote.parse import parse_containers, parse_host_facts
from fleet.spec.inventory import Host
from fleet.status import (
    Column,
    StatusReport,
    format_bytes,
    host_status,
    render_table,
    render_text,
)

DOCKER = Path(__file__).parent / "fixtures" / "docker-20.10"


def observation(name: str) -> HostObservation:
    facts = parse_host_facts((DOCKER / "info.json").read_text(), "docker")
    containers = parse_containers((DOCKER / "containers.jsonl").read_text())
    return HostObservation(name, facts, containers, facts.containers_total - len(containers), 31.4)


def report() -> StatusReport:
    h1 = Host(name="node1", address="10.77.103.11")
    h2 = Host(name="node2-with-a-rather-long-name", address="10.77.103.12")
    h3 = Host(name="node3", address="10.77.103.13")
    h4 = Host(name="node4", address="10.77.103.14")
    h5 = Host(name="node5", address="10.77.103.15")
    return StatusReport([
        host_status(h1, observation("node1"), 0.052),
        host_status(h2, observation("node2")),
        host_status(h3, UnreachableError("node3", "timed out after 5.0 s")),
        host_status(h4, HostKeyError("node4", "HOST KEY MISMATCH: expects SHA256:aaa but the "
                                     "host presented SHA256:bbb; nothing ran there")),
        host_status(h5, EngineError("node5: `docker info` failed: Cannot connect")),
    ], seconds=0.31)


def test_reachable_host_carries_facts_and_rows() -> None:
    status = report().hosts[0]
    assert status.reachable and status.problem is None
    assert (status.engine, status.engine_version, status.cpus) == ("docker", "20.10.24+dfsg1", 2)
    assert status.managed == 7 and status.containers_total == 8
    assert status.round_trip_ms == 31.4 and status.connect_ms is not None
    web = next(c for c in status.containers if c.name == "web-1")
    assert (web.service, web.replica, web.state, web.ports) == \
        ("web", "1", "running", ["10.88.0.12:8080->80"])
    anyport = next(c for c in status.containers if c.name == "anyport")
    assert "9999->53/udp" in anyport.ports and len(anyport.ports) == 2  # IPv6 twins folded


def test_unreachable_and_refused_hosts_keep_their_reason() -> None:
    hosts = report().hosts
    assert (hosts[2].problem, hosts[2].reason) == ("unreachable", "timed out after 5.0 s")
    assert hosts[3].problem == "host-key" and "SHA256:bbb" in (hosts[3].reason or "")
    assert hosts[4].problem == "engine" and (hosts[4].reason or "").startswith("`docker info`")
    assert [h.name for h in report().unreachable] == ["node3", "node4", "node5"]


def test_text_fits_80_columns_and_shows_everything_important() -> None:
    text = render_text(report(), width=80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80, "\n" + text
    assert lines[0].split()[:3] == ["HOST", "ADDRESS", "STATE"]
    assert any(line.startswith("node3") and "DOWN" in line and "timed out after 5.0 s" in line
               for line in lines)
    assert any("REFUSED" in line and line.startswith("node4") for line in lines)
    assert "docker 20.10" in text and "24Gi" in text
    assert "running (healthy)" in text
    assert text.rstrip().endswith("2/5 hosts reachable, 14 fleet containers (0.31 s)")


def test_json_document() -> None:
    doc = report().to_json()
    json.dumps(doc)  # serialisable as is
    first = doc["hosts"][0]
    assert first["reachable"] is True and first["engine_version"] == "20.10.24+dfsg1"
    assert first["memory_bytes"] == 25276518400 and first["containers_managed"] == 7
    assert doc["hosts"][2]["reason"] == "timed out after 5.0 s"
    assert {c["name"] for c in first["containers"]} >= {"web-1", "hc"}


def test_render_table_shrinks_by_priority() -> None:
    table = render_table(
        [Column("A"), Column("LONG", shrink=1), Column("B", align=">")],
        [["x", "y" * 50, "1"], ["xx", "short", "22"]],
        width=30,
    )
    lines = table.splitlines()
    assert max(map(len, lines)) <= 30
    assert lines[1].startswith("x ") and lines[1].rstrip().endswith(" 1")
    assert "…" in lines[1]


def test_format_bytes() -> None:
    assert [format_bytes(v) for v in (None, 512, 2048, 5 * 2**20, 25276518400)] == \
        ["-", "512B", "2.0Ki", "5.0Mi", "24Gi"]


def test_cordon_mark_shows_in_state() -> None:
    import dataclasses

    h = Host(name="node1", address="10.77.103.11")
    drained = dataclasses.replace(observation("node1"), cordon='{"drain": true, "reason": "x"}')
    cordoned = dataclasses.replace(observation("node1"), cordon='{"drain": false}')
    rows = StatusReport([host_status(h, drained), host_status(h, cordoned),
                         host_status(h, observation("node1"))])
    assert [r.cordon for r in rows.hosts] == ["draining", "cordoned", None]
    states = [line.split()[2] for line in render_text(rows).splitlines()[1:4]]
    assert states == ["drain", "cordon", "ok"]
    assert rows.to_json()["hosts"][0]["cordon"] == "draining"
