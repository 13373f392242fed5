"""`fleet heal` against the lab's real hosts (issue 6): replicas removed by hand, failing
liveness, a host cut off and back, data of a stateful replica on a lost host, the lock and
kill -9, crash-loop back-off, and autoscaling under CPU load.

Every test runs the real CLI with its own state directory and application name; hosts cut
off are restored in `finally`. Nothing sleeps and hopes: heal passes run one by one (the
thing under test) and every other wait is for a condition, with a deadline.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleet.journal import Journal
from fleet.lab import LabInfo
from fleet.spec.loader import load_inventory
from tests.lab import labtools
from tests.lab.fleetrun import Fleet, app_yaml, managed, running_pods, write
from tests.lab.labtools import docker, http_get, lb_host, wait_until
from tests.lab.webpods import get, replica_of

pytestmark = pytest.mark.lab


def heal(fleet: Fleet, *args: str) -> subprocess.CompletedProcess[str]:
    """One `fleet heal` pass (the CLI, as cron runs it)."""
    return fleet.run("heal", *args, timeout=120)


def lb_servers(lab: LabInfo, section: str) -> list[tuple[str, str]]:
    """(server name, address:port) of one `listen` section of the lb host's haproxy.cfg."""
    config = lb_host(lab).haproxy_config
    assert config is not None
    servers: list[tuple[str, str]] = []
    inside = False
    for line in config.read_text().splitlines():
        words = line.split()
        if line and not line[0].isspace():
            inside = words[:2] == ["listen", section]
        elif inside and words and words[0] == "server":
            servers.append((words[1], words[2]))
    return servers


def reaches_all(address: str, port: int, replicas: int) -> None:
    """Wait until requests through the load balancer reach web-0 .. web-<replicas-1>."""
    want = {f"web-{k}" for k in range(replicas)}
    wait_until(
        lambda: {replica_of(get(address, port)[1]) for _ in range(4 * replicas)} == want,
        timeout=15, what=f"the load balancer to reach {sorted(want)}",
    )  # fmt: skip


def addresses(lab: LabInfo, *names: str) -> set[str]:
    return {lab.host(n).address for n in names}


def events(fleet: Fleet, service: str | None = None) -> list[dict[str, Any]]:
    args = ["events", "--limit", "1000"] + (["--service", service] if service else [])
    found: list[dict[str, Any]] = fleet.json(*args)["events"]
    return found


def journal_of(fleet: Fleet) -> Journal:
    name = load_inventory(fleet.lab.inventory_path).name
    return Journal(fleet.state / name / "journal.sqlite")


def lock_file(fleet: Fleet) -> Path:
    return fleet.state / load_inventory(fleet.lab.inventory_path).name / "lock"


def pods_on(lab: LabInfo, hosts: list[str], service: str) -> list[tuple[str, str, str]]:
    """(host, pod, state) of the service's main containers on these hosts only (the others
    may have no engine to ask)."""
    out = []
    for name in hosts:
        listed = docker(
            lab.host(name), "ps", "-a", "--filter", f"label=fleet.service={service}",
            "--filter", "label=fleet.role=main", "--format", '{{.Label "fleet.pod"}} {{.State}}',
        ).stdout  # fmt: skip
        for line in listed.splitlines():
            pod, state = line.split()
            out.append((name, pod, state))
    return sorted(out)


def answers_ssh(lab: LabInfo, host: str) -> None:
    """Wait until the host's sshd takes connections again (after a cut is undone)."""

    def connects() -> bool:
        with socket.create_connection((lab.host(host).address, 22), timeout=1):
            return True

    wait_until(connects, timeout=30, what=f"{host}'s sshd")


def started_at(lab: LabInfo, host: str, container: str) -> str:
    return docker(lab.host(host), "inspect", "-f", "{{.State.StartedAt}}", container).stdout.strip()


@contextlib.contextmanager
def cut_off(lab: LabInfo, host: str, how: str) -> Iterator[None]:
    """labtools.cut_off, then waiting until the host's sshd answers again."""
    try:
        with labtools.cut_off(lab, host, how):
            yield
    finally:
        answers_ssh(lab, host)


