"""`fleet plan` and `fleet apply` against the lab's real hosts (issue 4)."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from fleet import operations
from fleet.session import Sources, open_session
from tests.lab.fleetrun import Fleet, app_yaml, managed, running_pods, write
from tests.lab.labtools import docker, wait_until

pytestmark = pytest.mark.lab


class Sampler:
    """Counts running pods of a service (by revision) every few hundred ms, from the hosts."""

    def __init__(self, lab, service: str) -> None:
        self.lab, self.service = lab, service
        self.samples: list[Counter[str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pods = running_pods(self.lab, self.service)
            self.samples.append(Counter(pod.rsplit(".", 1)[1] for _, pod in pods))
            self._stop.wait(0.2)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def test_apply_places_replicas_where_the_plan_said_and_honours_requests(fleet, lab, tmp_path):
    filler = write(tmp_path, "filler", app_yaml(name="filler", replicas=1, memory="1900Mi"))
    assert fleet.run("apply", "--yes", str(filler)).returncode == 0
    ((full_host, _),) = running_pods(lab, "filler")

    app = write(tmp_path, "t1", app_yaml(name="web", replicas=3, memory="200Mi"))
    plan = fleet.json("plan", str(app), str(filler))
    creates = {a["replica"]: a["host"] for a in plan["actions"] if a["kind"] == "create"}
    assert set(creates) == {"web-0", "web-1", "web-2"}
    assert full_host not in creates.values()
    for placement in plan["placements"]:
        assert placement["rejected"][full_host].startswith("insufficient memory: requests 200Mi")

    done = fleet.run("apply", "--yes", str(app), str(filler))
    assert done.returncode == 0, done.stderr
    running = {pod.split(".")[0]: host for host, pod in running_pods(lab, "web")}
    assert running == creates


def test_a_second_apply_changes_nothing_and_plan_exit_codes(fleet, tmp_path):
    app = write(tmp_path, "t2", app_yaml(name="web", replicas=2))
    first = fleet.run("apply", "--yes", str(app))
    assert first.returncode == 0, first.stderr
    again = fleet.run("apply", "--yes", str(app))
    assert again.returncode == 0
    assert "No changes" in again.stdout
    assert fleet.run("plan", "--detailed-exitcode", str(app)).returncode == 0
    app.write_text(app_yaml(name="web", replicas=3))
    changed = fleet.run("plan", "--detailed-exitcode", str(app))
    assert changed.returncode == 2
    assert "+ create  web-2." in changed.stdout


def test_rolling_update_respects_max_unavailable(fleet, lab, tmp_path):
    app = write(tmp_path, "t3", app_yaml(name="web", replicas=4, surge=1, unavailable=1))
    assert fleet.run("apply", "--yes", str(app)).returncode == 0
    old = {pod.rsplit(".", 1)[1] for _, pod in running_pods(lab, "web")}
    app.write_text(app_yaml(name="web", image="lab/web:2", replicas=4, surge=1, unavailable=1))
    with Sampler(lab, "web") as sampler:
        done = fleet.run("apply", "--yes", str(app))
    assert done.returncode == 0, done.stderr
    assert len(sampler.samples) > 5
    assert min(sum(s.values()) for s in sampler.samples) >= 4 - 1
    final = running_pods(lab, "web")
    assert len(final) == 4
    assert not {pod.rsplit(".", 1)[1] for _, pod in final} & old
    images = {c["name"]: c for c in managed(lab, service="web")}
    assert len(images) == 4


def test_a_rollout_that_never_becomes_ready_is_rolled_back(fleet, lab, tmp_path):
    # minReadySeconds: a pod that crashes within 3 s of starting never counts as available
    app = write(tmp_path, "t4", app_yaml(name="web", replicas=2, deadline=10, min_ready=3))
    assert fleet.run("apply", "--yes", str(app)).returncode == 0
    old = running_pods(lab, "web")
    app.write_text(app_yaml(name="web", image="lab/crash:1", replicas=2, deadline=10, min_ready=3))
    with Sampler(lab, "web") as sampler:
        done = fleet.run("apply", "--yes", str(app))
    assert done.returncode == 1
    assert "rollout failed" in done.stderr and "rolling back" in done.stderr
    old_rev = old[0][1].rsplit(".", 1)[1]
    assert min(s[old_rev] for s in sampler.samples) == 2  # the old replicas served throughout
    assert running_pods(lab, "web") == old
    assert len(managed(lab, service="web")) == 2  # the failed pods are gone


def test_unreachable_host_mid_apply_then_the_next_apply_finishes(fleet, lab, tmp_path):
    from fleet import lab as fleet_lab

    app = write(tmp_path, "t5", app_yaml(name="web", replicas=3))
    assert fleet.run("apply", "--yes", str(app)).returncode == 0
    assert {h for h, _ in running_pods(lab, "web")} == {"node1", "node2", "node3"}
    app.write_text(app_yaml(name="web", image="lab/web:2", replicas=3))
    fleet_lab.stop_sshd(lab.name, "node3")
    try:
        partial = fleet.run("apply", "--yes", str(app))
    finally:
        fleet_lab.start_sshd(lab.name, "node3")
    assert partial.returncode == 3, partial.stderr
    assert "unreachable: node3" in partial.stderr
    revisions = Counter(pod.rsplit(".", 1)[1] for _, pod in running_pods(lab, "web"))
    assert sorted(revisions.values()) == [1, 2]  # node3 kept its old pod, the rest moved on
    done = fleet.run("apply", "--yes", str(app))
    assert done.returncode == 0, done.stderr
    pods = running_pods(lab, "web")
    assert len(pods) == 3 and len({p.rsplit(".", 1)[1] for _, p in pods}) == 1
    assert sorted(p.split(".")[0] for _, p in pods) == ["web-0", "web-1", "web-2"]


def test_kill_9_mid_rollout_then_apply_converges_without_orphans(fleet, lab, tmp_path):
    app = write(tmp_path, "t6", app_yaml(name="web", replicas=3, min_ready=2))
    assert fleet.run("apply", "--yes", str(app)).returncode == 0
    app.write_text(app_yaml(name="web", image="lab/web:2", replicas=3, min_ready=2))
    process = fleet.start("apply", "--yes", str(app))
    try:
        wait_until(
            lambda: len({p.rsplit(".", 1)[1] for _, p in running_pods(lab, "web")}) == 2,
            timeout=60,
            what="the rollout to have started",
        )
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate()
    done = fleet.run("apply", "--yes", str(app))
    assert done.returncode == 0, done.stderr
    containers = managed(lab, service="web")
    assert len(containers) == 3 and all(c["state"] == "running" for c in containers)
    assert len({c["fleet.revision"] for c in containers}) == 1
    assert sorted(c["fleet.replica"] for c in containers) == ["web-0", "web-1", "web-2"]


def test_two_applies_at_once_one_runs_the_other_names_the_holder(fleet, lab, tmp_path):
    app = write(tmp_path, "t7", app_yaml(name="web", replicas=2, min_ready=3))
    lock_file = next_lock_file(fleet)
    first = fleet.start("apply", "--yes", str(app))
    # start the second only once the first holds the lock, so the race is decided
    wait_until(lambda: lock_file.exists() and lock_file.read_text(), what="the first's lock")
    second = fleet.run("apply", "--yes", str(app))
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 4
    assert "is locked by `fleet apply`" in second.stderr
    assert f"pid {first.pid}" in second.stderr


def next_lock_file(fleet: Fleet) -> Path:
    from fleet.spec.loader import load_inventory

    name = load_inventory(fleet.lab.inventory_path).name
    return fleet.state / name / "lock"


def test_pending_replica_keeps_the_rest_of_the_plan_going(fleet, tmp_path):
    huge = write(tmp_path, "t8", app_yaml(name="huge", replicas=1, memory="3Gi"))
    small = write(tmp_path, "t9", app_yaml(name="small", replicas=1))
    plan = fleet.json("plan", str(huge), str(small))
    assert [a["replica"] for a in plan["actions"]] == ["small-0"]
    (pending,) = plan["pending"]
    assert pending["replica"] == "huge-0"
    assert set(pending["rejected"]) == {"node1", "node2", "node3"}
    started = time.monotonic()
    done = fleet.run("apply", "--yes", str(huge), str(small))
    assert done.returncode == 3 and time.monotonic() - started < 60
    assert "huge" in done.stderr


def test_the_cluster_lock_holds_across_controllers(fleet, lab, tmp_path):
    """Two controllers (separate local stores and local locks) still never interleave."""
    app = write(tmp_path, "t10", app_yaml(name="web", replicas=2, min_ready=3))
    other = Fleet(lab, tmp_path / "other-controller")
    first = fleet.start("apply", "--yes", str(app))
    marker = lab.root / lab.hosts[0].name / "home" / ".fleet" / "lock" / "holder"
    wait_until(lambda: marker.exists() and marker.read_text(), what="the cluster lock")
    second = other.run("apply", "--yes", str(app))
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 4
    assert f"lock on {lab.hosts[0].name}" in second.stderr
    assert not marker.exists()  # released at the end of the first apply


KV = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: kv}}
spec:
  replicas: {replicas}
  strategy: {{type: Recreate}}
  template:
    metadata: {{labels: {{app: kv}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: kv
          image: lab/kv:1
          volumeMounts: [{{name: data, mountPath: /data}}]
      volumes: [{{name: data, persistent: {{}}}}]
"""


