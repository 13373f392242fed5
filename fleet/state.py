"""Actual state, decoded from container labels (pure).

The labels on the hosts are the source of truth for what exists (DESIGN.md):
every container fleet starts carries the labels below, so one observe round
trip per host tells which pods exist, at which revision, in which slot.

    fleet.managed=true   fleet.app=demo   fleet.service=web   fleet.slot=0
    fleet.revision=3f9a1c2b7e   fleet.role=main|<sidecar name>   fleet.canary=true
    fleet.replica=web-0   fleet.pod=web-0.3f9a1c2b7e   fleet.cpu=100   fleet.memory=67108864
    fleet.containers=2   (on the main container: requests and how many containers the pod has)

A host that could not be observed is *unknown*: it keeps the pods and volumes
of its last observation (from the journal), flagged unreachable, never empty.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from fleet.model import (
    ActualContainer,
    ActualPod,
    ContainerState,
    HostState,
    Resources,
)
from fleet.remote.model import ContainerInfo, HostObservation
from fleet.spec.inventory import HOSTNAME_KEY, ZONE_KEY, Host

L_MANAGED = "fleet.managed"
L_APP = "fleet.app"
L_SERVICE = "fleet.service"
L_SLOT = "fleet.slot"
L_REVISION = "fleet.revision"
L_ROLE = "fleet.role"
L_CANARY = "fleet.canary"
L_REPLICA = "fleet.replica"
L_POD = "fleet.pod"
L_CPU = "fleet.cpu"
L_MEMORY = "fleet.memory"
L_CONTAINERS = "fleet.containers"


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _state(text: str) -> ContainerState:
    try:
        return ContainerState(text)
    except ValueError:
        return ContainerState.dead


def decode_pods(
    host: str, containers: Iterable[ContainerInfo]
) -> tuple[list[ActualPod], list[str]]:
    """Group a host's managed containers into pods; also return what could not be decoded."""
    groups: dict[tuple[str, str, int, str, bool], list[ContainerInfo]] = defaultdict(list)
    broken: list[str] = []
    for container in containers:
        labels = container.labels
        try:
            key = (
                labels[L_APP],
                labels[L_SERVICE],
                int(labels[L_SLOT]),
                labels[L_REVISION],
                labels.get(L_CANARY) == "true",
            )
        except (KeyError, ValueError):
            broken.append(container.name)
            continue
        groups[key].append(container)
    pods = []
    for (app, service, slot, revision, canary), members in sorted(groups.items()):
        main = next((c for c in members if c.labels.get(L_ROLE, "main") == "main"), members[0])
        members = sorted(members, key=lambda c: (c is not main, c.name))
        pods.append(
            ActualPod(
                host=host,
                app=app,
                service=service,
                slot=slot,
                revision=revision,
                canary=canary,
                containers=tuple(
                    ActualContainer(
                        name=c.name,
                        role=c.labels.get(L_ROLE, "main"),
                        state=_state(c.state),
                        exit_code=c.exit_code if c.state != "running" else None,
                        started_at=_ts(c.started_at),
                        finished_at=_ts(c.finished_at),
                        restart_count=c.restart_count,
                        image=c.image,
                        image_id=c.image_id,
                        health=c.health,
                    )
                    for c in members
                ),
                requests=Resources(
                    _int(main.labels.get(L_CPU), 0), _int(main.labels.get(L_MEMORY), 0)
                ),
                ports=tuple(
                    sorted({(p.container_port, p.host_port) for p in main.ports if p.host_port})
                ),
                ip=main.address,
                volumes=tuple(sorted({m.source for m in main.mounts if m.type == "volume"})),
                created_at=_ts(main.created_at) or 0.0,
                expected_containers=_int(main.labels.get(L_CONTAINERS), len(members)),
            )
        )
    return pods, broken


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def host_state(
    host: Host,
    observation: HostObservation | None,
    *,
    error: str | None = None,
    volumes: Iterable[str] = (),
    cordon: str | None = None,
    remembered: Mapping[str, Any] | None = None,
) -> HostState:
    """What the planner knows of one host: observed now, or remembered from the journal."""
    labels = tuple(sorted(_with_topology(host).items()))
    if observation is None:
        pods: tuple[ActualPod, ...] = ()
        vols: tuple[str, ...] = ()
        if remembered is not None:
            pods = tuple(pod_from_dict(p) for p in remembered.get("pods", ()))
            vols = tuple(remembered.get("volumes", ()))
        return HostState(
            name=host.name,
            address=host.address,
            reachable=False,
            capacity=_capacity(host, None),
            labels=labels,
            zone=host.zone,
            cordoned=bool(remembered.get("cordoned")) if remembered else False,
            draining=bool(remembered.get("draining")) if remembered else False,
            pods=pods,
            volumes=vols,
            error=error,
            contents_known=remembered is not None,
        )
    pods_, _ = decode_pods(host.name, observation.containers)
    return HostState(
        name=host.name,
        address=host.address,
        reachable=True,
        capacity=_capacity(host, observation),
        labels=labels,
        zone=host.zone,
        cordoned=cordon is not None,
        draining=cordon_drains(cordon),
        pods=tuple(pods_),
        volumes=tuple(sorted(volumes)),
        engine_version=observation.facts.engine_version,
        round_trip_ms=observation.round_trip_ms,
        unmanaged_containers=observation.unmanaged_count,
    )


