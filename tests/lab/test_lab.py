"""The lab itself, checked from outside fleet: OpenSSH, the docker CLI, plain HTTP, /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fleet import lab as fleet_lab
from fleet.lab import daemons, images, layout, procs
from fleet.lab.record import Record
from fleet.spec.loader import load_inventory
from tests.lab.labtools import docker, http_get, lb_host, ssh_argv, wait_until

pytestmark = pytest.mark.lab

WEB = "lab/web:1"


class Containers:
    """Containers a test starts; all removed when the test ends."""

    def __init__(self) -> None:
        self.made: list[tuple[fleet_lab.LabHost, str]] = []

    def run(self, host: fleet_lab.LabHost, name: str, *args: str) -> str:
        self.made.append((host, name))
        docker(host, "rm", "-f", name, check=False)
        return docker(host, "run", "-d", "--name", name, *args).stdout.strip()

    def remove_all(self) -> None:
        for host, name in self.made:
            docker(host, "rm", "-f", name, check=False)


@pytest.fixture
def containers() -> Iterator[Containers]:
    made = Containers()
    yield made
    made.remove_all()


def url(host: fleet_lab.LabHost, port: int, path: str = "/") -> str:
    return f"http://{host.address}:{port}{path}"


def status_of(address: str) -> int:
    return http_get(address, timeout=3).status_code


def exit_code(host: fleet_lab.LabHost, container: str) -> str:
    return docker(host, "inspect", "-f", "{{.State.ExitCode}}", container).stdout.strip()


def answers(address: str) -> bool:
    try:
        return http_get(address, timeout=2).status_code == 200
    except Exception:
        return False


# ---- hosts -------------------------------------------------------------------------------


def test_every_host_is_reached_with_openssh_and_the_labs_known_hosts(lab):
    runs = {
        h.name: subprocess.Popen(ssh_argv(lab, h, "hostname; echo $DOCKER_HOST; docker ps -q"),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for h in lab.hosts
    }
    for h in lab.hosts:
        out, err = runs[h.name].communicate(timeout=60)
        assert runs[h.name].returncode == 0, f"{h.name}: {err}"
        hostname, docker_host = out.splitlines()[:2]
        assert hostname == h.name
        assert docker_host == f"unix://{h.docker_socket}"


def test_each_host_has_its_own_host_key_known_under_its_name(lab):
    one, two = lab.hosts[0], lab.hosts[1]
    by_name = ssh_argv(lab, two, "true")
    by_name[1:1] = ["-o", f"HostKeyAlias={two.name}"]
    assert subprocess.run(by_name, capture_output=True, timeout=30).returncode == 0
    wrong = ssh_argv(lab, two, "true")
    wrong[1:1] = ["-o", f"HostKeyAlias={one.name}"]
    refused = subprocess.run(wrong, capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0
    assert "HOST IDENTIFICATION HAS CHANGED" in refused.stderr or "verification failed" in (
        refused.stderr
    )


def test_each_host_runs_its_own_engine(lab, containers):
    names = [docker(h, "info", "--format", "{{.Name}}").stdout.strip() for h in lab.hosts]
    assert names == [h.name for h in lab.hosts]
    ids = {docker(h, "info", "--format", "{{.ID}}").stdout.strip() for h in lab.hosts}
    assert len(ids) == len(lab.hosts)
    first, second = lab.hosts[0], lab.hosts[1]
    containers.run(first, "labtest-own-engine", "lab/worker:1")
    assert docker(first, "ps", "-q", "-f", "name=labtest-own-engine").stdout.strip()
    assert not docker(second, "ps", "-aq", "-f", "name=labtest-own-engine").stdout.strip()


def test_demo_images_have_the_same_id_on_every_host(lab, tmp_path):
    # built again here, from the same inputs: same bytes, so the same ids as the lab loaded
    expected = {b.ref: b.image_id for b in images.build_images(tmp_path)}
    for h in lab.hosts:
        for ref, image_id in expected.items():
            found = docker(h, "image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()
            assert found == image_id, f"{ref} on {h.name}"


def test_inventory_of_the_lab_loads(lab):
    inventory = load_inventory(lab.inventory_path)
    assert inventory.name == lab.name
    assert [(h.name, h.address) for h in inventory] == [(h.name, h.address) for h in lab.hosts]
    assert [h.is_lb for h in inventory] == [h.is_lb for h in lab.hosts]


def test_lb_host_runs_haproxy_with_a_master_socket(lab):
    lb = lb_host(lab)
    assert lb.haproxy_master_socket is not None and lb.haproxy_pidfile is not None
    pid = procs.read_pid(lb.haproxy_pidfile)
    assert pid is not None and procs.is_running(pid)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(lb.haproxy_master_socket))
        s.sendall(b"show proc\n")
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    assert b"master" in answer and b"worker" in answer
    assert all(h.haproxy_config is None for h in lab.hosts if not h.is_lb)


def test_status_reports_every_host_healthy_with_its_memory(lab):
    state = fleet_lab.status(lab.name)
    assert [h.name for h in state.hosts] == [h.name for h in lab.hosts]
    for h in state.hosts:
        assert h.healthy, h
        assert h.rss_kb["sshd"] > 0 and h.rss_kb["dockerd"] > 0, h.rss_kb
        assert h.rss_kb["total"] >= sum(v for k, v in h.rss_kb.items() if k != "total")


def test_cli_prints_the_inventory_path_and_json_status(lab):
    def lab_cli(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "fleet", "lab", *args, "--name", lab.name],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done

    assert lab_cli("inventory").stdout == f"{lab.inventory_path}\n"
    assert '"schema": "fleet.lab.status/v1"' in lab_cli("status", "-o", "json").stdout
    done = lab_cli("status")
    header, *rows = done.stdout.splitlines()[1:-1]
    state_column = header.index("STATE")
    assert [r.split()[0] for r in rows] == [h.name for h in lab.hosts]
    assert all(r[state_column:].startswith("ok ") for r in rows), done.stdout


# ---- demo images ------------------------------------------------------------------------


def test_web_answers_with_version_replica_and_probes(lab, containers):
    host = lab.hosts[1]
    containers.run(host, "labtest-web", "-p", "18080:8080",
                   "-e", "FLEET_REPLICA=web-7", "-e", f"FLEET_HOST={host.name}", WEB)
    wait_until(lambda: answers(url(host, 18080)), 20, what="web:1 answering")
    assert http_get(url(host, 18080)).text == f"web v1 replica=web-7 host={host.name}\n"
    for path in ("/healthz", "/readyz", "/admin/health", "/admin/info"):
        assert status_of(url(host, 18080, path)) == 200, path


def test_probes_switch_over_http_and_from_inside(lab, containers):
    host = lab.hosts[2]
    containers.run(host, "labtest-probes", "-p", "18081:8080", "-e", "FLEET_REPLICA=p1", WEB)
    wait_until(lambda: answers(url(host, 18081, "/readyz")), 20, what="web:1 ready")

    switched = http_get(url(host, 18081, "/cgi-bin/fail?live"))
    assert switched.status_code == 200 and switched.headers["X-Fleet-Replica"] == "p1"
    assert status_of(url(host, 18081, "/healthz")) == 404
    assert status_of(url(host, 18081, "/admin/health")) == 404
    assert status_of(url(host, 18081, "/readyz")) == 200
    http_get(url(host, 18081, "/cgi-bin/recover?live"))
    assert status_of(url(host, 18081, "/healthz")) == 200

    http_get(url(host, 18081, "/cgi-bin/fail?ready"))
    assert status_of(url(host, 18081, "/readyz")) == 404
    assert status_of(url(host, 18081, "/admin/info")) == 404
    assert status_of(url(host, 18081, "/healthz")) == 200
    http_get(url(host, 18081, "/cgi-bin/recover?ready"))
    assert status_of(url(host, 18081, "/readyz")) == 200

    docker(host, "exec", "labtest-probes", "rm", "/www/healthz")
    assert status_of(url(host, 18081, "/healthz")) == 404
    docker(host, "exec", "labtest-probes", "touch", "/www/healthz")
    assert status_of(url(host, 18081, "/healthz")) == 200
    assert status_of(url(host, 18081, "/cgi-bin/fail?sideways")) == 400


def test_broken_web_never_becomes_ready(lab, containers):
    host = lab.hosts[0]
    containers.run(host, "labtest-broken", "-p", "18082:8080", "lab/web:broken")
    wait_until(lambda: answers(url(host, 18082, "/healthz")), 20, what="web:broken live")
    assert status_of(url(host, 18082, "/readyz")) == 404
    assert status_of(url(host, 18082, "/cgi-bin/recover?ready")) == 409
    assert status_of(url(host, 18082, "/readyz")) == 404


def test_web_stops_at_once_on_sigterm(lab, containers):
    host = lab.hosts[0]
    containers.run(host, "labtest-stop", WEB)
    wait_until(lambda: docker(host, "inspect", "-f", "{{.State.Running}}", "labtest-stop")
               .stdout.strip() == "true", 20, what="web:1 running")
    started = time.monotonic()
    docker(host, "stop", "-t", "10", "labtest-stop")
    assert time.monotonic() - started < 5
    assert exit_code(host, "labtest-stop") == "0"


def test_fetch_reaches_another_host_from_inside_a_container(lab, containers):
    target, source = lab.hosts[0], lab.hosts[1]
    containers.run(target, "labtest-target", "-p", "18083:8080", "-e", "FLEET_REPLICA=far", WEB)
    containers.run(source, "labtest-source", "-p", "18084:8080", WEB)
    wait_until(lambda: answers(url(target, 18083)) and answers(url(source, 18084)), 20,
               what="both web containers answering")
    got = http_get(url(source, 18084, f"/cgi-bin/fetch?host={target.address}&port=18083&path=/"))
    assert got.status_code == 200
    assert "web v1 replica=far" in got.text
    refused = http_get(url(source, 18084, f"/cgi-bin/fetch?host={target.address}&port=1&path=/"))
    assert refused.status_code == 502
    assert status_of(url(source, 18084, "/cgi-bin/fetch?host=a;b&port=1")) == 400


def test_burn_keeps_a_cpu_busy(lab, containers):
    host = lab.hosts[1]
    cid = containers.run(host, "labtest-burn", "-p", "18085:8080", WEB)
    wait_until(lambda: answers(url(host, 18085)), 20, what="web:1 answering")
    assert http_get(url(host, 18085, "/cgi-bin/burn?seconds=3")).status_code == 200

    def cpu_seconds() -> float:
        # the container's own cgroup (v1 cpuacct or v2 cpu.stat), read from inside
        out = docker(host, "exec", cid, "sh", "-c",
                     "cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null || "
                     "grep usage_usec /sys/fs/cgroup/cpu.stat").stdout.split()
        return int(out[0]) / 1e9 if len(out) == 1 else int(out[1]) / 1e6

    wait_until(lambda: cpu_seconds() >= 1.0, 10, what="the burn using a second of CPU")
    assert status_of(url(host, 18085, "/cgi-bin/burn?seconds=x")) == 400


def test_kv_keeps_its_data_in_a_volume_across_containers(lab, containers):
    host = lab.hosts[2]
    docker(host, "volume", "rm", "-f", "labtest-kv", check=False)
    try:
        containers.run(host, "labtest-kv", "-p", "18086:8080", "-v", "labtest-kv:/data",
                       "lab/kv:1")
        wait_until(lambda: answers(url(host, 18086, "/readyz")), 20, what="kv ready")
        stored = httpx.post(url(host, 18086, "/cgi-bin/kv?k=greeting"), content=b"hello lab",
                            timeout=5, trust_env=False)
        assert stored.status_code == 200
        assert http_get(url(host, 18086, "/cgi-bin/kv?k=greeting")).text == "hello lab"
        assert status_of(url(host, 18086, "/cgi-bin/kv?k=missing")) == 404
        assert status_of(url(host, 18086, "/cgi-bin/kv?k=..%2Fetc")) == 400

        containers.run(host, "labtest-kv", "-p", "18086:8080", "-v", "labtest-kv:/data",
                       "lab/kv:1")
        wait_until(lambda: answers(url(host, 18086, "/readyz")), 20, what="new kv ready")
        assert http_get(url(host, 18086, "/cgi-bin/kv?k=greeting")).text == "hello lab"
    finally:
        docker(host, "rm", "-f", "labtest-kv", check=False)
        docker(host, "volume", "rm", "-f", "labtest-kv", check=False)


def test_worker_ticks_and_crash_exits_1(lab, containers):
    host = lab.hosts[0]
    containers.run(host, "labtest-worker", "-e", "FLEET_REPLICA=w1", "lab/worker:1")
    containers.run(host, "labtest-crash", "lab/crash:1")
    wait_until(lambda: "tick 2 worker v1 replica=w1" in docker(host, "logs", "labtest-worker")
               .stdout, 15, what="two worker ticks")
    wait_until(lambda: docker(host, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}",
                              "labtest-crash").stdout.strip() == "exited 1", 15,
               what="crash:1 exited with 1")
    docker(host, "stop", "-t", "10", "labtest-worker")
    assert exit_code(host, "labtest-worker") == "0"


def test_zwitscher_runs_as_in_the_lecture(lab, containers):
    host = lab.hosts[1]
    containers.run(host, "labtest-zwitscher", "-p", "18087:8080", "-e",
                   "CONSUL_HOST=zwitscher-consul", "hitchhikersguide/zwitscher-service:1.0.1")
    wait_until(lambda: answers(url(host, 18087, "/admin/info")), 20, what="zwitscher ready")
    assert status_of(url(host, 18087, "/admin/health")) == 200
    assert http_get(url(host, 18087)).text.startswith("zwitscher-service v1.0.1 replica=")


# ---- lifecycle ---------------------------------------------------------------------------


def test_per_host_failures_and_up_repairs_them(lab):
    host = lab.hosts[-1]
    other = lab.hosts[0]
    record = Record.read(lab.root / "lab.json")
    assert record is not None
    sshd_before = procs.read_pid(other.sshd_pidfile)

    fleet_lab.stop_sshd(lab.name, host.name)
    fleet_lab.stop_sshd(lab.name, host.name)  # idempotent
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host.address, 22), timeout=3).close()
    fleet_lab.stop_dockerd(lab.name, host.name)
    assert docker(host, "info", check=False).returncode != 0

    params = record.params
    fleet_lab.up(lab.name, hosts=params.hosts, lb=params.lb, cpu=params.cpu,
                 memory=params.memory)
    socket.create_connection((host.address, 22), timeout=3).close()
    assert docker(host, "info", "--format", "{{.Name}}").stdout.strip() == host.name
    assert procs.read_pid(other.sshd_pidfile) == sshd_before  # running daemons left alone
    assert all(h.healthy for h in fleet_lab.status(lab.name).hosts)


def test_link_down_takes_a_host_off_the_network(lab):
    host = lab.hosts[-1]
    fleet_lab.link_down(lab.name, host.name)
    try:
        with pytest.raises(OSError):
            socket.create_connection((host.address, 22), timeout=1).close()
        assert procs.is_running(procs.read_pid(host.sshd_pidfile) or -1)
    finally:
        fleet_lab.link_up(lab.name, host.name)
    wait_until(lambda: socket.create_connection((host.address, 22), timeout=1).close() or True,
               10, what=f"{host.name} reachable again")


def test_dockerd_stop_and_start(lab, containers):
    host = lab.hosts[-1]
    fleet_lab.stop_dockerd(lab.name, host.name)
    assert docker(host, "info", check=False).returncode != 0
    fleet_lab.start_dockerd(lab.name, host.name)
    fleet_lab.start_dockerd(lab.name, host.name)  # idempotent
    assert docker(host, "info", "--format", "{{.Name}}").stdout.strip() == host.name


def lab_leftovers(name: str) -> list[str]:
    """Everything of lab `name` still on the machine."""
    paths = layout.LabPaths(layout.lab_root(), name)
    found = []
    netns_dir = Path("/run/netns")
    if netns_dir.is_dir():
        found += [f"netns {n.name}" for n in netns_dir.iterdir()
                  if n.name.startswith(f"fleet-{name}-node")]
    links = {p.name for p in Path("/sys/class/net").iterdir()}
    found += [f"link {n}" for n in links if n == layout.bridge_name(name)
              or n.startswith((f"fl-{name}-", f"flv{layout.short_id(name)}-"))]
    rules = subprocess.run(["iptables", "-w", "-S", "FORWARD"], capture_output=True,
                           text=True).stdout
    found += [f"rule {r}" for r in rules.splitlines() if layout.bridge_name(name) in r.split()]
    for pid in (int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()):
        if pid != os.getpid() and procs.owned(pid, paths.marker):
            found.append(f"process {pid}: {procs.cmdline(pid)[:80]}")
    mounts = Path("/proc/self/mountinfo").read_text()
    found += [f"mount {line.split()[4]}" for line in mounts.splitlines()
              if line.split()[4].startswith(paths.marker)]
    if paths.dir.exists():
        found.append(f"directory {paths.dir}")
    return found


def test_a_second_lab_coexists_and_goes_away_completely(lab):
    other = "pytest-b"
    fleet_lab.down(other)
    try:
        second = fleet_lab.up(other, hosts=2, lb=1, with_images=False)
        assert {h.address for h in second.hosts}.isdisjoint(h.address for h in lab.hosts)
        for h in second.hosts:
            out = subprocess.run(ssh_argv(second, h, "hostname"), capture_output=True, text=True,
                                 timeout=30)
            assert out.stdout.strip() == h.name, out.stderr
        assert docker(second.hosts[0], "info", "--format", "{{.ID}}").stdout != docker(
            lab.hosts[0], "info", "--format", "{{.ID}}").stdout
        assert fleet_lab.load(lab.name) == lab
        assert all(h.healthy for h in fleet_lab.status(lab.name).hosts)
    finally:
        fleet_lab.down(other)
    assert lab_leftovers(other) == []
    assert all(h.healthy for h in fleet_lab.status(lab.name).hosts)


@pytest.mark.parametrize("moment", ["netns", "dockerd"])
def test_down_after_an_interrupted_up_leaves_nothing(lab, moment, tmp_path):
    name = f"pytest-half-{moment[:3]}"
    fleet_lab.down(name)
    record_path = layout.LabPaths(layout.lab_root(), name).record
    with (tmp_path / "up.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fleet", "lab", "up", "--name", name, "--hosts", "2"],
            stdout=subprocess.DEVNULL, stderr=log,
        )
    try:
        def reached() -> bool:
            record = Record.read(record_path)
            if record is None:
                return False
            if moment == "netns":
                return bool(record.made("netns"))
            return "node2/dockerd" in record.pids()

        wait_until(reached, 60, interval=0.01, what=f"`lab up` reaching {moment}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert fleet_lab.down(name) is True
        assert lab_leftovers(name) == []
        assert fleet_lab.down(name) is False  # nothing left to remove
    finally:
        proc.kill()
        proc.wait()
        fleet_lab.down(name)


def test_load_of_an_unknown_lab_is_a_lab_error():
    with pytest.raises(fleet_lab.LabError, match="no lab"):
        fleet_lab.load("no-such-lab")


def test_daemons_of_lab_hosts_run_in_their_namespaces(lab):
    for h in lab.hosts:
        ns = procs.netns_inode(Path("/run/netns") / h.netns)
        for pidfile in (h.sshd_pidfile, h.dockerd_pidfile):
            pid = procs.read_pid(pidfile)
            assert pid is not None
            assert os.stat(f"/proc/{pid}/ns/net").st_ino == ns, f"{pidfile}"
    assert daemons.PRIVSEP_DIR.is_dir()
