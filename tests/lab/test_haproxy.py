"""HAProxy on the lab's lb host, configured by fleet: rendering from observed pods, the write
path (haproxy -c, atomic install, .prev), seamless reloads, HAProxy's own readiness checks,
canary weights and the status view."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from fleet import lab as fleet_lab
from fleet.errors import HAProxyConfigError
from fleet.lb.haproxy import LbOutcome, LbReport, apply_lb, push_config, wait_drained
from fleet.lb.model import HealthCheck, LbBackend, LbService
from fleet.lb.render import Rendered, render_hosts
from fleet.lb.status import lb_status
from fleet.model import ClusterState, PodHealth
from fleet.probe import ProbeState, ProbeTarget, check_pods, health, health_key
from fleet.remote.engine import Engine
from fleet.remote.ssh import SSHPool
from fleet.spec.inventory import Inventory
from fleet.spec.loader import load_inventory
from tests.lab.labtools import docker, lb_host, wait_until
from tests.lab.webpods import (
    WEB_CONTAINER,
    Load,
    get,
    observe,
    pods_of,
    remove_app,
    replica_of,
    spread,
    start_web,
    switch,
)

pytestmark = pytest.mark.lab

APP = "lbtest"
PORT = 18080  # the Service's listen port on the lb host
CHECK = HealthCheck("http", "/readyz", interval=1.0, timeout=1.0, rise=1, fall=2)
WEB = LbService(APP, "web", PORT, (LbBackend(APP, "web", 8080, CHECK),), "http", "http", 5.0)


@pytest.fixture(scope="module")
def web_pods(lab: fleet_lab.LabInfo) -> Iterator[None]:
    """web-0..2, one per lab host; the lb host's config is put back afterwards."""
    lb = lb_host(lab)
    assert lb.haproxy_config is not None
    before = lb.haproxy_config.read_text()
    remove_app(lab, APP)
    for slot, host in enumerate(lab.hosts[:3]):
        start_web(lab, host, APP, slot)
    yield
    remove_app(lab, APP)
    inventory = load_inventory(lab.inventory_path)

    async def restore() -> None:
        async with SSHPool(inventory) as pool:
            await push_config(pool, lb.name, before)

    asyncio.run(restore())


def lb_address(lab: fleet_lab.LabInfo) -> str:
    return lb_host(lab).address


async def ready_cluster(
    lab: fleet_lab.LabInfo, pool: SSHPool, count: int = 3
) -> tuple[ClusterState, dict[str, PodHealth]]:
    """Observe the pods and probe them (poll mode) until `count` are there, all ready."""
    states: dict[str, ProbeState | None] = {}
    deadline = time.monotonic() + 15
    while True:
        cluster = await observe(lab, pool, APP)
        targets = [ProbeTarget(p, WEB_CONTAINER) for p in pods_of(cluster)]
        states.update(await check_pods(pool, Engine(pool), targets, states, poll=True))
        healths = {k: health(s) for k, s in states.items()}
        if len(targets) == count and all(h.ready for h in healths.values()):
            return cluster, healths
        assert time.monotonic() < deadline, healths
        await asyncio.sleep(0.1)


async def push(pool: SSHPool, inventory: Inventory, configs: dict[str, Rendered]) -> LbReport:
    return await apply_lb(pool, inventory, {h: r.text for h, r in configs.items()})


async def test_requests_reach_every_ready_replica(
    lab: fleet_lab.LabInfo, web_pods: None, inventory: Inventory, pool: SSHPool
) -> None:
    cluster, healths = await ready_cluster(lab, pool)
    configs = render_hosts(inventory.lb_hosts, [WEB], cluster, healths)
    report = await push(pool, inventory, configs)
    assert {h: r.outcome for h, r in report.results.items()} == {"node1": LbOutcome.reloaded}
    assert report.results["node1"].method == "master-socket"
    seen = spread(lb_address(lab), PORT, 300)
    assert set(seen) == {"web-0", "web-1", "web-2"}, seen
    assert all(count >= 90 for count in seen.values()), seen  # round robin
    # the same config again: no write, no reload
    again = await push(pool, inventory, configs)
    assert again.results["node1"].outcome is LbOutcome.unchanged
    lb = lb_host(lab)
    assert lb.haproxy_config is not None
    assert lb.haproxy_config.read_text() == configs["node1"].text
    assert lb.haproxy_config.with_name("haproxy.cfg.prev").exists()


