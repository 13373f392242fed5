"""Health and traffic end to end (issue 5): `fleet` run as an operator runs it against the
lab, requests through the lab's HAProxy.

Each test has its own application and Service port (18100-18199) and starts from a clean
lab: no fleet containers, and the lb host's HAProxy back at the lab's own minimal config.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleet.lab import LabInfo
from fleet.lab.daemons import render_haproxy_config
from fleet.lb.haproxy import push_config
from fleet.lb.merge import listen_blocks
from fleet.spec.loader import load_inventory
from tests.lab.fleetrun import Fleet, clean, managed, write
from tests.lab.labtools import docker, http_get, lb_host, wait_until
from tests.lab.loadgen import LoadGen

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
RATE = 80.0  # requests/s the load generator aims at; >= 50/s is asserted


# ---- fixtures and helpers ---------------------------------------------------------------------


def reset_lb(lab: LabInfo) -> None:
    """The lb host's HAProxy back on the lab's own config (no fleet frontend), reloaded."""
    inventory = load_inventory(lab.inventory_path)
    from fleet.remote.ssh import SSHPool

    async def push() -> None:
        async with SSHPool(inventory) as pool:
            for host in lab.hosts:
                if host.is_lb:
                    await push_config(pool, host.name, render_haproxy_config(host.name))

    asyncio.run(push())


@pytest.fixture
def fleet(lab: LabInfo, tmp_path: Path) -> Iterator[Fleet]:
    clean(lab)
    reset_lb(lab)
    yield Fleet(lab, tmp_path / "state")
    clean(lab)
    reset_lb(lab)


def deployment(
    name: str,
    *,
    image: str = "lab/web:1",
    replicas: int = 3,
    ready: tuple[int, int] = (1, 2),  # readiness periodSeconds, failureThreshold
    live: tuple[int, int] | None = None,  # liveness periodSeconds, failureThreshold
    canary: str | None = None,  # e.g. "{replicas: 1, weight: 20}": strategy Canary
    grace: int = 5,
    min_ready: int = 0,
) -> str:
    """A Deployment of the lab's web image with an `http` port and probes."""
    strategy = (
        f"{{type: Canary, canary: {canary}}}"
        if canary
        else "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"
    )
    probes = (
        f"          readinessProbe: {{httpGet: {{path: /readyz, port: http}},"
        f" periodSeconds: {ready[0]}, failureThreshold: {ready[1]}}}\n"
    )
    if live is not None:
        probes += (
            f"          livenessProbe: {{httpGet: {{path: /healthz, port: http}},"
            f" periodSeconds: {live[0]}, failureThreshold: {live[1]}}}\n"
        )
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  minReadySeconds: {min_ready}
  progressDeadlineSeconds: 90
  strategy: {strategy}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: {grace}
      containers:
        - name: web
          image: {image}
          ports: [{{name: http, containerPort: 8080}}]
          resources: {{requests: {{cpu: 50m, memory: 32Mi}}}}
{probes}"""


def service(name: str, port: int, kind: str = "LoadBalancer") -> str:
    return f"""\
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: {kind}
  selector: {{app: {name}}}
  ports: [{{name: http, port: {port}, targetPort: http}}]
"""


def web_app(port: int, **kwargs: Any) -> str:
    """Deployment `web` behind Service `web` on `port` of the lb host."""
    return deployment("web", **kwargs) + service("web", port)


def apply(fleet: Fleet, *paths: Path) -> None:
    done = fleet.run("apply", "--yes", *map(str, paths))
    assert done.returncode == 0, done.stderr


def pods(lab: LabInfo, app: str, service_name: str = "web") -> dict[str, dict[str, str]]:
    """Running main containers of a service by replica id (host, name, labels)."""
    return {
        c["fleet.replica"]: c
        for c in managed(lab, app=app, service=service_name)
        if c["state"] == "running" and c.get("fleet.role") == "main"
    }


def published(lab: LabInfo, pod: dict[str, str]) -> tuple[str, int]:
    """(address, port) where the pod's 8080 is published on its host."""
    out = docker(lab.host(pod["host"]), "port", pod["name"], "8080/tcp").stdout.split()[0]
    address, port = out.rsplit(":", 1)
    return address, int(port)


