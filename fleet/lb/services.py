"""Blueprint Services -> `LbService`s for rendering (pure).

- One `LbService` per port of a Service, listening on `listen_port` (nodePort
  if set, else port) on every lb host.
- Its backends are the Deployments the Service selects (same app); the
  target port is resolved by number or by the main container's port name
  (a Deployment without that port name is left out, as Kubernetes leaves
  such endpoints out).
- HAProxy's check mirrors the readiness probe: httpGet -> HTTP check of the
  same path and headers expecting 200-399; tcpSocket -> connect check; exec
  (HAProxy cannot run a command in a container) and no probe -> connect check
  on the traffic port. Interval, timeout, rise and fall are the probe's
  period, timeout, success and failure thresholds.
- Mode: `http` when the Service port (or the container port) is named `http`,
  `web` or `http-*`, or when the readiness probe is an httpGet on the traffic
  port; `tcp` otherwise (a port named `tcp`/`tcp-*` is always tcp). In http
  mode a service without ready replicas answers 503; in tcp mode clients see
  the connection closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from fleet.lb.model import HealthCheck, LbBackend, LbService, Mode
from fleet.model import DesiredService
from fleet.spec.blueprint import Blueprint, Container, Deployment, Service, ServicePort

HTTP_NAMES = ("http", "web")  # and every "http-*" name


def health_check(container: Container, target_port: int) -> HealthCheck:
    """HAProxy's check of a replica, from the container's readiness probe."""
    probe = container.readiness_probe
    if probe is None:
        return HealthCheck()
    timed = HealthCheck(
        interval=float(probe.period_seconds),
        timeout=float(probe.timeout_seconds),
        rise=probe.success_threshold,
        fall=probe.failure_threshold,
    )
    action = probe.http_get or probe.tcp_socket
    port = container.port_number(action.port) if action is not None else None
    check_port = None if port in (None, target_port) else port
    if probe.http_get is not None and probe.http_get.scheme == "HTTP":
        headers = tuple((h.name, h.value) for h in probe.http_get.http_headers)
        return replace(timed, kind="http", path=probe.http_get.path, headers=headers,
                       port=check_port)
    if probe.tcp_socket is not None:
        return replace(timed, port=check_port)
    return timed  # exec: a connect check on the traffic port


def _named_http(name: str | None) -> bool | None:
    if name is None:
        return None
    if name in HTTP_NAMES or name.startswith("http-"):
        return True
    if name == "tcp" or name.startswith("tcp-"):
        return False
    return None


def service_mode(
    port: ServicePort, backends: Sequence[LbBackend], containers: Sequence[Container]
) -> Mode:
    """http or tcp for one Service port (see the module docstring)."""
    named = _named_http(port.name)
    if named is None:
        for container, backend in zip(containers, backends, strict=False):
            declared = next(
                (p.name for p in container.ports if p.container_port == backend.target_port), None
            )
            named = _named_http(declared)
            if named is not None:
                break
    if named is not None:
        return "http" if named else "tcp"
    checks = [b.check for b in backends]
    if checks and all(c is not None and c.kind == "http" and c.port is None for c in checks):
        return "http"
    return "tcp"


def lb_services(blueprint: Blueprint, desired: Iterable[DesiredService] = ()) -> list[LbService]:
    """Every Service port of the blueprint as an `LbService`, sorted by listen port.

    `desired` supplies the canary weight of Deployments whose canary is out.
    """
    plans = {(d.app, d.name): d for d in desired}
    out: list[LbService] = []
    for name in sorted(blueprint.services):
        service = blueprint.services[name]
        deployments = blueprint.deployments_for(service)
        for port, listen in service.listen_ports():
            out.append(_lb_service(service, port, listen, deployments, plans))
    return sorted(out, key=lambda s: (s.listen_port, s.section))


def _lb_service(
    service: Service,
    port: ServicePort,
    listen: int,
    deployments: list[Deployment],
    plans: dict[tuple[str, str], DesiredService],
) -> LbService:
    backends: list[LbBackend] = []
    containers: list[Container] = []
    for deployment in deployments:
        container = deployment.main_container
        assert port.target_port is not None  # defaulted to `port` by the model
        target = container.port_number(port.target_port)
        if target is None:
            continue
        plan = plans.get((deployment.app, deployment.name))
        weight = plan.canary_weight if plan is not None and plan.canary_active else None
        backends.append(
            LbBackend(
                app=deployment.app,
                deployment=deployment.name,
                target_port=target,
                check=health_check(container, target),
                canary_weight=weight,
            )
        )
        containers.append(container)
    grace = max(
        (float(d.spec.template.spec.termination_grace_period_seconds) for d in deployments),
        default=30.0,
    )
    return LbService(
        app=service.app,
        name=service.name,
        listen_port=listen,
        backends=tuple(backends),
        mode=service_mode(port, backends, containers),
        port_name=port.name,
        grace_seconds=grace,
    )
