"""Builders for planner/scheduler inputs: small, explicit, deterministic."""

from __future__ import annotations

from fleet.model import (
    ActualContainer,
    ActualPod,
    ClusterState,
    ContainerState,
    DesiredService,
    HostState,
    Resources,
)

GiB = 2**30


def host(
    name: str,
    *,
    cpu: int = 2000,
    memory: int = 2 * GiB,
    zone: str | None = None,
    labels: dict[str, str] | None = None,
    pods: tuple[ActualPod, ...] = (),
    reachable: bool = True,
    cordoned: bool = False,
    draining: bool = False,
    volumes: tuple[str, ...] = (),
    contents_known: bool = True,
) -> HostState:
    return HostState(
        name=name,
        address=f"10.0.0.{int(''.join(c for c in name if c.isdigit()) or 0) + 10}",
        reachable=reachable,
        capacity=Resources(cpu, memory),
        labels=tuple(sorted((labels or {}).items())),
        zone=zone,
        cordoned=cordoned,
        draining=draining,
        pods=pods,
        volumes=volumes,
        contents_known=contents_known,
    )


def service(
    name: str = "web", replicas: int = 3, revision: str = "r2", **kw: object
) -> DesiredService:
    kw.setdefault("app", "demo")
    kw.setdefault("requests", Resources(100, 64 * 2**20))
    return DesiredService(name=name, replicas=replicas, revision=revision, **kw)  # type: ignore[arg-type]


def pod(
    host_name: str,
    service_name: str = "web",
    slot: int = 0,
    revision: str = "r1",
    *,
    app: str = "demo",
    state: ContainerState = ContainerState.running,
    canary: bool = False,
    requests: Resources = Resources(100, 64 * 2**20),
    created_at: float = 0.0,
    exit_code: int | None = None,
) -> ActualPod:
    return ActualPod(
        host=host_name,
        app=app,
        service=service_name,
        slot=slot,
        revision=revision,
        canary=canary,
        containers=(
            ActualContainer(
                name=f"{app}.{service_name}-{slot}.{revision}",
                role="main",
                state=state,
                exit_code=exit_code,
            ),
        ),
        requests=requests,
        created_at=created_at,
    )


def cluster(*hosts: HostState) -> ClusterState:
    return ClusterState(hosts={h.name: h for h in hosts})


def with_pods(h: HostState, *pods: ActualPod) -> HostState:
    from dataclasses import replace

    return replace(h, pods=h.pods + tuple(pods))
