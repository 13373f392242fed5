"""haproxy.cfg from the cluster state (pure, deterministic).

    services = lb_services(blueprint, desired)
    configs = render_hosts(inventory.lb_hosts, services, cluster, health)   # {host: text}
    drained = render_hosts(..., exclude={health_key(pod)})                 # before stopping pod

- Per Service port a `listen <app>.<service>.<listen port>` section with
  `bind :<listen port>` on every lb host, and as servers the READY replicas
  (running, and `health[health_key(pod)].ready`): host address and the
  published host port of the target container port, named by pod name.
  A Service with no ready replica keeps its listener with no servers.
- HAProxy's own checks mirror the readiness probe (see fleet.lb.services), so
  a replica that stops answering leaves the rotation between fleet runs.
- Canary: stable and canary servers are weighted so the canary servers
  together get `canary_weight` % of the requests (`canary_weights`).
- http services close the client connection after each response (`option
  httpclose`, see RenderOptions.client_keepalive): then a reload loses no
  request even of clients that would reuse connections.
- global: master-worker, hard-stop-after (bound on old workers after a reload),
  a stats socket (status view); defaults: timeouts, retries, redispatch. tcp
  services (and upgraded HTTP connections) get the long tunnel timeout for
  idle connections, as a Kubernetes Service has no idle timeout.
- The same input always gives the same bytes (everything sorted), so an
  unchanged cluster means an unchanged file: no write, no reload.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from math import gcd
from typing import TYPE_CHECKING

from fleet import names
from fleet.errors import UnsafeNameError
from fleet.lb.model import HealthCheck, LbService, RenderOptions, Server
from fleet.model import ActualPod, ClusterState, PodHealth
from fleet.probe.machine import health_key

if TYPE_CHECKING:
    from fleet.spec.inventory import Host

HEADER = "# haproxy.cfg of {host}, written by fleet: do not edit, the next apply replaces it."
MAX_WEIGHT = 256
_SOCKET_PATH = re.compile(r"/[A-Za-z0-9_./-]+")
_HTTP_PATH = re.compile(r"/[A-Za-z0-9\-._~/%?=&+,:@]*")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~]+")
_HEADER_VALUE = re.compile(r"[ !$-\[\]-~]*")  # printable ASCII without '"', '#', '\'
DEFAULT_STATS_SOCKET = "/run/haproxy/admin.sock"  # Debian's haproxy package creates /run/haproxy


@dataclass(frozen=True)
class Section:
    """One rendered `listen` section: the service and its servers."""

    service: LbService
    servers: tuple[Server, ...]
    check: HealthCheck | None


@dataclass(frozen=True)
class Rendered:
    """A rendered config with what went into it and what was left out (and why)."""

    text: str
    sections: tuple[Section, ...]
    warnings: tuple[str, ...] = ()


def stats_socket_path(host: Host) -> str:
    """Where the stats socket goes on a host: beside the master socket, else Debian's place."""
    master = host.haproxy.master_socket
    if master:
        return master.rsplit("/", 1)[0] + "/stats.sock"
    return DEFAULT_STATS_SOCKET


def canary_weights(weight: int, stable: int, canary: int) -> tuple[int, int]:
    """(weight of each stable server, weight of each canary server), each in 0..256, so that
    `canary` canary servers together get `weight` % of the requests next to `stable` ones.

    The closest pair HAProxy can express is chosen (exact when the ratio fits in 256).
    With only one of the groups present, it takes everything.
    """
    if stable == 0 or canary == 0:
        return 1, 1
    if weight <= 0:
        return 1, 0
    if weight >= 100:
        return 0, 1
    s, c = (100 - weight) * canary, weight * stable
    g = gcd(s, c)
    s, c = s // g, c // g
    if max(s, c) <= MAX_WEIGHT:
        return s, c
    target = weight / 100
    best: tuple[float, int, int] | None = None
    for cw in range(1, MAX_WEIGHT + 1):
        sw = min(MAX_WEIGHT, max(1, round(cw * s / c)))
        error = abs(canary * cw / (canary * cw + stable * sw) - target)
        if best is None or error < best[0] - 1e-12:
            best = (error, sw, cw)
    assert best is not None
    return best[1], best[2]


