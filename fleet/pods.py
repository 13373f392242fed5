"""A replica's pod as engine containers: labels, env, ports, volumes, limits (pure).

The main container owns the pod's network namespace and publishes every port
of the pod on its host's address (a random host port, so replicas and
rollout surges never collide; HAProxy learns the port from the labels'
observation). Sidecars join with `--network container:<main>` and share the
pod's volumes. Requests are recorded as labels, so what is placed where can be
read back from the hosts alone.

Service discovery: every container gets each Service of its application
mapped to a load-balancer address (`--add-host web:10.77.0.11`) plus
Kubernetes-style `WEB_SERVICE_HOST` / `WEB_SERVICE_PORT` variables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fleet import state as labels_
from fleet.desired import pod_requests
from fleet.model import (
    canary_replica_id,
    container_name,
    pod_name,
    replica_id,
    scratch_volume_name,
    volume_name,
)
from fleet.remote.model import ContainerRunSpec, PortSpec, VolumeSpec
from fleet.spec.blueprint import Blueprint, Container, Deployment
from fleet.spec.secrets import resolve_env


@dataclass(frozen=True)
class Endpoint:
    """Where containers reach a Service: a load-balancer address and the service port."""

    name: str
    address: str
    port: int


@dataclass(frozen=True)
class PodPlacement:
    """Which replica, at which revision, on which host."""

    app: str
    service: str
    slot: int
    revision: str
    host: str
    host_address: str
    canary: bool = False

    @property
    def replica(self) -> str:
        return (canary_replica_id if self.canary else replica_id)(self.service, self.slot)

    @property
    def pod(self) -> str:
        return pod_name(self.replica, self.revision)


def discovery_env(endpoints: Sequence[Endpoint]) -> dict[str, str]:
    """`<NAME>_SERVICE_HOST` and `<NAME>_SERVICE_PORT` for each service, as Kubernetes sets."""
    env: dict[str, str] = {}
    for endpoint in endpoints:
        key = endpoint.name.upper().replace("-", "_")
        env[f"{key}_SERVICE_HOST"] = endpoint.address
        env[f"{key}_SERVICE_PORT"] = str(endpoint.port)
    return env


def pod_labels(where: PodPlacement, deployment: Deployment, role: str) -> dict[str, str]:
    """fleet's labels (see fleet.state) plus the pod template's own labels."""
    labels = dict(deployment.labels)
    labels.update(
        {
            labels_.L_APP: where.app,
            labels_.L_SERVICE: where.service,
            labels_.L_SLOT: str(where.slot),
            labels_.L_REVISION: where.revision,
            labels_.L_ROLE: role,
            labels_.L_REPLICA: where.replica,
            labels_.L_POD: where.pod,
        }
    )
    if where.canary:
        labels[labels_.L_CANARY] = "true"
    if role == "main":
        requests = pod_requests(deployment)
        labels[labels_.L_CPU] = str(requests.cpu)
        labels[labels_.L_MEMORY] = str(requests.memory)
        labels[labels_.L_CONTAINERS] = str(len(deployment.containers))
    return labels


def pod_containers(
    where: PodPlacement,
    deployment: Deployment,
    blueprint: Blueprint,
    endpoints: Sequence[Endpoint],
    environ: Mapping[str, str] | None = None,
) -> list[ContainerRunSpec]:
    """The run specs of one pod, main container first."""
    pod = deployment.spec.template.spec
    volumes = {v.name: v for v in pod.volumes}
    main_name = container_name(where.app, where.pod)
    grace = pod.termination_grace_period_seconds
    base_env = {
        "FLEET_APP": where.app,
        "FLEET_SERVICE": where.service,
        "FLEET_REPLICA": where.replica,
        "FLEET_POD": where.pod,
        "FLEET_HOST": where.host,
        "FLEET_REVISION": where.revision,
        **discovery_env(endpoints),
    }
    extra_hosts = {e.name: e.address for e in endpoints}
    ports = tuple(
        PortSpec(container_port=number, host_port=0, host_ip=where.host_address)
        for _, number, _ in pod.all_ports()
    )
    specs = []
    for index, container in enumerate(deployment.containers):
        main = index == 0
        role = "main" if main else container.name
        entrypoint, args = _command(container)
        env = dict(base_env)
        for name, value in resolve_env(container, blueprint, deployment, environ):
            env[name] = value if isinstance(value, str) else value.reveal()
        specs.append(
            ContainerRunSpec(
                name=main_name if main else container_name(where.app, where.pod, container.name),
                image=container.image,
                labels=pod_labels(where, deployment, role),
                env=env,
                entrypoint=entrypoint,
                args=args,
                ports=ports if main else (),
                volumes=tuple(
                    _volume(
                        where,
                        volumes[m.name].kind,
                        m.name,
                        m.mount_path,
                        m.read_only,
                        host_path=_host_path(volumes[m.name]),
                    )
                    for m in container.volume_mounts
                ),
                cpus=(container.resources.limits.cpu / 1000)
                if container.resources.limits.cpu
                else None,
                memory=container.resources.limits.memory or None,
                network=None if main else f"container:{main_name}",
                hostname=where.replica if main else None,
                extra_hosts=extra_hosts if main else {},
                restart="no",  # fleet restarts pods itself (heal), with back-off
                stop_timeout=grace,
                healthcheck=False,
            )
        )
    return specs


def _command(container: Container) -> tuple[str | None, tuple[str, ...] | None]:
    """Kubernetes command/args -> Docker entrypoint/args."""
    if container.command:
        first, *rest = container.command
        return first, (*rest, *(container.args or ()))
    return None, tuple(container.args) if container.args is not None else None


def _host_path(volume: object) -> str | None:
    source = getattr(volume, "host_path", None)
    return None if source is None else str(source.path)


def _volume(
    where: PodPlacement,
    kind: str,
    name: str,
    target: str,
    read_only: bool,
    *,
    host_path: str | None,
) -> VolumeSpec:
    if kind == "hostPath":
        assert host_path is not None
        return VolumeSpec(source=host_path, target=target, kind="bind", read_only=read_only)
    if kind == "persistent" and not where.canary:
        source = volume_name(where.app, where.service, where.slot, name)
    else:  # emptyDir, and canary replicas (they never take over a stable replica's data)
        source = scratch_volume_name(where.app, where.pod, name)
    return VolumeSpec(source=source, target=target, kind="volume", read_only=read_only)
