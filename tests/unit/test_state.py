"""Actual state decoded from container labels; unknown hosts remembered, never empty."""

from __future__ import annotations

from datetime import UTC, datetime

from fleet.model import ContainerState
from fleet.remote.model import ContainerInfo, HostFacts, HostObservation, PublishedPort
from fleet.spec.inventory import Capacity, Host
from fleet.state import decode_pods, host_state, snapshot

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def container(name, role="main", state="running", slot="0", containers="1", **labels):
    base = {
        "fleet.managed": "true",
        "fleet.app": "demo",
        "fleet.service": "web",
        "fleet.slot": slot,
        "fleet.revision": "abc",
        "fleet.role": role,
        "fleet.cpu": "100",
        "fleet.memory": "1024",
        "fleet.containers": containers,
    }
    base.update(labels)
    return ContainerInfo(
        id=name + "-id",
        name=name,
        image="lab/web:1",
        image_id="sha256:1",
        labels=base,
        state=state,
        health=None,
        exit_code=0 if state == "running" else 137,
        created_at=T0,
        started_at=T0,
        finished_at=None,
        restart_count=0,
        ports=(PublishedPort(8080, "tcp", "10.77.0.11", 32768),) if role == "main" else (),
        addresses={"bridge": "172.17.0.2"},
    )


def test_containers_group_into_pods_with_requests_ports_and_address():
    pods, broken = decode_pods(
        "node1",
        [
            container("demo.web-0.abc", containers="2"),
            container("demo.web-0.abc.log", role="log"),
            container("demo.web-1.abc", slot="1", state="exited"),
            container("stray", **{"fleet.slot": "x"}),
        ],
    )
    assert broken == ["stray"]
    first, second = pods
    assert first.name == "web-0.abc" and first.replica == "web-0"
    assert [c.role for c in first.containers] == ["main", "log"]
    assert first.running and first.complete
    assert first.requests.cpu == 100 and first.requests.memory == 1024
    assert first.ports == ((8080, 32768),) and first.ip == "172.17.0.2"
    assert second.containers[0].state is ContainerState.exited and not second.running


def test_a_pod_missing_a_container_is_incomplete():
    (pod,), _ = decode_pods("node1", [container("demo.web-0.abc", containers="2")])
    assert not pod.complete and not pod.running


def test_unreachable_host_keeps_its_last_known_pods():
    host = Host(name="node1", address="10.77.0.11", capacity=Capacity(cpu="2", memory="2Gi"))
    seen = HostObservation(
        host="node1",
        facts=HostFacts("node1", 4, 2**33, "docker", "20.10", 1),
        containers=[container("demo.web-0.abc")],
        unmanaged_count=0,
        round_trip_ms=3.0,
    )
    state = host_state(host, seen, volumes=["fleet.demo.kv-0.data"])
    assert state.reachable and state.capacity.cpu == 2000  # the inventory's capacity wins
    remembered = host_state(host, None, error="timed out", remembered=snapshot(state))
    assert not remembered.reachable and remembered.contents_known
    assert remembered.pods == state.pods and remembered.volumes == state.volumes
    unknown = host_state(host, None, error="timed out")
    assert not unknown.contents_known and unknown.pods == ()