async def test_a_replica_failing_readiness_leaves_the_rotation_and_returns(
    lab: fleet_lab.LabInfo, web_pods: None, inventory: Inventory, pool: SSHPool
) -> None:
    cluster, healths = await ready_cluster(lab, pool)
    await push(pool, inventory, render_hosts(inventory.lb_hosts, [WEB], cluster, healths))
    victim = next(p for p in cluster.pods() if p.slot == 1)
    address = lb_address(lab)
    switch(lab.host(victim.host), victim, "fail?ready")
    try:
        # HAProxy's own check (inter 1 s, fall 2) takes it out before fleet runs again
        started = time.monotonic()
        wait_until(lambda: "web-1" not in spread(address, PORT, 12), timeout=10,
                   what="web-1 out of the rotation")
        took = time.monotonic() - started
        assert took <= 1.0 * 2 + 2.0, took
        assert "web-1" not in spread(address, PORT, 60)
        views = await lb_status(pool, inventory, render_hosts(inventory.lb_hosts, [WEB],
                                                              cluster, healths))
        servers = {s.name: s for s in views["node1"].frontends[0].servers}
        assert views["node1"].runtime
        assert servers[victim.name].state == "DOWN" and "404" in servers[victim.name].check
        assert servers["web-0.0000000001"].state == "UP"
        running = (await lb_status(pool, inventory))["node1"]  # from HAProxy alone
        assert [f.name for f in running.frontends] == [f"{APP}.web.{PORT}"]
        assert {s.name: s.state for s in running.frontends[0].servers}[victim.name] == "DOWN"
    finally:
        switch(lab.host(victim.host), victim, "recover?ready")
    wait_until(lambda: "web-1" in spread(address, PORT, 6), timeout=10,
               what="web-1 back in the rotation")


async def test_a_rejected_config_leaves_the_old_one_serving(
    lab: fleet_lab.LabInfo, web_pods: None, inventory: Inventory, pool: SSHPool
) -> None:
    cluster, healths = await ready_cluster(lab, pool)
    good = render_hosts(inventory.lb_hosts, [WEB], cluster, healths)["node1"].text
    await apply_lb(pool, inventory, {"node1": good})
    bad = good.replace("    balance roundrobin\n", "    balance roundrobin\n    frobnicate 1\n")
    report = await apply_lb(pool, inventory, {"node1": bad})
    result = report.results["node1"]
    assert result.outcome is LbOutcome.rejected
    assert "unknown keyword 'frobnicate'" in result.reason and "haproxy.cfg:" in result.reason
    with pytest.raises(HAProxyConfigError, match=r"node1: HAProxy rejected the config: .*"
                                                 r"frobnicate"):
        report.raise_for_errors()
    with pytest.raises(HAProxyConfigError, match="frobnicate"):
        await push_config(pool, "node1", bad)
    lb = lb_host(lab)
    assert lb.haproxy_config is not None and lb.haproxy_config.read_text() == good
    assert not [p for p in lb.haproxy_config.parent.iterdir() if ".fleet-" in p.name]
    assert set(spread(lb_address(lab), PORT, 30)) == {"web-0", "web-1", "web-2"}


async def test_a_config_that_cannot_start_is_reported_and_taken_back(
    lab: fleet_lab.LabInfo, web_pods: None, inventory: Inventory, pool: SSHPool
) -> None:
    cluster, healths = await ready_cluster(lab, pool)
    good = render_hosts(inventory.lb_hosts, [WEB], cluster, healths)
    await push(pool, inventory, good)
    # haproxy -c accepts it, but the lb host's sshd holds port 22: the new workers fail
    clash = replace(WEB, name="clash", listen_port=22)
    report = await push(pool, inventory,
                        render_hosts(inventory.lb_hosts, [WEB, clash], cluster, healths))
    result = report.results["node1"]
    assert result.outcome is LbOutcome.failed, result
    assert "could not start with the new config" in result.reason
    assert "previous config was put back" in result.reason
    lb = lb_host(lab)
    assert lb.haproxy_config is not None
    assert lb.haproxy_config.read_text() == good["node1"].text
    assert set(spread(lb_address(lab), PORT, 30)) == {"web-0", "web-1", "web-2"}
    # the next run sees the running config on disk: nothing to do
    assert (await push(pool, inventory, good)).results["node1"].outcome is LbOutcome.unchanged