def switch(lab: LabInfo, pod: dict[str, str], what: str) -> None:
    """`/cgi-bin/fail?ready` and friends, on the pod itself (its published port)."""
    address, port = published(lab, pod)
    answer = http_get(f"http://{address}:{port}/cgi-bin/{what}")
    assert answer.status_code == 200, answer.text


def started_at(lab: LabInfo, pod: dict[str, str]) -> tuple[float, int]:
    """(StartedAt as a Unix time, RestartCount) of the pod's main container, from its
    engine (a `docker restart` changes the first, the engine's restart policy the second)."""
    out = docker(
        lab.host(pod["host"]), "inspect", "-f", "{{.State.StartedAt}} {{.RestartCount}}",
        pod["name"],
    ).stdout.split()
    seconds, _, fraction = out[0].rstrip("Z").partition(".")  # RFC 3339, nanoseconds, UTC
    start = datetime.fromisoformat(seconds).replace(tzinfo=UTC).timestamp()
    return start + float(f"0.{fraction or 0}"), int(out[1])


def servers(lab: LabInfo, section: str) -> list[str]:
    """Server names (pod names) in one listen section of the lb host's live config."""
    config = lb_host(lab).haproxy_config
    assert config is not None
    for block in listen_blocks(config.read_text()):
        if f"{block.app}.{block.name}.{block.port}" == section:
            return sorted(
                line.split()[1] for line in block.text.splitlines() if line.strip().startswith(
                    "server ")
            )
    return []


def events(fleet: Fleet, **match: str) -> list[dict[str, Any]]:
    found = fleet.json("events", "--limit", "500")["events"]
    return [e for e in found if all(e.get(k) == v for k, v in match.items())]


def fetch_many(address: str, port: int, count: int) -> list[str]:
    """`count` GETs one after another, each on a fresh connection: the answers' first lines
    (or `HTTP <status>`)."""
    out = []
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(trust_env=False, timeout=5.0, limits=limits) as client:
        for _ in range(count):
            answer = client.get(f"http://{address}:{port}/", headers={"Connection": "close"})
            out.append(answer.text.strip() if answer.status_code == 200
                       else f"HTTP {answer.status_code}")
    return out


def replica_in(line: str) -> str:
    return line.split("replica=", 1)[1].split()[0] if "replica=" in line else line


# ---- 1. every ready replica gets requests -------------------------------------------------------


def test_300_requests_reach_every_ready_replica_named_in_the_answer(fleet, lab, tmp_path):
    path = write(tmp_path, "tr1", web_app(18101))
    apply(fleet, path)
    running = pods(lab, "tr1")
    assert sorted(running) == ["web-0", "web-1", "web-2"]
    # one server per ready replica, named by its pod
    assert servers(lab, "tr1.web.18101") == sorted(p["fleet.pod"] for p in running.values())

    answers = fetch_many(lb_host(lab).address, 18101, 300)
    assert all(a.startswith("web v1 replica=") for a in answers), Counter(answers)
    seen = Counter(replica_in(a) for a in answers)
    assert set(seen) == set(running), seen
    assert min(seen.values()) >= 50, seen  # round robin: about 100 each
    # the answer names the replica and the host fleet placed it on
    for answer in set(answers):
        replica = replica_in(answer)
        assert answer.endswith(f"host={running[replica]['host']}"), answer


# ---- 2. readiness takes a replica out of the rotation and back -----------------------------------


def heal_until(fleet: Fleet, path: Path, predicate: Any, what: str, passes: int = 10) -> int:
    """`fleet heal` passes (as cron runs them) until `predicate()`; how many it took."""
    for done in range(1, passes + 1):
        healed = fleet.run("heal", str(path))
        assert healed.returncode == 0, healed.stderr
        if predicate():
            return done
    raise AssertionError(f"{what}: not after {passes} heal passes")


