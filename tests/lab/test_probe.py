"""Probes against real pods in the lab: httpGet/tcpSocket through the host's SSH connection
to the container's own address, exec in the container; readiness and liveness over time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from fleet import lab as fleet_lab
from fleet.probe import (
    Outcome,
    ProbeState,
    ProbeTarget,
    check_pods,
    health_key,
    run_probes,
)
from fleet.remote.engine import Engine
from fleet.remote.ssh import SSHPool
from fleet.spec.blueprint import Container
from fleet.spec.inventory import Host
from fleet.spec.loader import load_inventory
from tests.lab.webpods import WEB_CONTAINER, observe, pods_of, remove_app, start_web, switch

pytestmark = pytest.mark.lab

APP = "probetest"


@pytest.fixture(scope="module")
def web_pods(lab: fleet_lab.LabInfo) -> Iterator[None]:
    """web-0 on node2 (published) and web-1 on node3 (8080 NOT published)."""
    remove_app(lab, APP)
    start_web(lab, lab.hosts[1], APP, 0)
    start_web(lab, lab.hosts[2], APP, 1, publish=False)
    yield
    remove_app(lab, APP)


async def targets(lab: fleet_lab.LabInfo, pool: SSHPool,
                  container: Container = WEB_CONTAINER) -> list[ProbeTarget]:
    return [ProbeTarget(p, container) for p in pods_of(await observe(lab, pool, APP))]


def variant(**probes: object) -> Container:
    return Container.model_validate({**WEB_CONTAINER.model_dump(by_alias=True,
                                                               exclude_none=True), **probes})


async def test_every_kind_succeeds_also_on_an_unpublished_port(
    lab: fleet_lab.LabInfo, web_pods: None, pool: SSHPool
) -> None:
    found = await targets(lab, pool)
    assert [t.pod.name for t in found] == ["web-0.0000000001", "web-1.0000000001"]
    assert found[1].pod.host_port(8080) is None and found[1].pod.ip
    results = await run_probes(pool, Engine(pool), found)
    for t in found:
        got = {kind: (r.outcome, r.reason) for kind, r in results[t.key].items()}
        assert got == {
            "startup": (Outcome.success, "exit 0"),
            "liveness": (Outcome.success, "HTTP 200"),
            "readiness": (Outcome.success, "HTTP 200"),
        }, t.pod.name
    tcp = variant(readinessProbe={"tcpSocket": {"port": 8080}})
    results = await run_probes(pool, Engine(pool), await targets(lab, pool, tcp),
                               kinds={"readiness"})
    assert {r["readiness"].reason for r in results.values()} == {"connected"}


async def test_failures_carry_a_short_reason(
    lab: fleet_lab.LabInfo, web_pods: None, pool: SSHPool
) -> None:
    unreachable = lab.hosts[0].address.rsplit(".", 1)[0] + ".250"  # nothing answers ARP
    cases = {
        "readiness": ({"httpGet": {"path": "/nope", "port": 8080}}, "HTTP 404"),
        "liveness": ({"tcpSocket": {"port": 9999}}, "connection refused"),
        "startup": ({"exec": {"command": ["sh", "-c", "exit 3"]}}, "exit 3"),
    }
    container = variant(**{f"{k}Probe": v for k, (v, _) in cases.items()})
    found = await targets(lab, pool, container)
    results = await run_probes(pool, Engine(pool), found)
    for t in found:
        assert {k: (r.outcome, r.reason) for k, r in results[t.key].items()} == {
            k: (Outcome.failure, reason) for k, (_, reason) in cases.items()
        }
    # a probe never outlives its timeout, opening the channel included
    hang = variant(readinessProbe={"tcpSocket": {"port": 80, "host": unreachable},
                                   "timeoutSeconds": 1})
    started = time.monotonic()
    results = await run_probes(pool, Engine(pool), await targets(lab, pool, hang),
                               kinds={"readiness"})
    took = time.monotonic() - started
    assert {r["readiness"].reason for r in results.values()} == {"timeout after 1.0 s"}
    assert took < 2.0, took
    slow = variant(startupProbe={"exec": {"command": ["sleep", "5"]}, "timeoutSeconds": 1})
    started = time.monotonic()
    results = await run_probes(pool, Engine(pool), await targets(lab, pool, slow),
                               kinds={"startup"})
    assert {r["startup"].reason for r in results.values()} == {"timeout after 1.0 s"}
    assert time.monotonic() - started < 2.0


async def test_unreachable_host_gives_unknown(lab: fleet_lab.LabInfo, web_pods: None) -> None:
    inventory = load_inventory(lab.inventory_path)
    gone = Host(**{**inventory.host("node2").model_dump(), "connect_timeout": 1.0,
                   "address": lab.hosts[0].address.rsplit(".", 1)[0] + ".251"})
    async with SSHPool([gone]) as lost_pool:
        async with SSHPool(inventory) as pool:
            found = await targets(lab, pool)
        results = await run_probes(lost_pool, Engine(lost_pool), found[:1])
    assert set(results[found[0].key]) == {"startup", "liveness", "readiness"}
    for result in results[found[0].key].values():
        assert result.outcome is Outcome.unknown
        assert result.reason.startswith("host unreachable: ")


async def wait_state(lab: fleet_lab.LabInfo, pool: SSHPool, states: dict[str, ProbeState | None],
                     key: str, predicate: object, deadline: float) -> tuple[float, ProbeState]:
    """Run check_pods (as `heal --watch` would, every 0.2 s) until predicate(state)."""
    started = time.monotonic()
    while True:
        found = await targets(lab, pool)
        states.update(await check_pods(pool, Engine(pool), found, states))
        state = states[key]
        assert state is not None
        if predicate(state):  # type: ignore[operator]
            return time.monotonic() - started, state
        assert time.monotonic() - started < deadline, f"state stayed {state}"
        await asyncio.sleep(0.2)


async def test_readiness_and_liveness_follow_the_pod(
    lab: fleet_lab.LabInfo, web_pods: None, pool: SSHPool
) -> None:
    pod = (await targets(lab, pool))[0].pod
    key = health_key(pod)
    node2 = lab.host(pod.host)
    states: dict[str, ProbeState | None] = {}
    _, state = await wait_state(lab, pool, states, key, lambda s: s.ready, 10)
    assert state.started and state.live and state.ready_since is not None
    # readiness fails: not ready within periodSeconds x failureThreshold (1 s x 2) + a period
    switch(node2, pod, "fail?ready")
    try:
        took, state = await wait_state(lab, pool, states, key, lambda s: not s.ready, 10)
        assert took <= 1 * 2 + 1.5, took
        assert state.live and state.reason == "readiness probe failed: HTTP 404"
    finally:
        switch(node2, pod, "recover?ready")
    _, state = await wait_state(lab, pool, states, key, lambda s: s.ready, 10)
    # liveness fails: live=False after failureThreshold failures in a row
    switch(node2, pod, "fail?live")
    try:
        took, state = await wait_state(lab, pool, states, key, lambda s: not s.live, 10)
        assert took <= 1 * 2 + 1.5, took
        assert state.reason == "liveness probe failed 2 times in a row: HTTP 404"
        assert not state.ready
    finally:
        switch(node2, pod, "recover?live")
    # held until the container restarts (the probe would pass again now)
    found = await targets(lab, pool)
    held = await check_pods(pool, Engine(pool), found, states)
    assert not held[key].live
    ready_before = held[key]
    restarted = replace(pod, containers=(replace(pod.containers[0],
                                                 started_at=(pod.started_at or 0) + 1),))
    fresh = await check_pods(pool, Engine(pool), [ProbeTarget(restarted, WEB_CONTAINER)],
                             {key: ready_before})
    assert fresh[key].live


async def test_poll_mode_sees_readiness_at_once(
    lab: fleet_lab.LabInfo, web_pods: None, pool: SSHPool
) -> None:
    found = await targets(lab, pool)
    states: dict[str, ProbeState | None] = {}
    # fresh state: the startup probe runs first, readiness on the next poll
    first = await check_pods(pool, Engine(pool), found, states, poll=True)
    assert all(s.started and not s.ready for s in first.values())
    second = await check_pods(pool, Engine(pool), found, dict(first), poll=True)
    assert all(s.ready for s in second.values())