# -- 1. a replica removed by hand ------------------------------------------------------------


def test_a_replica_removed_by_hand_is_back_and_ready_after_one_pass(fleet, lab, tmp_path):
    app = write(tmp_path, "heal1", app_yaml(name="web", replicas=3, port=18201, probes=True))
    assert fleet.run("apply", "--yes", str(app)).returncode == 0
    before = running_pods(lab, "web")
    host, pod = before[1]
    docker(lab.host(host), "rm", "-f", f"heal1.{pod}")
    assert len(running_pods(lab, "web")) == 2

    done = heal(fleet, str(app))

    assert done.returncode == 0, done.stderr
    assert f"create {pod} on {host} (missing replica): ok" in done.stdout
    assert running_pods(lab, "web") == before  # spread puts it back where the gap is
    # ready, and HAProxy already routes to it: the pass waited for its readiness
    servers = dict(lb_servers(lab, "heal1.web.18201"))
    assert set(servers) == {p for _, p in before}
    address, port = servers[pod].split(":")
    assert get(address, int(port), "/readyz")[0] == 200
    ready = [e for e in events(fleet, "web") if e["kind"] == "ready" and pod in e["message"]]
    assert ready, "no readiness event for the new pod"
    reaches_all(lb_host(lab).address, 18201, 3)
    # from cron: a pass with nothing to do says nothing at all (not even blueprint warnings)
    quiet = heal(fleet, "-q", str(app))
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


# -- 2. liveness counted across passes ---------------------------------------------------------


def test_failing_liveness_restarts_after_failure_threshold_passes_and_not_before(
    fleet, lab, tmp_path
):
    # livenessProbe: periodSeconds 1, failureThreshold 3
    app = write(tmp_path, "heal2", app_yaml(name="web", replicas=2, probes=True))
    assert fleet.run("apply", "--yes", str(app)).returncode == 0
    host, pod = running_pods(lab, "web")[0]
    container = f"heal2.{pod}"
    first_start = started_at(lab, host, container)
    docker(lab.host(host), "exec", container, "rm", "/www/healthz")

    def liveness() -> dict[str, Any]:
        with contextlib.closing(journal_of(fleet)) as journal:
            counters: dict[str, Any] = journal.get("probe", container)["counters"]
            return counters["liveness"]  # type: ignore[no-any-return]

    for n in (1, 2, 3):
        # a probe counts once per period: the next pass comes a period after the last run
        due = liveness()["last_run"] + 1.05
        wait_until(lambda due=due: time.time() >= due, timeout=5, what="a probe period")
        done = heal(fleet, str(app))
        assert done.returncode == 0, done.stderr
        if n < 3:
            assert "restart" not in done.stdout, f"pass {n} restarted early: {done.stdout}"
            assert liveness()["failures"] == n
            assert started_at(lab, host, container) == first_start
        else:
            assert f"restart {pod} on {host} (liveness probe failed" in done.stdout
            assert started_at(lab, host, container) != first_start
    assert get(lab.host(host).address, _published(lab, host, container), "/healthz")[0] == 200
    kinds = [e["kind"] for e in events(fleet, "web") if pod in e["message"]]
    assert kinds.index("liveness-failed") < kinds.index("restart")


def _published(lab: LabInfo, host: str, container: str) -> int:
    out = docker(lab.host(host), "port", container, "8080/tcp").stdout.split()[0]
    return int(out.rsplit(":", 1)[1])


# -- 3. a host cut off, and back ---------------------------------------------------------------

GRACE = 8  # --lost-after in the host tests: longer than one pass on a silent host (~6 s)