def test_a_replica_failing_readiness_leaves_the_rotation_and_returns(fleet, lab, tmp_path):
    period, failures = 1, 2
    bound = period * failures  # HAProxy's check mirrors the probe: inter 1s fall 2
    path = write(tmp_path, "tr2", web_app(18102, ready=(period, failures)))
    apply(fleet, path)
    victim = pods(lab, "tr2")["web-1"]
    section = "tr2.web.18102"
    with LoadGen(lb_host(lab).address, 18102, rate=60) as load:
        load.wait_for(lambda g: len(g.replicas()) == 3, 20, "all three replicas answering")

        # between fleet runs (no fleet process runs now): HAProxy's own check takes it out
        switch(lab, victim, "fail?ready")
        failed_at = time.monotonic()
        load.wait_for(
            lambda g: time.monotonic() - max(g.last_answer("web-1") or 0, failed_at) > 3,
            30, "web-1 to stop answering",
        )
        left = max((load.last_answer("web-1") or failed_at) - failed_at, 0.0)
        assert victim["fleet.pod"] in servers(lab, section)  # fleet has not run yet

        # the next heal passes see it too (failureThreshold probes) and drop the server
        passes_out = heal_until(fleet, path, lambda: victim["fleet.pod"] not in servers(
            lab, section), "web-1 out of the HAProxy config")
        assert events(fleet, kind="not-ready", replica="web-1")
        quiet_from = time.monotonic()
        load.wait_for(lambda g: time.monotonic() - quiet_from > 1.5, 5, "more load")
        out_window = load.snapshot(since=failed_at + bound + period)

        # switched back: the next heal pass finds it ready and puts it back
        switch(lab, victim, "recover?ready")
        recovered_at = time.monotonic()
        passes_back = heal_until(fleet, path, lambda: len(servers(lab, section)) == 3,
                                 "web-1 back in the HAProxy config")
        load.wait_for(lambda g: (g.last_answer("web-1") or 0) > recovered_at, 10,
                      "web-1 to answer again")
        back = (load.last_answer("web-1") or 0) - recovered_at
    print(f"readiness off -> out of rotation after {left:.2f} s (HAProxy check, bound {bound} s"
          f" + a check interval); heal passes to drop it: {passes_out}; ready again -> "
          f"answering after {back:.2f} s ({passes_back} heal pass(es)); {load.summary()}")
    assert left <= bound + period, f"web-1 answered {left:.2f} s after failing readiness"
    assert out_window and {s.replica for s in out_window} == {"web-0", "web-2"}
    assert not load.failures(), load.summary()  # the others took its share, nothing lost


# ---- 3. liveness restarts a replica after failureThreshold failures, not before ---------------


def probe_state(fleet: Fleet, key: str) -> dict[str, Any]:
    """The probe state fleet keeps for a pod between runs (journal scope `probe`)."""
    from fleet.journal import Journal

    name = load_inventory(fleet.lab.inventory_path).name
    journal = Journal(fleet.state / name / "journal.sqlite")
    try:
        return journal.get("probe", key) or {}
    finally:
        journal.close()


def test_a_replica_failing_liveness_is_restarted_after_failure_threshold_probes(
    fleet, lab, tmp_path
):
    threshold = 3
    path = write(tmp_path, "tr3", web_app(18103, live=(1, threshold)))
    apply(fleet, path)
    victim = pods(lab, "tr3")["web-0"]
    key = victim["name"]  # the health key: the main container's name
    before = started_at(lab, victim)
    switch(lab, victim, "fail?live")

    counted: list[int] = []  # liveness failures fleet had counted after each pass
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, f"no restart after {counted} failures"
        healed = fleet.run("heal", str(path))
        assert healed.returncode == 0, healed.stderr
        if started_at(lab, victim) != before:
            break  # this pass restarted it
        # not restarted yet: fewer than failureThreshold failures in a row so far
        state = probe_state(fleet, key)
        failures = state.get("counters", {}).get("liveness", {}).get("failures", 0)
        assert failures < threshold and state.get("live") is True, (counted, state)
        assert "restart" not in healed.stdout, healed.stdout
        counted.append(failures)
    print(f"liveness failures counted after each heal pass before the restart: {counted}")
    # a pass counts at most one probe: 1, 2 failures in the passes before, the third in the
    # pass that restarted it
    assert all(b - a in (0, 1) for a, b in zip([0, *counted], counted, strict=False)), counted
    assert counted and counted[-1] == threshold - 1, counted
    assert f"liveness probe failed {threshold} times in a row" in healed.stdout, healed.stdout
    assert "restart web-0." in healed.stdout, healed.stdout
    after = started_at(lab, victim)
    assert after[0] > before[0]  # a new start of the same container
    kinds = [e["kind"] for e in events(fleet, replica="web-0")]
    assert "liveness-failed" in kinds and "restart" in kinds, kinds
    # the restarted container starts live and ready again, and is back in the rotation
    address, port = published(lab, victim)
    assert http_get(f"http://{address}:{port}/healthz").status_code == 200
    again = fleet.run("heal", str(path))
    assert again.returncode == 0 and "restart" not in again.stdout, again.stdout
    wait_until(lambda: "web-0" in {replica_in(a) for a in fetch_many(lb_host(lab).address,
                                                                     18103, 6)},
               20, what="web-0 answering through the load balancer")


