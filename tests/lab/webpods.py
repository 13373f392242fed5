"""lab/web containers started by hand (docker CLI on a lab host's socket) with fleet's labels,
so fleet.state decodes them as pods; used by the probe and HAProxy lab tests and the bench."""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace

from fleet.lab import LabHost, LabInfo
from fleet.model import ActualPod, ClusterState, container_name, pod_name, replica_id
from fleet.remote.engine import Engine
from fleet.remote.ssh import SSHPool
from fleet.spec.blueprint import Container
from fleet.spec.loader import load_inventory
from fleet.state import host_state
from tests.lab.labtools import docker

REPLICA = re.compile(r"replica=(\S+)")

# the main container of the lab's web pods, probes with short periods
WEB_CONTAINER = Container.model_validate({
    "name": "web", "image": "lab/web:1",
    "ports": [{"name": "http", "containerPort": 8080}],
    "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"},
                       "periodSeconds": 1, "failureThreshold": 2},
    "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                      "periodSeconds": 1, "failureThreshold": 2},
    "startupProbe": {"exec": {"command": ["test", "-f", "/www/index.html"]},
                     "periodSeconds": 1},
})  # fmt: skip


def start_web(lab: LabInfo, host: LabHost, app: str, slot: int, *, revision: str = "0000000001",
              service: str = "web", publish: bool = True, canary: bool = False,
              image: str = "lab/web:1") -> str:
    """A lab/web pod on `host` with fleet's labels; 8080 published on the host's address."""
    replica = (f"{service}-canary-{slot}" if canary else replica_id(service, slot))
    pod = pod_name(replica, revision)
    name = container_name(app, pod)
    labels = {
        "fleet.managed": "true", "fleet.app": app, "fleet.service": service,
        "fleet.slot": str(slot), "fleet.revision": revision, "fleet.role": "main",
        "fleet.replica": replica, "fleet.pod": pod, "fleet.containers": "1",
    }  # fmt: skip
    if canary:
        labels["fleet.canary"] = "true"
    args = ["run", "-d", "--name", name, "-e", f"FLEET_REPLICA={replica}",
            "-e", f"FLEET_HOST={host.name}"]
    for key, value in labels.items():
        args += ["--label", f"{key}={value}"]
    if publish:
        args += ["-p", f"{host.address}::8080"]
    docker(host, "rm", "-f", name, check=False)
    docker(host, *args, image)
    return name


def remove_app(lab: LabInfo, app: str) -> None:
    """Remove every container of a test app on every lab host."""
    for host in lab.hosts:
        ids = docker(host, "ps", "-aq", "--filter", f"label=fleet.app={app}").stdout.split()
        if ids:
            docker(host, "rm", "-f", *ids)


async def observe(lab: LabInfo, pool: SSHPool, app: str) -> ClusterState:
    """The lab's hosts through fleet's own observe, keeping only `app`'s pods."""
    inventory = load_inventory(lab.inventory_path)
    engine = Engine(pool)
    hosts = {}
    for host in inventory:
        seen = await engine.observe(host.name)
        state = host_state(host, seen)
        hosts[host.name] = replace(state, pods=tuple(p for p in state.pods if p.app == app))
    return ClusterState(hosts, observed_at=time.time())


def pods_of(cluster: ClusterState) -> list[ActualPod]:
    return sorted(cluster.pods(), key=lambda p: p.name)


def published(pod: ActualPod) -> int:
    port = pod.host_port(8080)
    assert port is not None, f"{pod.name} does not publish 8080"
    return port


def get(address: str, port: int, path: str = "/", timeout: float = 5.0) -> tuple[int, str]:
    """One GET on a fresh connection (Connection: close)."""
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def replica_of(body: str) -> str | None:
    m = REPLICA.search(body)
    return m[1] if m else None


def switch(host: LabHost, pod: ActualPod, what: str) -> None:
    """`/cgi-bin/fail?ready` etc. on the pod itself (through its published port)."""
    status, body = get(host.address, published(pod), f"/cgi-bin/{what}")
    assert status == 200, body


def spread(address: str, port: int, count: int) -> Counter[str]:
    """Which replica answered each of `count` requests (errors count under their status)."""
    seen: Counter[str] = Counter()
    for _ in range(count):
        status, body = get(address, port)
        seen[(replica_of(body) or "?") if status == 200 else f"HTTP {status}"] += 1
    return seen


@dataclass
class Load:
    """A load generator: `threads` clients, each a fresh connection per request (or reusing
    one while the server keeps it open, with `keep_alive`)."""

    address: str
    port: int
    threads: int = 4
    pause: float = 0.005
    keep_alive: bool = False  # reuse a connection as long as the server allows (no retries)
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    replicas: Counter[str] = field(default_factory=Counter)
    # (monotonic time, replica) of every answer, for reaction-time measurements
    timeline: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = 0.0
    stopped: float = 0.0

    def _request(self, conn: http.client.HTTPConnection | None) -> tuple[
        int, str, http.client.HTTPConnection | None
    ]:
        if not self.keep_alive:
            return (*get(self.address, self.port), None)
        conn = conn or http.client.HTTPConnection(self.address, self.port, timeout=5)
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        if response.will_close:
            conn.close()
            conn = None
        return response.status, body, conn

    def _run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self._stop.is_set():
            try:
                status, body, conn = self._request(conn)
                with self._lock:
                    if status == 200:
                        self.ok += 1
                        replica = replica_of(body) or "?"
                        self.replicas[replica] += 1
                        self.timeline.append((time.monotonic(), replica))
                    else:
                        self.failures.append(f"HTTP {status}")
            except Exception as exc:  # counted: a lost request is what the tests look for
                if conn is not None:
                    conn.close()
                conn = None
                with self._lock:
                    self.failures.append(repr(exc))
            self._stop.wait(self.pause)
        if conn is not None:
            conn.close()

    def __enter__(self) -> Load:
        self.started = time.monotonic()
        self._workers = [threading.Thread(target=self._run, daemon=True)
                         for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=10)
        self.stopped = time.monotonic()

    @property
    def rate(self) -> float:
        return (self.ok + len(self.failures)) / max(self.stopped - self.started, 1e-9)