def test_a_lost_host_is_replaced_after_the_grace_period_and_the_surplus_goes_when_it_returns(
    fleet, lab, tmp_path
):
    app = write(tmp_path, "heal3", app_yaml(name="web", replicas=3, port=18203, probes=True))
    assert fleet.run("apply", "--yes", str(app)).returncode == 0
    assert {h for h, _ in running_pods(lab, "web")} == {"node1", "node2", "node3"}
    (lost_pod,) = [p for h, p in running_pods(lab, "web") if h == "node3"]
    lost_after = ("--lost-after", str(GRACE))
    section = "heal3.web.18203"
    lb = lb_host(lab).address

    with cut_off(lab, "node3", "link"):
        cut_at = time.time()
        first = heal(fleet, *lost_after, str(app))
        assert first.returncode == 3, first.stderr  # a host did not answer
        assert "left as it is until the host answers" in first.stdout
        assert " create " not in first.stdout  # within the grace period nothing moves
        # HAProxy stops routing to the silent host at once
        assert {a.split(":")[0] for _, a in lb_servers(lab, section)} <= addresses(
            lab, "node1", "node2"
        )
        passes = [first]
        while f"create {lost_pod}" not in passes[-1].stdout:
            assert len(passes) < 6, [p.stdout for p in passes]
            passes.append(heal(fleet, *lost_after, str(app)))
        moved = [
            e for e in events(fleet, "web") if e["kind"] == "create" and "lost" in e["message"]
        ]
        assert [e["message"] for e in moved] == [
            f"created {lost_pod} on {moved[0]['host']} (host node3 lost)"
        ]
        assert moved[0]["time"] - cut_at >= GRACE
        # its replica runs elsewhere, ready and routed to; nothing on node3 is
        elsewhere = pods_on(lab, ["node1", "node2"], "web")
        assert sorted(p.split(".")[0] for _, p, s in elsewhere if s == "running") == [
            "web-0", "web-1", "web-2",
        ]  # fmt: skip
        servers = lb_servers(lab, section)
        assert len(servers) == 3 and len({n for n, _ in servers}) == 3
        assert {a.split(":")[0] for _, a in servers} <= addresses(lab, "node1", "node2")
        reaches_all(lb, 18203, 3)
        # the old copy still runs on node3, cut off from everything
        assert ("node3", lost_pod, "running") in pods_on(lab, ["node3"], "web")

    back = heal(fleet, *lost_after, str(app))
    assert back.returncode == 0, back.stderr
    assert f"remove {lost_pod} on node3 (duplicate of {lost_pod} on node" in back.stdout
    containers = managed(lab, service="web")
    assert len(containers) == 3 and all(c["state"] == "running" for c in containers)
    assert sorted(c["fleet.replica"] for c in containers) == ["web-0", "web-1", "web-2"]
    assert "node3" not in {c["host"] for c in containers}  # the newest copy stayed
    servers = lb_servers(lab, section)
    assert len(servers) == 3 and len({n for n, _ in servers}) == 3
    assert not any(e["kind"] == "lb-error" for e in events(fleet))
    again = heal(fleet, *lost_after, str(app))
    assert again.returncode == 0 and "nothing to repair" in again.stdout


# -- 4. a stateful replica on a lost host ------------------------------------------------------

KV = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: kv}
spec:
  replicas: 1
  strategy: {type: Recreate}
  template:
    metadata: {labels: {app: kv}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: kv
          image: lab/kv:1
          ports: [{containerPort: 8080}]
          resources: {requests: {cpu: 50m, memory: 32Mi}}
          readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 1}
          volumeMounts: [{name: data, mountPath: /data}]
      volumes:
        - name: data
          persistent: {}
---
apiVersion: v1
kind: Service
metadata: {name: kv}
spec:
  type: LoadBalancer
  selector: {app: kv}
  ports: [{port: 18204, targetPort: 8080}]