# ---- 4. zero downtime under load --------------------------------------------------------------


def under_load(lab: LabInfo, port: int, operation: Any) -> tuple[LoadGen, float, float, Any]:
    """Run `operation()` while the load generator sends RATE requests/s through the lb;
    returns the load, when the operation started and ended, and its result."""
    with LoadGen(lb_host(lab).address, port, rate=RATE) as load:
        load.wait_for(lambda g: len(g.replicas()) == 3, 20, "all three replicas answering")
        begin = time.monotonic()
        result = operation()
        end = time.monotonic()
        load.wait_for(lambda g: time.monotonic() - end > 1, 5, "a second more of load")
    return load, begin, end, result


def assert_no_request_lost(load: LoadGen, begin: float, end: float, what: str) -> None:
    during = load.snapshot(begin, end)
    rate = load.rate_between(begin, end)
    print(f"{what}: {end - begin:.1f} s, during it {load.summary(begin, end)}; "
          f"whole run {load.summary()}")
    assert not load.failures(), f"{what}: {load.summary()}"
    assert rate >= 50, f"{what}: only {rate:.0f} requests/s ({len(during)} requests)"
    assert len(during) >= 50


def test_zero_downtime_rolling_update(fleet, lab, tmp_path):
    path = write(tmp_path, "tr4a", web_app(18104, min_ready=1))
    apply(fleet, path)
    old = {p["fleet.pod"] for p in pods(lab, "tr4a").values()}
    path.write_text(web_app(18104, min_ready=1, image="lab/web:2"))
    load, begin, end, done = under_load(
        lab, 18104, lambda: fleet.run("apply", "--yes", str(path))
    )
    assert done.returncode == 0, done.stderr
    assert_no_request_lost(load, begin, end, "rolling update web:1 -> web:2")
    new = pods(lab, "tr4a")
    assert sorted(new) == ["web-0", "web-1", "web-2"] and not {
        p["fleet.pod"] for p in new.values()} & old
    assert load.versions(begin, end).keys() == {"v1", "v2"}  # both served during the rollout
    assert set(load.versions(end + 0.5)) == {"v2"}


def test_zero_downtime_rolling_restart(fleet, lab, tmp_path):
    path = write(tmp_path, "tr4b", web_app(18105))
    apply(fleet, path)
    before = {r: started_at(lab, p) for r, p in pods(lab, "tr4b").items()}
    load, begin, end, done = under_load(
        lab, 18105, lambda: fleet.run("restart", "web", str(path))
    )
    assert done.returncode == 0, done.stderr
    assert_no_request_lost(load, begin, end, "rolling restart")
    after = {r: started_at(lab, p) for r, p in pods(lab, "tr4b").items()}
    assert after.keys() == before.keys()
    assert all(after[r][0] > before[r][0] for r in before), (before, after)
    assert set(load.replicas(end + 0.5)) == {"web-0", "web-1", "web-2"}


def test_zero_downtime_scale_down_3_to_1(fleet, lab, tmp_path):
    path = write(tmp_path, "tr4c", web_app(18106))
    apply(fleet, path)
    load, begin, end, done = under_load(
        lab, 18106, lambda: fleet.run("scale", "web=1", str(path))
    )
    assert done.returncode == 0, done.stderr
    assert_no_request_lost(load, begin, end, "scale-down 3 -> 1")
    assert sorted(pods(lab, "tr4c")) == ["web-0"]
    assert set(load.replicas(end + 0.5)) == {"web-0"}
    assert "replicas: 1" in path.read_text()