def volumes(lab) -> set[str]:
    from tests.lab.labtools import docker

    return {
        f"{host.name}:{v}"
        for host in lab.hosts
        for v in docker(host, "volume", "ls", "-q").stdout.split()
        if v.startswith("fleet.t11.")
    }


def test_volumes_survive_scale_down_and_go_only_with_prune(fleet, lab, tmp_path):
    app = write(tmp_path, "t11", KV.format(replicas=2))
    assert fleet.run("apply", "--yes", str(app)).returncode == 0
    placed = {pod.split(".")[0]: host for host, pod in running_pods(lab, "kv")}
    assert volumes(lab) == {f"{placed[f'kv-{i}']}:fleet.t11.kv-{i}.data" for i in (0, 1)}
    app.write_text(KV.format(replicas=1))
    assert fleet.run("apply", "--yes", str(app)).returncode == 0
    assert len(running_pods(lab, "kv")) == 1
    assert len(volumes(lab)) == 2  # the scaled-down replica's data stays
    done = fleet.run("apply", "--yes", "--prune-volumes", str(app))
    assert done.returncode == 0, done.stderr
    assert volumes(lab) == {f"{placed['kv-0']}:fleet.t11.kv-0.data"}
    assert "deleted volume fleet.t11.kv-1.data" in done.stderr