"""


def test_a_stateful_replica_on_a_lost_host_waits_for_it_with_its_data(fleet, lab, tmp_path):
    app = write(tmp_path, "heal4", KV)
    # put kv on node3 the way an operator would: the other hosts cordoned while applying
    for other in ("node1", "node2"):
        assert fleet.run("cordon", other).returncode == 0
    assert fleet.run("apply", "--yes", str(app)).returncode == 0
    for other in ("node1", "node2"):
        assert fleet.run("uncordon", other).returncode == 0
    ((host, pod),) = running_pods(lab, "kv")
    assert host == "node3"
    url = f"http://{lb_host(lab).address}:18204/cgi-bin/kv?k=greeting"
    value = f"hello-{os.getpid()}-{time.time():.0f}"
    stored = httpx.post(url, content=value, timeout=5, trust_env=False)
    assert stored.status_code == 200, stored.text
    assert http_get(url).text == value

    with cut_off(lab, "node3", "daemons"):
        cut_at = time.time()
        passes = [heal(fleet, "--lost-after", "3", str(app))]
        while "not recreated elsewhere" not in passes[-1].stdout:
            assert len(passes) < 8, [p.stdout for p in passes]
            passes.append(heal(fleet, "--lost-after", "3", str(app)))
        assert time.time() - cut_at >= 3
        passes.append(heal(fleet, "--lost-after", "3", str(app)))  # and it stays that way
        for done in passes:
            assert done.returncode == 3, done.stderr
            assert " create " not in done.stdout
        assert pods_on(lab, ["node1", "node2"], "kv") == []
        for other in ("node1", "node2"):  # no empty volume was made for it anywhere
            assert not [
                v for v in docker(lab.host(other), "volume", "ls", "-q").stdout.split()
                if ".kv-0." in v
            ]  # fmt: skip
        why = [e for e in events(fleet, "kv") if e["kind"] == "waiting"]
        kept = [e for e in why if "not recreated elsewhere" in e["message"]]
        assert len(kept) == 1, why  # said once, not at every pass
        assert "volume" in kept[0]["message"] and "unreachable host node3" in kept[0]["message"]

    back = heal(fleet, "--lost-after", "3", str(app))
    assert back.returncode == 0, back.stderr
    assert f"restart {pod} on node3" in back.stdout  # its container stopped with dockerd
    assert running_pods(lab, "kv") == [("node3", pod)]
    assert lb_servers(lab, "heal4.kv.18204")[0][1].startswith(lab.host("node3").address)
    assert wait_until(lambda: http_get(url).text == value, timeout=15, what="kv's data")


# -- 5. the lock, and kill -9 ------------------------------------------------------------------


def test_two_passes_at_once_one_repairs_the_other_exits_4(fleet, lab, tmp_path):
    app = write(tmp_path, "heal5", app_yaml(name="web", replicas=2, probes=True))
    assert fleet.run("apply", "--yes", str(app)).returncode == 0
    host, pod = running_pods(lab, "web")[0]
    docker(lab.host(host), "rm", "-f", f"heal5.{pod}")
    lock = lock_file(fleet)
    first = fleet.start("heal", str(app))
    try:
        # the race decided: the second starts while the first holds the lock, held there
        wait_until(
            lambda: lock.exists() and lock.read_text(), timeout=60, interval=0.01, what="the lock"
        )
        first.send_signal(signal.SIGSTOP)
        assert f'"pid": {first.pid}' in lock.read_text()
        second = heal(fleet, str(app))
    finally:
        first.send_signal(signal.SIGCONT)
    out, err = first.communicate(timeout=120)
    assert second.returncode == 4, second.stderr
    assert "is locked by `fleet heal`" in second.stderr and f"pid {first.pid}" in second.stderr
    assert second.stdout == ""  # it did nothing
    assert first.returncode == 0, err
    assert f"create {pod} on {host} (missing replica): ok" in out
    assert len(running_pods(lab, "web")) == 2


def test_kill_9_during_a_pass_then_the_next_pass_finishes_without_duplicates(fleet, lab, tmp_path):
    # readiness starts after 4 s: the pass is still waiting for it when it is killed
    slow = app_yaml(name="web", replicas=3, probes=True).replace(
        "readinessProbe: {", "readinessProbe: {initialDelaySeconds: 4, "
    )
    app = write(tmp_path, "heal5k", slow)
    assert fleet.run("apply", "--yes", str(app)).returncode == 0
    before = running_pods(lab, "web")
    for host, pod in before[:2]:
        docker(lab.host(host), "rm", "-f", f"heal5k.{pod}")
    process = fleet.start("heal", str(app))
    try:
        wait_until(
            lambda: len(running_pods(lab, "web")) >= 2, timeout=60, what="a first replacement"
        )
        assert process.poll() is None, "the pass ended before it could be killed"
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate()
    done = heal(fleet, str(app))
    assert done.returncode == 0, done.stderr
    containers = managed(lab, service="web")
    assert len(containers) == 3 and all(c["state"] == "running" for c in containers)
    assert sorted(c["fleet.replica"] for c in containers) == ["web-0", "web-1", "web-2"]
    assert running_pods(lab, "web") == before


# -- 6. crash loop ---------------------------------------------------------------------------


def test_a_crash_loop_backs_off_10_20_40_seconds_instead_of_restarting_every_pass(
    fleet, lab, tmp_path
):
    app = write(tmp_path, "heal6", app_yaml(name="crashy", image="lab/crash:1", replicas=1))
    watch = fleet.start("heal", "--watch", "--interval", "2", str(app))
    try:

        def ladder() -> list[str]:
            return [e["message"] for e in events(fleet, "crashy") if e["kind"] == "back-off"]

        wait_until(lambda: len(ladder()) >= 3, timeout=120, interval=2, what="three back-offs")
    finally:
        watch.send_signal(signal.SIGINT)
        try:
            out, _ = watch.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            watch.kill()
            out, _ = watch.communicate()
    delays = [m.rsplit("not before ", 1)[1] for m in ladder()]
    assert delays[:3] == ["10 s", "20 s", "40 s"]
    restarts = [e["time"] for e in events(fleet, "crashy") if e["kind"] == "restart"]
    gaps = [b - a for a, b in itertools.pairwise(restarts)]
    assert len(gaps) >= 2 and gaps[0] >= 10 and gaps[1] >= 20, gaps
    # passes ran every 2 s all along; most of them only waited
    assert out.count("back-off, restart in") > 2 * out.count("restart crashy-0")


# -- 7. autoscaling ----------------------------------------------------------------------------

HPA = """\
---
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
  targetCPUUtilizationPercentage: 50
