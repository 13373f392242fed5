"""Running probes (I/O): httpGet and tcpSocket through the host's SSH connection, exec in
the container.

    targets = [ProbeTarget(pod, deployment.main_container) for pod in pods]
    states = await check_pods(pool, engine, targets, states_from_journal)   # due probes only
    results = await run_probes(pool, engine, targets, kinds={"readiness"})  # run these now

- httpGet and tcpSocket connect from the pod's host to the container's own
  address (`pod.ip`) and container port (SSH direct-tcpip over the pool's
  connection), so an unpublished port works; `httpGet.host`/`tcpSocket.host`
  replace the address as in Kubernetes. A pod without a container address
  (host networking) is reached on its published port on the host's address.
- HTTP: GET with the probe's headers, HTTP/1.1, no redirects followed;
  200-399 is success. HTTPS is not supported (Kubernetes does not verify it
  either; fleet refuses rather than pretends).
- exec: the command in the main container (`docker exec`); exit 0 is success.
- Every probe is bounded by its timeoutSeconds, opening the channel included;
  waiting for a free slot is not (slots: a global cap, per host its SSH
  session limit, and half of that for exec probes: each is a `docker exec`
  process on the host, and fewer at a time finish sooner, so they do not time
  out on a busy host). Failures carry a short reason: "HTTP 503",
  "connection refused", "timeout after 1.0 s", "exit 1".
- A host that cannot be reached gives `unknown` results: no evidence either
  way, so they change no counter.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fleet.errors import (
    HostKeyError,
    RemoteCommandError,
    RemoteTimeout,
    UnreachableError,
)
from fleet.model import ActualPod, ContainerState
from fleet.probe.machine import (
    ALL_KINDS,
    Kind,
    Outcome,
    ProbeResult,
    ProbeSpec,
    ProbeState,
    advance,
    due,
    health_key,
)

if TYPE_CHECKING:
    import httpx

    from fleet.remote.engine import Engine
    from fleet.remote.ssh import SSHPool
    from fleet.spec.blueprint import Container, HTTPGetAction, Probe

DEFAULT_CONCURRENCY = 64
EXEC_SHARE = 2  # exec probes use at most max_sessions / EXEC_SHARE sessions of a host
USER_AGENT = "fleet-probe/1"


@dataclass(frozen=True)
class ProbeTarget:
    """A pod to probe and the container model (probes, ports) of its revision."""

    pod: ActualPod
    container: Container
    host: str | None = None  # the SSH host to run from (default: the pod's host)

    @property
    def key(self) -> str:
        return health_key(self.pod)

    @property
    def ssh_host(self) -> str:
        return self.host or self.pod.host

    @cached_property  # asked several times per pod and run; 10,000 pods add up
    def spec(self) -> ProbeSpec:
        return ProbeSpec.of(self.container)


def pod_started_at(pod: ActualPod) -> float | None:
    """When the pod's main container started, if it is running (else None)."""
    main = pod.main
    if main is None or main.state is not ContainerState.running:
        return None
    return main.started_at if main.started_at is not None else pod.created_at


def probe_endpoint(
    target: ProbeTarget, probe: Probe, host_address: str
) -> tuple[str, int] | str:
    """Where an httpGet/tcpSocket probe connects from the host: (address, port), or why not."""
    action = probe.http_get or probe.tcp_socket
    if action is None:
        return "not a network probe"
    port = target.container.port_number(action.port)
    if port is None:
        return f"port {action.port!r} is not declared by container {target.container.name!r}"
    if action.host is not None:
        return action.host, port
    if target.pod.ip:
        return target.pod.ip, port
    published = target.pod.host_port(port)
    if published is None:
        return f"the pod has no container address and port {port} is not published"
    return host_address, published


def failure(reason: str, started: float | None = None) -> ProbeResult:
    took = time.monotonic() - started if started is not None else 0.0
    return ProbeResult(Outcome.failure, reason, took)


def describe_error(exc: BaseException) -> str:
    """A short reason for a failed probe connection or request."""
    import httpx

    if isinstance(exc, RemoteCommandError):  # channel open refused: the reason sshd gave
        text = exc.stderr.strip() or "channel refused"
        return text[0].lower() + text[1:]
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc)
        if "without sending" in text or "disconnected" in text.lower():
            return "connection closed without an HTTP response"
        return f"bad HTTP response: {text}"
    if isinstance(exc, httpx.HTTPError | OSError | EOFError):
        return f"connection lost: {exc}" if str(exc) else "connection lost"
    return str(exc) or type(exc).__name__


async def run_probes(
    pool: SSHPool,
    engine: Engine,
    targets: Sequence[ProbeTarget],
    *,
    kinds: Collection[Kind] = ALL_KINDS,
    only: Mapping[str, Collection[Kind]] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> dict[str, dict[Kind, ProbeResult]]:
    """Run the probes of these pods now: {health_key: {kind: result}}.

    `kinds` limits the kinds run for every pod; `only` (by health key) limits
    them per pod (a pod missing from `only` runs nothing). Kinds a container
    does not have are left out of the answer.
    """
    import httpx

    from fleet.probe.tunnel import TunnelTransport

    jobs: dict[str, list[tuple[ProbeTarget, Kind, Probe]]] = defaultdict(list)
    for target in targets:
        wanted = set(kinds) & set(only.get(target.key, ()) if only is not None else kinds)
        for kind in sorted(wanted):
            probe = target.spec.get(kind)
            if probe is not None:
                jobs[target.ssh_host].append((target, kind, probe))
    results: dict[str, dict[Kind, ProbeResult]] = defaultdict(dict)
    if not jobs:
        return {}
    slots = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        transport=TunnelTransport(pool), trust_env=False, timeout=None
    ) as client:
        runner = _Runner(pool, engine, client, slots)
        await asyncio.gather(
            *(runner.host(host, host_jobs, results) for host, host_jobs in jobs.items())
        )
    return dict(results)