async def test_reloads_under_load_lose_no_request(
    lab: fleet_lab.LabInfo, web_pods: None, inventory: Inventory, pool: SSHPool
) -> None:
    cluster, healths = await ready_cluster(lab, pool)
    web1 = health_key(next(p for p in cluster.pods() if p.slot == 1))
    full = render_hosts(inventory.lb_hosts, [WEB], cluster, healths)
    drained = render_hosts(inventory.lb_hosts, [WEB], cluster, healths, exclude={web1})
    await push(pool, inventory, full)
    reloads = 0
    # fresh connections, and clients that would keep theirs alive (fleet closes them)
    with Load(lb_address(lab), PORT, threads=2) as fresh, \
            Load(lb_address(lab), PORT, threads=2, keep_alive=True) as reusing:
        for _ in range(4):
            for configs in (drained, full):
                await asyncio.sleep(0.35)
                report = await push(pool, inventory, configs)
                assert report.results["node1"].outcome is LbOutcome.reloaded
                reloads += 1
        await asyncio.sleep(0.5)
    assert reloads == 8
    for load in (fresh, reusing):
        assert load.failures == [], load.failures[:5]
        assert load.rate >= 50, load.rate
        assert set(load.replicas) == {"web-0", "web-1", "web-2"}


async def test_drain_takes_a_replica_out_before_it_stops(
    lab: fleet_lab.LabInfo, web_pods: None, inventory: Inventory, pool: SSHPool
) -> None:
    cluster, healths = await ready_cluster(lab, pool)
    web2 = next(p for p in cluster.pods() if p.slot == 2)
    drained = render_hosts(inventory.lb_hosts, [WEB], cluster, healths,
                           exclude={health_key(web2)})
    try:
        assert (await push(pool, inventory, drained)).ok
        assert set(spread(lb_address(lab), PORT, 60)) == {"web-0", "web-1"}
    finally:
        await push(pool, inventory, render_hosts(inventory.lb_hosts, [WEB], cluster, healths))


async def test_wait_drained_waits_for_old_workers(
    lab: fleet_lab.LabInfo, web_pods: None, inventory: Inventory, pool: SSHPool
) -> None:
    cluster, healths = await ready_cluster(lab, pool)
    web0 = health_key(next(p for p in cluster.pods() if p.slot == 0))
    await push(pool, inventory, render_hosts(inventory.lb_hosts, [WEB], cluster, healths))
    # a client in the middle of a request keeps the old worker busy after the reload
    client = socket.create_connection((lb_address(lab), PORT), timeout=5)
    try:
        client.sendall(b"GET / HTTP/1.1\r\nHost: lb\r\n")
        await asyncio.sleep(0.2)
        drained = render_hosts(inventory.lb_hosts, [WEB], cluster, healths, exclude={web0})
        assert (await push(pool, inventory, drained)).ok
        assert await wait_drained(pool, ["node1"], timeout=1.0) == {"node1": False}
        client.sendall(b"Connection: close\r\n\r\n")  # the request completes
        assert client.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        client.close()
    started = time.monotonic()
    assert await wait_drained(pool, ["node1"], timeout=10.0) == {"node1": True}
    assert time.monotonic() - started < 2.0


async def test_no_ready_replica_answers_503_not_refused(
    lab: fleet_lab.LabInfo, web_pods: None, inventory: Inventory, pool: SSHPool
) -> None:
    cluster, _ = await ready_cluster(lab, pool)
    empty = LbService(APP, "empty", PORT + 1, (LbBackend(APP, "nothing", 8080, CHECK),), "http")
    await push(pool, inventory, render_hosts(inventory.lb_hosts, [WEB, empty], cluster, {}))
    status, _ = get(lb_address(lab), PORT + 1)
    assert status == 503
    status, _ = get(lb_address(lab), PORT)  # WEB has no ready replica either now
    assert status == 503


async def test_canary_weight_20_gets_a_fifth_of_the_requests(
    lab: fleet_lab.LabInfo, web_pods: None, inventory: Inventory, pool: SSHPool
) -> None:
    lb = lb_host(lab)
    canary_host = lab.hosts[-1]
    start_web(lab, canary_host, APP, 0, revision="00000000c2", canary=True, image="lab/web:2")
    try:
        cluster, healths = await ready_cluster(lab, pool, 4)
        service = replace(WEB, backends=(replace(WEB.backends[0], canary_weight=20),))
        configs = render_hosts(inventory.lb_hosts, [service], cluster, healths)
        assert (await push(pool, inventory, configs)).ok
        answers = [get(lb.address, PORT)[1] for _ in range(1000)]
        new = sum(1 for body in answers if body.startswith("web v2"))
        assert 150 <= new <= 250, new
        assert {replica_of(b) for b in answers} == {"web-0", "web-1", "web-2", "web-canary-0"}
    finally:
        canary = next(p for p in (await observe(lab, pool, APP)).pods() if p.canary)
        docker(canary_host, "rm", "-f", canary.containers[0].name)