"""
WINDOW = 8  # --scale-down-window


def test_cpu_load_scales_up_within_bounds_and_back_down_after_the_window(fleet, lab, tmp_path):
    # requests cpu 50m: one busy core is far above 50 % of it
    app = write(tmp_path, "heal7", app_yaml(name="web", replicas=1, port=18207) + HPA)
    assert fleet.run("apply", "--yes", str(app)).returncode == 0
    lb = lb_host(lab).address
    recommended: list[tuple[float, int]] = []  # (when, replicas) the autoscaler proposed

    def one_pass() -> str:
        done = heal(fleet, "--scale-down-window", str(WINDOW), str(app))
        assert done.returncode == 0, done.stderr
        with contextlib.closing(journal_of(fleet)) as journal:
            when, count = journal.get("autoscale", "web")["recommendations"][-1]
        recommended.append((float(when), int(count)))
        return done.stdout

    # the load: the replica keeps one CPU busy for 15 s
    assert http_get(f"http://{lb}:18207/cgi-bin/burn?seconds=15").status_code == 200
    outputs = []
    while len(running_pods(lab, "web")) == 1:
        assert len(outputs) < 5, outputs
        outputs.append(one_pass())
    assert "autoscale web: 1 -> 3 (cpu" in outputs[-1], outputs
    assert len(running_pods(lab, "web")) == 3
    assert len(lb_servers(lab, "heal7.web.18207")) == 3  # ready and routed in that pass

    counts = [3]
    while counts[-1] > 1:
        assert len(counts) < 30, counts
        one_pass()
        counts.append(len(running_pods(lab, "web")))
    # within the bounds, and down without flapping back up
    assert all(1 <= c <= 3 for c in counts) and counts == sorted(counts, reverse=True)
    scaled = [e["message"].split(" (")[0] for e in events(fleet, "web") if e["kind"] == "autoscale"]
    assert scaled[0] == "web: 1 -> 3 replicas" and scaled[-1].endswith("-> 1 replicas"), scaled
    # down only once no recommendation within the window asked for more
    down_at = recommended[-1][0]
    last_high = max(t for t, n in recommended if n > 1)
    assert down_at - last_high >= WINDOW
    first_low = min(t for t, n in recommended if t > last_high)
    if first_low - last_high < WINDOW:
        assert first_low < down_at, "a low recommendation within the window scaled down"
    assert len(lb_servers(lab, "heal7.web.18207")) == 1