def ready_pods(
    cluster: ClusterState,
    health: Mapping[str, PodHealth],
    exclude: Collection[str] = (),
) -> list[ActualPod]:
    """Pods that may take traffic: on a host that answers, running, ready, not being drained.

    Health is keyed by pod name, and a pod rescheduled off a lost host keeps its name: the
    copy remembered on the lost host must not borrow the new one's readiness, and when
    that host answers again only the newest copy is a server (names must be unique)."""
    out: dict[str, ActualPod] = {}
    for host in cluster.reachable_hosts():
        for pod in host.pods:
            key = health_key(pod)
            state = health.get(key)
            if key in exclude or state is None or not state.ready or not pod.running:
                continue
            if key not in out or pod.created_at > out[key].created_at:
                out[key] = pod
    return list(out.values())


def section_servers(
    service: LbService,
    cluster: ClusterState,
    ready: Mapping[tuple[str, str], Sequence[ActualPod]],
) -> tuple[Section, list[str]]:
    """The servers of one service's section (`ready`: the ready pods by (app, deployment)),
    and warnings for replicas left out."""
    warnings: list[str] = []
    check = next((b.check for b in service.backends if b.check is not None), None)
    servers: list[Server] = []
    for backend in service.backends:
        group: list[Server] = []
        for pod in ready.get((backend.app, backend.deployment), ()):
            address = cluster.hosts[pod.host].address
            port = pod.host_port(backend.target_port)
            if port is None:
                warnings.append(
                    f"{service.section}: {pod.name} on {pod.host} left out: "
                    f"port {backend.target_port} is not published"
                )
                continue
            server = Server(pod.name, address, port, canary=pod.canary)
            server = _with_check(server, pod, backend.check, check, service, warnings)
            group.append(server)
        if backend.canary_weight is not None:
            group = _weighted(group, backend.canary_weight)
        servers.extend(group)
    servers.sort(key=lambda s: s.name)
    return Section(service, tuple(servers), check), warnings


def _with_check(
    server: Server,
    pod: ActualPod,
    own: HealthCheck | None,
    section: HealthCheck | None,
    service: LbService,
    warnings: list[str],
) -> Server:
    if own is None or section is None or own.kind != section.kind:
        return server  # no check HAProxy can run for it: fleet's readiness alone decides
    if own.port is None:
        return replace(server, check=own)
    published = pod.host_port(own.port)
    if published is None:
        warnings.append(
            f"{service.section}: {pod.name} is not checked by HAProxy: its readiness port "
            f"{own.port} is not published"
        )
        return server
    return replace(server, check=own, check_port=published)


def _weighted(servers: list[Server], weight: int) -> list[Server]:
    stable = sum(1 for s in servers if not s.canary)
    canary = len(servers) - stable
    ws, wc = canary_weights(weight, stable, canary)
    return [replace(s, weight=wc if s.canary else ws) for s in servers]


def render(
    services: Sequence[LbService],
    cluster: ClusterState,
    health: Mapping[str, PodHealth],
    *,
    host: str = "",
    exclude: Collection[str] = (),
    options: RenderOptions = RenderOptions(),
) -> Rendered:
    """The config for one lb host (`exclude`: health keys of pods being drained)."""
    ready: dict[tuple[str, str], list[ActualPod]] = defaultdict(list)
    for pod in ready_pods(cluster, health, exclude):
        ready[(pod.app, pod.service)].append(pod)
    sections: list[Section] = []
    warnings: list[str] = []
    for service in sorted(services, key=lambda s: (s.listen_port, s.section)):
        section, notes = section_servers(service, cluster, ready)
        sections.append(section)
        warnings.extend(notes)
    lines = [HEADER.format(host=host or "an lb host"), *_global(services, options), ""]
    for section in sections:
        lines.extend(_section(section, options))
        lines.append("")
    return Rendered("\n".join(lines), tuple(sections), tuple(warnings))


def render_hosts(
    hosts: Iterable[Host],
    services: Sequence[LbService],
    cluster: ClusterState,
    health: Mapping[str, PodHealth],
    *,
    exclude: Collection[str] = (),
    options: RenderOptions = RenderOptions(),
) -> dict[str, Rendered]:
    """The config of each lb host (they differ only in the header and the stats socket)."""
    out = {}
    for h in sorted(hosts, key=lambda h: h.name):
        own = options if options.stats_socket else replace(
            options, stats_socket=stats_socket_path(h)
        )
        out[h.name] = render(services, cluster, health, host=h.name, exclude=exclude, options=own)
    return out