async def check_pods(
    pool: SSHPool,
    engine: Engine,
    targets: Sequence[ProbeTarget],
    states: Mapping[str, ProbeState | None],
    *,
    now: float | None = None,
    poll: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> dict[str, ProbeState]:
    """Run the probes that are due and fold the results in: new states by health key.

    Every target gets a state (also pods without probes, or with none due).
    """
    at = time.time() if now is None else now
    plan = {
        t.key: due(states.get(t.key), t.spec, at, pod_started_at(t.pod), poll=poll)
        for t in targets
    }
    results = await run_probes(pool, engine, targets, only=plan, concurrency=concurrency)
    return {
        t.key: advance(
            states.get(t.key), t.spec, results.get(t.key, {}), at, pod_started_at(t.pod)
        )
        for t in targets
    }


class _Runner:
    def __init__(
        self, pool: SSHPool, engine: Engine, client: httpx.AsyncClient, slots: asyncio.Semaphore
    ) -> None:
        self.pool = pool
        self.engine = engine
        self.client = client
        self.slots = slots

    async def host(
        self,
        host: str,
        jobs: list[tuple[ProbeTarget, Kind, Probe]],
        results: dict[str, dict[Kind, ProbeResult]],
    ) -> None:
        try:
            await self.pool.connect(host)  # bounded by the host's connect timeout
        except (UnreachableError, HostKeyError) as exc:
            for target, kind, _ in jobs:
                results[target.key][kind] = ProbeResult(
                    Outcome.unknown, f"host unreachable: {exc.message}"
                )
            return
        settings = self.pool.host(host)
        host_slots = asyncio.Semaphore(max(1, settings.max_sessions))
        # each exec is a `docker exec` process on the host: fewer at a time finish sooner
        exec_slots = asyncio.Semaphore(max(1, settings.max_sessions // EXEC_SHARE))

        async def one(target: ProbeTarget, kind: Kind, probe: Probe) -> None:
            kind_slots = exec_slots if probe.exec is not None else host_slots
            async with self.slots, kind_slots:
                results[target.key][kind] = await self.probe(target, probe, settings.address)

        await asyncio.gather(*(one(*job) for job in jobs))

    async def probe(self, target: ProbeTarget, probe: Probe, host_address: str) -> ProbeResult:
        limit = float(probe.timeout_seconds)
        started = time.monotonic()
        try:
            async with asyncio.timeout(limit):
                if probe.exec is not None:
                    result = await self._exec(target, probe.exec.command, limit)
                else:
                    endpoint = probe_endpoint(target, probe, host_address)
                    if isinstance(endpoint, str):
                        return failure(endpoint, started)
                    if probe.http_get is not None:
                        result = await self._http(target.ssh_host, endpoint, probe.http_get)
                    else:
                        result = await self._tcp(target.ssh_host, endpoint, limit)
        except (TimeoutError, RemoteTimeout):
            return failure(f"timeout after {limit:.1f} s", started)
        except (UnreachableError, HostKeyError) as exc:
            return ProbeResult(Outcome.unknown, f"host unreachable: {exc.message}")
        except Exception as exc:  # refused channels, httpx errors, lost connections
            return failure(describe_error(exc), started)
        return ProbeResult(result.outcome, result.reason, time.monotonic() - started)

    async def _tcp(self, host: str, endpoint: tuple[str, int], limit: float) -> ProbeResult:
        _, writer = await self.pool.open_tcp(host, endpoint[0], endpoint[1], timeout=limit)
        writer.close()
        return ProbeResult(Outcome.success, "connected")

    async def _http(
        self, host: str, endpoint: tuple[str, int], action: HTTPGetAction
    ) -> ProbeResult:
        import httpx

        from fleet.probe.tunnel import SSH_HOST

        address, port = endpoint
        headers = [("User-Agent", USER_AGENT), ("Accept", "*/*")]
        given = {h.name.lower() for h in action.http_headers}
        headers = [(k, v) for k, v in headers if k.lower() not in given]
        headers += [(h.name, h.value) for h in action.http_headers]
        if action.scheme != "HTTP":
            return ProbeResult(Outcome.failure, "HTTPS probes are not supported")
        url = httpx.URL(scheme="http", host=address, port=port, raw_path=action.path.encode())
        request = self.client.build_request(
            "GET", url, headers=headers, extensions={SSH_HOST: host}
        )
        response: Any = await self.client.send(request, stream=True)
        try:
            status = int(response.status_code)
        finally:
            await response.aclose()
        outcome = Outcome.success if 200 <= status < 400 else Outcome.failure
        return ProbeResult(outcome, f"HTTP {status}")

    async def _exec(self, target: ProbeTarget, command: list[str], limit: float) -> ProbeResult:
        pod = target.pod
        name = pod.main.name if pod.main is not None else pod.key
        done = await self.engine.exec(target.ssh_host, name, command, timeout=limit)
        if done.exit_status == 0:
            return ProbeResult(Outcome.success, "exit 0")
        if done.exit_status is None:
            return ProbeResult(Outcome.failure, "killed by a signal")
        reason = f"exit {done.exit_status}"
        last = [line for line in done.error_text.strip().splitlines() if line.strip()]
        if last and done.exit_status >= 125:  # the engine's own error, not the command's
            reason += f": {_shorten(last[-1], 80)}"
        return ProbeResult(Outcome.failure, reason)


def _shorten(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."
