"""The probe runner's pure parts and the HTTP-over-a-channel transport (fleet.probe)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import httpx

from fleet.errors import RemoteCommandError
from fleet.model import ActualContainer, ContainerState
from fleet.probe.runner import ProbeTarget, describe_error, pod_started_at, probe_endpoint
from fleet.probe.tunnel import SSH_HOST, TunnelTransport
from fleet.spec.blueprint import Container
from tests.unit.factories import pod

CONTAINER = Container.model_validate({
    "name": "web", "image": "lab/web:1",
    "ports": [{"name": "http", "containerPort": 8080}, {"name": "admin", "containerPort": 9090}],
    "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
    "livenessProbe": {"tcpSocket": {"port": 9090, "host": "10.1.2.3"}},
    "startupProbe": {"exec": {"command": ["true"]}},
})  # fmt: skip


def target(**changes: Any) -> ProbeTarget:
    fields: dict[str, Any] = {"ip": "172.17.0.5", "ports": ((8080, 32768),), **changes}
    p = replace(pod("node2"), **fields)
    return ProbeTarget(p, CONTAINER)


def test_endpoint_is_the_container_address_and_port_by_name() -> None:
    t = target()
    assert t.ssh_host == "node2" and t.key == "demo.web-0.r1"
    assert probe_endpoint(t, CONTAINER.readiness_probe, "10.0.0.12") == ("172.17.0.5", 8080)
    # httpGet.host / tcpSocket.host replace the address, as in Kubernetes
    assert probe_endpoint(t, CONTAINER.liveness_probe, "10.0.0.12") == ("10.1.2.3", 9090)
    assert probe_endpoint(t, CONTAINER.startup_probe, "10.0.0.12") == "not a network probe"


def test_without_a_container_address_the_published_port_is_used() -> None:
    t = target(ip=None)
    assert probe_endpoint(t, CONTAINER.readiness_probe, "10.0.0.12") == ("10.0.0.12", 32768)
    unpublished = target(ip=None, ports=())
    assert probe_endpoint(unpublished, CONTAINER.readiness_probe, "10.0.0.12") == (
        "the pod has no container address and port 8080 is not published"
    )


def test_pod_started_at_only_while_running() -> None:
    p = pod("node1")
    running = replace(p, containers=(replace(p.containers[0], started_at=123.0),))
    assert pod_started_at(running) == 123.0
    exited = replace(p, containers=(ActualContainer("x", "main", ContainerState.exited, 1, 5.0),))
    assert pod_started_at(exited) is None


def test_describe_error() -> None:
    refused = RemoteCommandError("node2", ["tcp", "172.17.0.5:8080"], None, "Connection refused")
    assert describe_error(refused) == "connection refused"
    closed = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    assert describe_error(closed) == "connection closed without an HTTP response"
    assert describe_error(ConnectionResetError("reset by peer")) == "connection lost: reset by peer"


class LoopbackPool:
    """Stands in for SSHPool.open_tcp with a plain loopback connection (transport plumbing
    only; the lab tests run the same transport through real sshd)."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, str, int]] = []

    async def open_tcp(self, host: str, dest: str, port: int, **_: Any) -> Any:
        self.opened.append((host, dest, port))
        return await asyncio.open_connection(dest, port)


async def test_tunnel_transport_speaks_http_over_the_stream() -> None:
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nnope")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = LoopbackPool()
    async with server, httpx.AsyncClient(transport=TunnelTransport(pool),  # type: ignore[arg-type]
                                         trust_env=False) as client:
        request = client.build_request("GET", f"http://127.0.0.1:{port}/readyz?x=1",
                                       headers={"X-Probe": "1"}, extensions={SSH_HOST: "node2"})
        response = await client.send(request)
    assert response.status_code == 503 and response.text == "nope"
    assert pool.opened == [("node2", "127.0.0.1", port)]
    assert seen[0].startswith(b"GET /readyz?x=1 HTTP/1.1\r\n")
    assert b"x-probe: 1" in seen[0].lower()