def _with_topology(host: Host) -> dict[str, str]:
    """The inventory's labels plus Kubernetes' well-known host name and zone labels, so a
    nodeSelector on `kubernetes.io/hostname` or `topology.kubernetes.io/zone` works."""
    labels = {HOSTNAME_KEY: host.name}
    if host.zone:
        labels[ZONE_KEY] = host.zone
    labels.update(host.labels)
    return labels


def cordon_drains(cordon: str | None) -> bool:
    """The cordon marker (JSON from `fleet cordon|drain`) asks for the replicas to move."""
    if cordon is None:
        return False
    try:
        return bool(json.loads(cordon).get("drain"))
    except (ValueError, AttributeError):
        return False  # unreadable marker: still cordoned, nothing moves


def _capacity(host: Host, observation: HostObservation | None) -> Resources:
    """The inventory's capacity override, else what the engine reports."""
    cpu = host.capacity.cpu if host.capacity and host.capacity.cpu is not None else None
    memory = host.capacity.memory if host.capacity and host.capacity.memory is not None else None
    if observation is not None:
        cpu = cpu if cpu is not None else observation.facts.cpus * 1000
        memory = memory if memory is not None else observation.facts.memory_bytes
    return Resources(cpu or 0, memory or 0)


# -- remembering hosts between runs (journal snapshots) --------------------------------------


def snapshot(state: HostState) -> dict[str, Any]:
    """What to remember of a reachable host, to stand in for it while it is unreachable."""
    return {
        "pods": [pod_to_dict(p) for p in state.pods],
        "volumes": list(state.volumes),
        "cordoned": state.cordoned,
        "draining": state.draining,
    }


_POD_FIELDS = tuple(f.name for f in fields(ActualPod))
_CONTAINER_FIELDS = tuple(f.name for f in fields(ActualContainer))


def pod_to_dict(pod: ActualPod) -> dict[str, Any]:
    """Plain data for the journal (what `asdict` gives, built directly: every observation
    snapshots every pod, and `asdict`'s deep copies took seconds on 10,000 pods)."""
    data = {name: getattr(pod, name) for name in _POD_FIELDS}
    data["containers"] = [
        {**{name: getattr(c, name) for name in _CONTAINER_FIELDS}, "state": c.state.value}
        for c in pod.containers
    ]
    data["requests"] = {"cpu": pod.requests.cpu, "memory": pod.requests.memory}
    data["ports"] = [list(p) for p in pod.ports]
    data["volumes"] = list(pod.volumes)
    return data


def pod_from_dict(data: Mapping[str, Any]) -> ActualPod:
    return ActualPod(
        host=data["host"],
        app=data["app"],
        service=data["service"],
        slot=int(data["slot"]),
        revision=data["revision"],
        canary=bool(data.get("canary", False)),
        containers=tuple(
            ActualContainer(**{**c, "state": ContainerState(c["state"])})
            for c in data["containers"]
        ),
        requests=Resources(**data.get("requests", {})),
        ports=tuple((int(c), int(h)) for c, h in data.get("ports", ())),
        ip=data.get("ip"),
        volumes=tuple(data.get("volumes", ())),
        created_at=float(data.get("created_at", 0.0)),
        expected_containers=int(data.get("expected_containers", 1)),
    )
