"""`fleet status` as a user runs it, against the lab: all hosts, down hosts, refused hosts."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import yaml

from fleet import lab as fleet_lab
from fleet.errors import ExitCode
from fleet.remote.hostkeys import fingerprint
from tests.lab.fleetrun import app_yaml, running_pods, write
from tests.lab.labtools import docker, known_hosts_with, lab_key, variant, wait_until

pytestmark = pytest.mark.lab


def status(inventory: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    took = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "fleet", "status", "-i", str(inventory), *args],
                          capture_output=True, text=True, timeout=60)
    return done, time.monotonic() - took


def hosts_of(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    document = json.loads(done.stdout)
    assert document["schema"] == "fleet.status/v1"
    return {h["name"]: h for h in document["hosts"]}


def test_status_shows_every_host_with_engine_cpu_and_memory(lab: fleet_lab.LabInfo) -> None:
    done, _ = status(lab.inventory_path, "--output", "json")
    assert done.returncode == 0, done.stderr
    hosts = hosts_of(done)
    assert sorted(hosts) == sorted(h.name for h in lab.hosts)
    for name, host in hosts.items():
        assert host["reachable"] is True and host["reason"] is None
        assert host["engine"] == "docker" and host["engine_version"]
        assert host["cpus"] >= 1 and host["memory_bytes"] > 2**28
        assert host["hostname"] == name
        assert host["round_trip_ms"] > 0
        assert host["address"] == lab.host(name).address

    text, _ = status(lab.inventory_path)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    version = hosts["node1"]["engine_version"].split("+")[0]
    for name in hosts:
        row = next(line for line in lines if line.startswith(name + " "))
        assert " ok " in row and version in row
    assert f"{len(hosts)}/{len(hosts)} hosts reachable" in text.stdout


def test_status_lists_fleet_containers(lab: fleet_lab.LabInfo) -> None:
    node2 = lab.host("node2")
    name = f"status-web-{secrets.token_hex(3)}"
    docker(node2, "run", "-d", "--name", name, "--label", "fleet.managed=true",
           "--label", "fleet.service=web", "--label", "fleet.replica=3",
           "-p", f"{node2.address}::8080", "lab/web:1")
    try:
        done, _ = status(lab.inventory_path, "-o", "json")
        (row,) = [c for c in hosts_of(done)["node2"]["containers"] if c["name"] == name]
        assert (row["service"], row["replica"], row["state"], row["image"]) == \
            ("web", "3", "running", "lab/web:1")
        assert row["ports"] and row["ports"][0].startswith(f"{node2.address}:")
        text, _ = status(lab.inventory_path)
        assert any(name in line and "web#3" in line for line in text.stdout.splitlines())
    finally:
        docker(node2, "rm", "-f", name, check=False)


@pytest.fixture
def sshd_stopped(lab: fleet_lab.LabInfo) -> Iterator[str]:
    fleet_lab.stop_sshd(lab.name, "node3")
    try:
        yield "node3"
    finally:
        fleet_lab.start_sshd(lab.name, "node3")
        wait_until(lambda: status(lab.inventory_path, "--hosts", "node3")[0].returncode == 0,
                   20, 0.3, "node3's sshd back")


def test_host_with_sshd_stopped_is_reported_within_the_connect_timeout(
    lab: fleet_lab.LabInfo, tmp_path: Path, sshd_stopped: str
) -> None:
    inventory = variant(lab, tmp_path, connect_timeout="2s")
    done, took = status(inventory, "-o", "json")
    assert done.returncode == ExitCode.PARTIAL, done.stderr
    hosts = hosts_of(done)
    down = hosts[sshd_stopped]
    assert down["reachable"] is False and down["problem"] == "unreachable"
    assert "refused" in down["reason"]
    assert took < 2.0 + 2.0  # the bound: connect timeout plus start-up and the others' observe
    assert all(h["reachable"] for n, h in hosts.items() if n != sshd_stopped)
    assert sshd_stopped in done.stderr  # the summary on stderr names it


@pytest.fixture
def link_down(lab: fleet_lab.LabInfo) -> Iterator[str]:
    fleet_lab.link_down(lab.name, "node3")
    try:
        yield "node3"
    finally:
        fleet_lab.link_up(lab.name, "node3")


def test_silent_host_times_out_within_the_connect_timeout(
    lab: fleet_lab.LabInfo, tmp_path: Path, link_down: str
) -> None:
    inventory = variant(lab, tmp_path, connect_timeout="2s")
    done, took = status(inventory, "-o", "json")
    assert done.returncode == ExitCode.PARTIAL, done.stderr
    hosts = hosts_of(done)
    assert hosts[link_down]["reason"] == "timed out after 2.0 s"
    assert 2.0 <= took < 2.0 + 2.0
    assert all(h["reachable"] for n, h in hosts.items() if n != link_down)

    text, _ = status(inventory)
    row = next(line for line in text.stdout.splitlines() if line.startswith(link_down))
    assert "DOWN" in row and "timed out after 2.0 s" in row


def test_host_with_a_wrong_key_is_refused_and_the_others_report(
    lab: fleet_lab.LabInfo, tmp_path: Path
) -> None:
    wrong = asyncssh.generate_private_key("ssh-ed25519").convert_to_public()
    known = known_hosts_with(lab, tmp_path, "node2", wrong)
    inventory = variant(lab, tmp_path, known_hosts=str(known))
    done, _ = status(inventory, "-o", "json")
    assert done.returncode == ExitCode.PARTIAL
    hosts = hosts_of(done)
    refused = hosts["node2"]
    assert refused["problem"] == "host-key" and refused["reachable"] is False
    assert fingerprint(wrong) in refused["reason"]
    assert fingerprint(lab_key(lab, "node2")) in refused["reason"]
    assert hosts["node1"]["reachable"] and hosts["node3"]["reachable"]
    doc = yaml.safe_load(inventory.read_text())
    assert doc["defaults"]["known_hosts"] == str(known)


def test_status_shows_each_frontend_and_its_servers(fleet, lab, tmp_path):
    app = write(tmp_path, "t12", app_yaml(name="web", replicas=2, port=18120, probes=True))
    assert fleet.run("apply", "--yes", str(app)).returncode == 0
    pods = {pod for _, pod in running_pods(lab, "web")}
    status = fleet.json("status")
    servers = [s for s in status["load_balancer"] if s["frontend"] == "t12/web"]
    assert {s["server"] for s in servers} == pods
    assert all(s["port"] == 18120 and s["state"].startswith("UP") for s in servers), servers
    assert fleet.json("status", "--hosts", "node2,node3")["load_balancer"] == []  # lb is node1
    with_blueprint = fleet.json("status", str(app))
    (service,) = [s for s in with_blueprint["services"] if s["name"] == "web"]
    assert (service["desired"], service["ready"], service["available"]) == (2, 2, 2)
    assert {s["server"] for s in with_blueprint["load_balancer"]} == pods
    assert sorted(h["name"] for h in with_blueprint["hosts"]) == ["node1", "node2", "node3"]