# ---- text ---------------------------------------------------------------------------------


def fmt_time(seconds: float) -> str:
    """HAProxy time: whole seconds as `10s`, otherwise milliseconds (`1500ms`)."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"


def _global(services: Sequence[LbService], options: RenderOptions) -> list[str]:
    hard_stop = options.hard_stop_after
    if hard_stop is None:
        hard_stop = max([10.0, *(s.grace_seconds for s in services)])
    lines = [
        "global",
        "    master-worker",
        f"    maxconn {int(options.maxconn)}",
        f"    hard-stop-after {fmt_time(hard_stop)}",
    ]
    if options.stats_socket:
        if not _SOCKET_PATH.fullmatch(options.stats_socket):
            raise UnsafeNameError(f"stats socket path {options.stats_socket!r} is not a safe path")
        lines.append(f"    stats socket {options.stats_socket} mode 600 level admin")
    return [
        *lines,
        "",
        "defaults",
        "    mode tcp",
        f"    timeout connect {fmt_time(options.timeout_connect)}",
        f"    timeout client {fmt_time(options.timeout_client)}",
        f"    timeout server {fmt_time(options.timeout_server)}",
        f"    timeout tunnel {fmt_time(options.timeout_tunnel)}",
        f"    retries {int(options.retries)}",
        "    option redispatch 1",
    ]


def _section(section: Section, options: RenderOptions) -> list[str]:
    service = section.service
    names.dns_label(service.app, "app name")
    names.dns_label(service.name, "service name")
    port_label = ""
    if service.port_name:
        port_label = f" port {names.dns_label(service.port_name, 'port name')}"
    count = len(section.servers)
    lines = [
        f"listen {service.section}",
        f"    # Service {service.name} of {service.app}{port_label}: "
        f"{count} ready {'replica' if count == 1 else 'replicas'}",
        f"    bind :{int(service.listen_port)}",
        f"    mode {service.mode}",
        "    balance roundrobin",
    ]
    if service.mode == "http" and not options.client_keepalive:
        lines.append("    option httpclose")  # see RenderOptions.client_keepalive
    if service.mode == "tcp":  # idle connections of a tcp service live like tunnels
        idle = fmt_time(options.timeout_tunnel)
        lines += [f"    timeout client {idle}", f"    timeout server {idle}"]
    check = section.check
    if check is not None:
        if check.kind == "http":
            lines.extend(_http_check(check))
        lines.append(f"    timeout check {fmt_time(check.timeout)}")
    for server in section.servers:
        lines.append(_server_line(server))
    return lines


def _http_check(check: HealthCheck) -> list[str]:
    if not _HTTP_PATH.fullmatch(check.path):
        raise UnsafeNameError(f"check path {check.path!r} is not a safe URL path")
    headers = dict(check.headers)
    host = next((v for k, v in check.headers if k.lower() == "host"), "localhost")
    send = f"    http-check send meth GET uri {check.path} ver HTTP/1.1 hdr Host {_lf(host)}"
    for name, value in sorted(headers.items()):
        if name.lower() == "host":
            continue
        if not _HEADER_NAME.fullmatch(name):
            raise UnsafeNameError(f"check header name {name!r} is not an HTTP token")
        send += f" hdr {name} {_lf(value)}"
    return ["    option httpchk", send, "    http-check expect status 200-399"]


def _lf(value: str) -> str:
    """A header value as an HAProxy log-format string: quoted, '%' doubled."""
    if not _HEADER_VALUE.fullmatch(value):
        raise UnsafeNameError(f"check header value {value!r} has characters HAProxy would parse")
    return '"' + value.replace("%", "%%") + '"'


def _server_line(server: Server) -> str:
    names.dns_subdomain(server.name, "server name")
    names.host_address(server.address, "server address")
    line = f"    server {server.name} {server.address}:{int(server.port)}"
    check = server.check
    if check is not None:
        line += (
            f" check inter {fmt_time(check.interval)} fall {int(check.fall)} rise {int(check.rise)}"
        )
        if server.check_port is not None:
            line += f" port {int(server.check_port)}"
    if server.weight is not None:
        line += f" weight {int(server.weight)}"
    return line