def test_logs_prefix_each_pod_and_stay_in_the_blueprints_apps(fleet, lab, tmp_path,
                                                              monkeypatch):
    worker = {"name": "worker", "image": "lab/worker:1"}
    other = write(tmp_path, "t13b", app_yaml(**worker, replicas=1))  # same service name
    ours = write(tmp_path, "t13", app_yaml(**worker, replicas=2))
    for blueprint in (other, ours):
        done = fleet.run("apply", "--yes", str(blueprint))
        assert done.returncode == 0, done.stderr
    for c in managed(lab, service="worker"):  # every pod has printed its first tick
        wait_until(lambda c=c: "tick 1 " in docker(lab.host(c["host"]), "logs", c["name"]).stdout,
                   10, what=f"first tick of {c['name']}")
    done = fleet.run("logs", "worker", str(ours), "--tail", "100")
    assert done.returncode == 0, done.stderr
    firsts = [line for line in done.stdout.splitlines() if " | tick 1 " in line]
    assert len(firsts) == 2, done.stdout  # t13's two pods, not t13b's worker-0 as well
    assert {line.split(" | ")[0].split(".")[0] for line in firsts} == {"worker-0", "worker-1"}
    missing = fleet.run("logs", "nosuch", str(ours))
    assert missing.returncode == 1 and "no running pod matches 'nosuch' in t13" in missing.stderr

    # the UI asks for one app's pods by name, whatever the blueprints are (operations.logs app=)
    monkeypatch.setenv("FLEET_STATE_DIR", str(fleet.state))

    async def lines_of(app: str) -> list[str]:
        src = Sources(lab.inventory_path, (ours,), (), ())
        async with open_session(src, probes=False) as session:
            return [line async for line in operations.logs(session, "worker", follow=False,
                                                           app=app)]

    others = [line for line in asyncio.run(lines_of("t13b")) if " | tick 1 " in line]
    assert [line.split(".")[0] for line in others] == ["worker-0"]
