"""Parsers on output captured from a real engine (fixtures/docker-20.10, see capture_fixtures.py).

The fixture host ran: web-1 (published port, volume, bind, limits, env), side
(sharing web-1's network), done (exited 3), created (never started), hc (healthy
healthcheck), crash (restart loop), anyport (random and udp ports) plus one
unmanaged container.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleet.errors import EngineError
from fleet.remote.parse import (
    parse_container,
    parse_containers,
    parse_host_facts,
    parse_image_id,
    parse_loaded_images,
    parse_size,
    parse_stats,
    parse_time,
    parse_volumes,
)
from fleet.remote.script import parse_script_output

FIXTURES = Path(__file__).parent / "fixtures"
DOCKER = FIXTURES / "docker-20.10"


def read(name: str) -> str:
    return (DOCKER / name).read_text()


def test_host_facts_from_docker_info() -> None:
    facts = parse_host_facts(read("info.json"), "docker")
    assert facts.engine == "docker"
    assert facts.engine_version == "20.10.24+dfsg1"
    assert facts.hostname == "p2"
    assert facts.cpus == 2
    assert facts.memory_bytes == 25276518400
    assert facts.containers_total == 8
    assert facts.os.startswith("Debian")


def test_docker_info_without_a_daemon_is_an_error() -> None:
    with pytest.raises(EngineError, match="no answer"):
        parse_host_facts(json.dumps({"ServerErrors": ["Cannot connect to the Docker daemon"]}),
                         "docker")
    with pytest.raises(EngineError, match="not JSON"):
        parse_host_facts("Cannot connect", "docker")


def test_containers_from_inspect() -> None:
    found = {c.name: c for c in parse_containers(read("containers.jsonl"))}
    assert sorted(found) == ["anyport", "crash", "created", "done", "hc", "side", "web-1"]
    assert all(c.managed for c in found.values())

    web = found["web-1"]
    assert web.state == "running" and web.running
    assert web.labels["fleet.service"] == "web" and web.service == "web" and web.replica == "1"
    assert web.app == "demo"
    assert web.image == "local/busybox:1"
    assert web.image_id.startswith("sha256:") and len(web.image_id) == 71
    assert [(p.host_ip, p.host_port, p.container_port, p.protocol) for p in web.ports] == \
        [("10.88.0.12", 8080, 80, "tcp")]
    assert web.addresses == {"bridge": "172.17.0.2"} and web.address == "172.17.0.2"
    assert [(m.type, m.source, m.destination, m.read_only) for m in web.mounts] == [
        ("volume", "data1", "/data", False), ("bind", "/tmp", "/hosttmp", True)]
    assert web.nano_cpus == 500_000_000 and web.memory_limit == 64 * 2**20
    assert web.restart_policy == "unless-stopped"
    assert web.started_at is not None and web.started_at.tzinfo is not None
    assert web.finished_at is None  # zero time
    assert web.health is None

    assert found["hc"].health == "healthy"
    assert found["done"].state == "exited" and found["done"].exit_code == 3
    assert found["created"].state == "created" and found["created"].started_at is None
    assert found["crash"].state == "restarting" and found["crash"].restart_count > 0
    assert found["side"].network_mode.startswith("container:")
    assert found["side"].addresses == {} and found["side"].address is None
    ports = {(p.host_ip, p.host_port, p.container_port, p.protocol) for p in found["anyport"].ports}
    assert ("0.0.0.0", 9999, 53, "udp") in ports
    assert any(p.container_port == 80 and p.host_port > 0 for p in found["anyport"].ports)


def test_whole_observe_output_with_markers() -> None:
    raw = read("observe-raw.txt")
    steps = parse_script_output(raw, "@@fleet-fixture", ["facts", "containers"])
    assert steps["facts"].ok and steps["containers"].ok
    assert parse_host_facts(steps["facts"].output, "docker").hostname == "p2"
    assert len(parse_containers(steps["containers"].output)) == 7


def test_no_containers_is_an_empty_list() -> None:
    assert parse_containers("") == []
    assert parse_containers("\n") == []


def test_inspect_garbage_is_an_error() -> None:
    with pytest.raises(EngineError):
        parse_containers("Error: no such object")
    with pytest.raises(EngineError):
        parse_container({"Name": "/x"})  # no Id


def test_full_documents_and_podman_shapes() -> None:
    # a JSON array of full documents (podman inspect, docker inspect without --format)
    line = json.loads(read("containers.jsonl").splitlines()[0])
    line["Name"] = "anyport"  # podman names carry no leading slash
    line["State"]["Healthcheck"] = {"Status": "starting"}  # podman < 4 spelling
    (c,) = parse_containers(json.dumps([line]))
    assert c.name == "anyport" and c.health == "starting"


def test_podman_info_shape() -> None:
    info = {
        "host": {"hostname": "pm1", "cpus": 4, "memTotal": 8 * 2**30, "kernel": "6.1.0",
                 "distribution": {"distribution": "debian", "version": "12"}},
        "store": {"containerStore": {"number": 3}},
        "version": {"Version": "4.3.1"},
    }
    facts = parse_host_facts(json.dumps(info), "podman")
    assert (facts.engine, facts.engine_version, facts.cpus, facts.containers_total) == \
        ("podman", "4.3.1", 4, 3)


def test_stats() -> None:
    stats = {s.name: s for s in parse_stats(read("stats.jsonl"))}
    web = stats["web-1"]
    assert web.memory_bytes == 916 * 1024 and web.memory_limit_bytes == 64 * 2**20
    assert web.pids == 2 and web.cpu_percent == 0.0
    assert stats["hc"].cpu_percent == pytest.approx(0.99)


def test_volumes() -> None:
    (vol,) = parse_volumes(read("volumes.jsonl"))
    assert vol.name == "data1" and vol.driver == "local" and vol.labels == {}
    (labelled,) = parse_volumes('{"Name":"v","Driver":"local","Labels":"a=1,b=2"}')
    assert labelled.labels == {"a": "1", "b": "2"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T17:56:21.018253435Z", datetime(2026, 11, 26, 17, 56, 21, 18253, UTC)),
        ("2026-11-26T17:56:21Z", datetime(2026, 11, 26, 17, 56, 21, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        ("not a time", None),
    ],
)
def test_parse_time(text: str, expected: datetime | None) -> None:
    assert parse_time(text) == expected


def test_parse_time_with_offset() -> None:
    parsed = parse_time("2024-05-01T10:00:00.123456789+02:00")
    assert parsed is not None and parsed.utcoffset() is not None
    assert parsed.astimezone(UTC).hour == 8


@pytest.mark.parametrize(
    ("text", "value"),
    [("0B", 0), ("916KiB", 916 * 1024), ("64MiB", 64 * 2**20), ("1.5GiB", 3 * 2**29),
     ("1.39kB", 1390), ("2MB", 2_000_000)],
)
def test_parse_size(text: str, value: int) -> None:
    assert parse_size(text) == value


def test_image_ids_and_load_output() -> None:
    hex64 = "b151d083479bc7a22afe0d4bd2d2f0c2656e70482f1f18b90fbccee46d8e0d7d"
    assert parse_image_id(f"sha256:{hex64}\n") == f"sha256:{hex64}"
    assert parse_image_id(hex64) == f"sha256:{hex64}"  # podman prints no prefix
    assert parse_image_id("") is None
    with pytest.raises(EngineError):
        parse_image_id("Error: No such image")
    assert parse_loaded_images("Loaded image: lab/web:1\nLoaded image ID: sha256:ab\n") == \
        ["lab/web:1", "sha256:ab"]


# ---- Podman 4.3 (Debian 12), captured with the same commands the driver runs ---------------

PODMAN = FIXTURES / "podman-4.3"


def test_podman_facts() -> None:
    facts = parse_host_facts((PODMAN / "info.json").read_text(), "podman")
    assert (facts.engine, facts.engine_version) == ("podman", "4.3.1")
    assert facts.cpus == 2 and facts.memory_bytes > 2**30
    assert facts.containers_total == 5 and facts.os == "debian 12"


def test_podman_containers() -> None:
    found = {c.name: c for c in parse_containers((PODMAN / "containers.json").read_text())}
    assert sorted(found) == ["created", "done", "hc", "web-1"]
    web = found["web-1"]
    assert web.state == "running" and web.labels["fleet.service"] == "web"
    assert web.image == "localhost/lab/tiny:1"
    assert web.image_id.startswith("sha256:") and len(web.image_id) == 71  # normalised
    assert [(m.type, m.source, m.destination, m.read_only) for m in web.mounts] == [
        ("volume", "pdata", "/data", False), ("bind", "/tmp", "/hosttmp", True)]
    assert (web.nano_cpus, web.memory_limit, web.restart_policy) == \
        (500_000_000, 64 * 2**20, "unless-stopped")
    assert found["hc"].health == "healthy"
    assert found["done"].state == "exited" and found["done"].exit_code == 3
    assert found["created"].started_at is None


def test_podman_stats_and_volumes() -> None:
    stats = {s.name: s for s in parse_stats((PODMAN / "stats.json").read_text())}
    assert stats["web-1"].memory_limit_bytes == 67_110_000  # podman prints SI units
    assert stats["web-1"].pids == 2 and stats["hc"].cpu_percent > 0
    (vol,) = parse_volumes((PODMAN / "volumes.jsonl").read_text())
    assert (vol.name, vol.driver, vol.labels) == ("pdata", "local", {})
