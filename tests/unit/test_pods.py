"""A replica's pod as engine containers (built from the demo blueprint)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.pods import Endpoint, PodPlacement, discovery_env, pod_containers
from fleet.spec.documents import load_blueprints

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo():
    return load_blueprints([ROOT / "blueprints" / "demo.yaml"])


def place(blueprint, name, slot=0, canary=False):
    deployment = blueprint.deployments[name]
    where = PodPlacement(
        "demo", name, slot, blueprint.revision(deployment), "node2", "10.77.0.12", canary
    )
    return where, pod_containers(where, deployment, blueprint, [Endpoint("kv", "10.77.0.11", 7070)])


def test_main_container_carries_the_labels_the_planner_reads_back(demo):
    where, (main,) = place(demo, "web", slot=2)
    assert main.name == f"demo.web-2.{where.revision}"
    assert main.labels["fleet.app"] == "demo"
    assert main.labels["fleet.service"] == "web"
    assert main.labels["fleet.slot"] == "2"
    assert main.labels["fleet.revision"] == where.revision
    assert main.labels["fleet.role"] == "main"
    assert main.labels["fleet.cpu"] == "100"
    assert main.labels["fleet.memory"] == str(64 * 2**20)
    assert main.labels["app"] == "web"  # the pod template's own labels
    assert main.hostname == "web-2"
    assert main.env["FLEET_REPLICA"] == "web-2"
    assert main.restart == "no"  # fleet restarts pods itself, with back-off


def test_ports_are_published_on_the_host_address_with_a_random_port(demo):
    _, (main,) = place(demo, "web")
    ((port),) = main.ports
    assert (port.container_port, port.host_port, port.host_ip) == (8080, 0, "10.77.0.12")


def test_limits_become_engine_limits(demo):
    _, (main,) = place(demo, "web")
    assert main.cpus == 0.5 and main.memory == 128 * 2**20


def test_sidecars_share_the_main_containers_network_and_scratch_volume(demo):
    where, (main, sidecar) = place(demo, "api")
    assert sidecar.network == f"container:{main.name}"
    assert sidecar.ports == () and sidecar.hostname is None and not sidecar.extra_hosts
    assert main.labels["fleet.containers"] == "2"
    assert sidecar.labels["fleet.role"] == sidecar.name.rsplit(".", 1)[1]
    shared = {v.source for v in main.volumes} & {v.source for v in sidecar.volumes}
    assert shared == {f"fleet-tmp.demo.api-0.{where.revision}.shared"}


def test_persistent_volume_is_per_replica_and_canaries_never_share_it(demo):
    _, (kv,) = place(demo, "kv", slot=0)
    assert [v.source for v in kv.volumes] == ["fleet.demo.kv-0.data"]
    where, (canary,) = place(demo, "kv", slot=0, canary=True)
    assert [v.source for v in canary.volumes] == [
        f"fleet-tmp.demo.kv-canary-0.{where.revision}.data"
    ]


def test_service_discovery_by_name_and_by_variables(demo):
    _, (main,) = place(demo, "web")
    assert main.extra_hosts == {"kv": "10.77.0.11"}
    assert main.env["KV_SERVICE_HOST"] == "10.77.0.11"
    assert main.env["KV_SERVICE_PORT"] == "7070"
    assert discovery_env([Endpoint("zwitscher-consul", "10.0.0.1", 8500)]) == {
        "ZWITSCHER_CONSUL_SERVICE_HOST": "10.0.0.1",
        "ZWITSCHER_CONSUL_SERVICE_PORT": "8500",
    }
