"""What the load balancer renders from (pure data, no pydantic): services, checks, servers.

`fleet.lb.services` builds these from blueprints; `fleet.lb.render` turns them
plus the cluster state into haproxy.cfg text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["http", "tcp"]


@dataclass(frozen=True)
class HealthCheck:
    """HAProxy's own check of a server, mirroring the readiness probe."""

    kind: Literal["http", "tcp"] = "tcp"
    path: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    # the container port checked; None: the traffic port
    port: int | None = None
    interval: float = 10.0  # periodSeconds -> inter
    timeout: float = 1.0  # timeoutSeconds -> timeout check
    rise: int = 1  # successThreshold
    fall: int = 3  # failureThreshold


@dataclass(frozen=True)
class LbBackend:
    """The replicas of one Deployment behind a Service port."""

    app: str
    deployment: str  # ActualPod.service
    target_port: int  # the container port traffic goes to
    check: HealthCheck | None = HealthCheck()
    # Canary: the canary pods' share of traffic in percent; None: no canary running
    canary_weight: int | None = None


@dataclass(frozen=True)
class LbService:
    """One port of one Service: a listener on every lb host and its backend."""

    app: str
    name: str  # the Service's name
    listen_port: int  # nodePort or port
    backends: tuple[LbBackend, ...]
    mode: Mode = "tcp"
    port_name: str | None = None
    # drained connections may last this long (terminationGracePeriodSeconds)
    grace_seconds: float = 30.0

    @property
    def section(self) -> str:
        """The HAProxy proxy name: `demo.web.80` (app and service are DNS labels)."""
        return f"{self.app}.{self.name}.{self.listen_port}"


@dataclass(frozen=True)
class Server:
    """One ready replica as an HAProxy server."""

    name: str  # the pod name: web-0.3f9a1c2b7e
    address: str  # the host's address
    port: int  # the published host port of the target port
    canary: bool = False
    weight: int | None = None  # None: HAProxy's default (1)
    check: HealthCheck | None = None
    # the published host port the check goes to, when it is not the traffic port
    check_port: int | None = None


@dataclass(frozen=True)
class RenderOptions:
    """Settings of the global and defaults sections."""

    timeout_connect: float = 5.0
    timeout_client: float = 30.0
    timeout_server: float = 30.0
    # tcp-mode services (databases, queues) keep idle connections open this long, and
    # upgraded HTTP connections (WebSocket) too: a Kubernetes Service has no idle timeout
    timeout_tunnel: float = 3600.0
    retries: int = 3
    # False: http services answer `Connection: close` (`option httpclose`). A reload closes
    # the old workers' idle keep-alive connections, and a client sending its next request
    # at that moment loses it (HAProxy 2.6 has no idle-close-on-response); without client
    # keep-alive no request is lost on a reload, for a TCP handshake per request.
    client_keepalive: bool = False
    maxconn: int = 4096
    # bound on old workers after a reload; None: the longest grace of the services (min 10 s)
    hard_stop_after: float | None = None
    stats_socket: str | None = None