# ---- 5. a config HAProxy rejects is never installed ---------------------------------------------


def test_a_config_haproxy_rejects_leaves_the_old_one_serving(fleet, lab, tmp_path):
    path = write(tmp_path, "tr5", web_app(18107))
    apply(fleet, path)
    lb = lb_host(lab)
    assert lb.haproxy_config is not None
    # someone edits another application's frontend by hand on the lb host (and does not
    # reload): fleet keeps other applications' sections verbatim, so its next config is
    # one HAProxy rejects
    broken = lb.haproxy_config.read_text().rstrip("\n") + (
        "\n\nlisten byhand.web.18108\n    bind :18108\n    mode http\n    frobnicate 1\n"
    )
    lb.haproxy_config.write_text(broken)
    path.write_text(web_app(18107, replicas=4))  # one more server for the config
    done = fleet.run("apply", "--yes", str(path))
    assert done.returncode == 3, done.stderr
    assert f"HAProxy on {lb.name}: rejected" in done.stderr, done.stderr
    assert "unknown keyword 'frobnicate'" in done.stderr, done.stderr
    # never installed: the file is what it was, no temp file is left, and HAProxy serves
    # the replicas it served before (not the new web-3)
    assert lb.haproxy_config.read_text() == broken
    assert not [p for p in lb.haproxy_config.parent.iterdir() if ".fleet-" in p.name]
    assert sorted(pods(lab, "tr5")) == ["web-0", "web-1", "web-2", "web-3"]
    seen = Counter(replica_in(a) for a in fetch_many(lb.address, 18107, 60))
    assert set(seen) == {"web-0", "web-1", "web-2"}, seen
    rejected = [e for e in events(fleet, kind="lb-error") if "frobnicate" in e["message"]]
    assert rejected, events(fleet, kind="lb-error")
    # repaired by hand: the next heal pass installs fleet's config, web-3 gets requests
    lb.haproxy_config.write_text(broken.split("\n\nlisten byhand.")[0] + "\n")
    healed = fleet.run("heal", str(path))
    assert healed.returncode == 0, healed.stderr
    assert len(servers(lab, "tr5.web.18107")) == 4
    seen = Counter(replica_in(a) for a in fetch_many(lb.address, 18107, 60))
    assert set(seen) == {"web-0", "web-1", "web-2", "web-3"}, seen


# ---- 6. service discovery across hosts -------------------------------------------------------


def test_a_service_reaches_another_by_name_across_hosts(fleet, lab, tmp_path):
    text = (
        deployment("front", replicas=3)
        + service("front", 18109)
        + "---\n"
        + deployment("back", replicas=1, image="lab/web:2")
        + service("back", 18110, kind="ClusterIP")
    )
    apply(fleet, write(tmp_path, "tr6", text))
    (back,) = pods(lab, "tr6", "back").values()
    front = next(p for p in pods(lab, "tr6", "front").values() if p["host"] != back["host"])
    lb = lb_host(lab)
    # the name resolves through the --add-host entry fleet gave the container
    hosts_file = docker(lab.host(front["host"]), "exec", front["name"], "cat", "/etc/hosts")
    assert f"{lb.address}\tback" in hosts_file.stdout, hosts_file.stdout
    env = dict(
        line.split("=", 1)
        for line in docker(lab.host(front["host"]), "exec", front["name"], "env").stdout.split()
        if "=" in line
    )
    assert env["BACK_SERVICE_HOST"] == lb.address and env["BACK_SERVICE_PORT"] == "18110"
    assert env["FRONT_SERVICE_HOST"] == lb.address and env["FRONT_SERVICE_PORT"] == "18109"
    # front (on one host) asks back by name; back answers from another host
    address, port = published(lab, front)
    answer = http_get(f"http://{address}:{port}/cgi-bin/fetch?host=back&port=18110&path=/")
    assert answer.status_code == 200, answer.text
    assert answer.headers.get("x-fleet-replica") == front["fleet.replica"]
    assert f"web v2 replica=back-0 host={back['host']}" in answer.text, answer.text
    assert back["host"] != front["host"]


# ---- 7. canary --------------------------------------------------------------------------------


def canary_app(image: str) -> str:
    return web_app(18111, image=image, canary="{replicas: 1, weight: 20}")


def revisions_running(lab: LabInfo, app: str) -> Counter[str]:
    return Counter(
        ("canary " if p.get("fleet.canary") == "true" else "") + p["fleet.revision"]
        for p in pods(lab, app).values()
    )


def start_canary(fleet: Fleet, lab: LabInfo, path: Path) -> tuple[str, str]:
    """web:1 on 3 replicas, then web:2 as a canary; (old revision, new revision)."""
    path.write_text(canary_app("lab/web:1"))
    apply(fleet, path)
    (old,) = revisions_running(lab, path.stem)
    path.write_text(canary_app("lab/web:2"))
    apply(fleet, path)
    running = revisions_running(lab, path.stem)
    (canary,) = [r for r in running if r.startswith("canary ")]
    assert running == {old: 3, canary: 1}, running
    return old, canary.split()[1]


def test_canary_weight_20_then_promote(fleet, lab, tmp_path):
    path = tmp_path / "bp" / "tr7.yaml"
    path.parent.mkdir()
    _, new = start_canary(fleet, lab, path)
    answers = fetch_many(lb_host(lab).address, 18111, 1000)
    versions = Counter(a.split()[1] if a.startswith("web ") else a for a in answers)
    assert set(versions) == {"v1", "v2"}, versions
    share = versions["v2"] / 1000
    print(f"canary share over 1000 requests: {share:.1%} ({versions})")
    assert 0.15 <= share <= 0.25, versions
    assert {replica_in(a) for a in answers if " v2 " in a} == {"web-canary-0"}

    done = fleet.run("rollout", "promote", "web", str(path))
    assert done.returncode == 0, done.stderr
    assert revisions_running(lab, "tr7") == {new: 3}
    answers = fetch_many(lb_host(lab).address, 18111, 60)
    assert {a.split()[1] for a in answers} == {"v2"}, Counter(answers)
    assert {replica_in(a) for a in answers} == {"web-0", "web-1", "web-2"}


def test_canary_abort_returns_to_the_old_revision(fleet, lab, tmp_path):
    path = tmp_path / "bp" / "tr7.yaml"
    path.parent.mkdir()
    old, _ = start_canary(fleet, lab, path)
    done = fleet.run("rollout", "abort", "web", str(path))
    assert done.returncode == 0, done.stderr
    assert revisions_running(lab, "tr7") == {old: 3}
    answers = fetch_many(lb_host(lab).address, 18111, 60)
    assert {a.split()[1] for a in answers} == {"v1"}, Counter(answers)
    # the file still names web:2, yet the next apply keeps the aborted canary out
    again = fleet.run("apply", "--yes", str(path))
    assert again.returncode == 0, again.stderr
    assert revisions_running(lab, "tr7") == {old: 3}


# ---- 8. the seed's example as written -----------------------------------------------------------


@pytest.mark.slow
def test_zwitscher_example_runs_as_written(fleet, lab):
    # readinessProbe initialDelaySeconds 30: apply waits for it, so this takes 30-45 s
    started = time.monotonic()
    done = fleet.run("apply", "--yes", str(ROOT / "blueprints" / "zwitscher.yaml"), timeout=120)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert took >= 30  # it did wait for the readiness probe's initial delay
    running = pods(lab, "zwitscher", "zwitscher-service")
    assert sorted(running) == [f"zwitscher-service-{i}" for i in range(3)]
    assert len({p["host"] for p in running.values()}) == 3  # spread over the hosts
    # the NodePort Service's frontend on port 8080 of the lb host, every replica a server
    section = servers(lab, "zwitscher.zwitscher-service.8080")
    assert section == sorted(p["fleet.pod"] for p in running.values())
    answers = fetch_many(lb_host(lab).address, 8080, 30)
    assert all(a.startswith("zwitscher-service v1.0.1 replica=") for a in answers), answers
    assert {replica_in(a) for a in answers} == set(running)
    env = docker(lab.host(running["zwitscher-service-0"]["host"]), "exec",
                 running["zwitscher-service-0"]["name"], "env").stdout
    assert "CONSUL_HOST=zwitscher-consul" in env
