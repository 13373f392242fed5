"""The pod: its containers, volumes, node selector and spread rules.

A pod is the unit fleet schedules: all its containers run on one host, the
first is the main container and the others are sidecars that join its network
namespace (`--network container:<main>`) and mount the same pod volumes.

Volumes (one source each):

    persistentVolumeClaim: {claimName: data}   each replica gets its own engine volume
    persistent: {}                             fleet shorthand, same thing, claim = volume name
    emptyDir: {}                               scratch space living as long as the replica
    hostPath: {path: /srv/x}                   a directory of the host (absolute, validated)

A persistent volume belongs to one replica ordinal (`<app>-<claim>-<ordinal>`
on the engine) and is pinned to the host it was created on, like a StatefulSet's
volumeClaimTemplates. It survives scale-down, redeploys and host loss; only an
explicit flag removes it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from fleet.spec.base import (
    DAY,
    AbsPath,
    DNSLabel,
    FieldError,
    K8sModel,
    LabelKey,
    Memory,
    Text,
    VolumeName,
    check_labels,
    show,
)
from fleet.spec.meta import LabelSelector
from fleet.spec.pod import Container

_K8S_VOLUME_SOURCES = (
    "configMap", "secret", "nfs", "awsElasticBlockStore", "gcePersistentDisk", "azureDisk",
    "azureFile", "cephfs", "cinder", "csi", "downwardAPI", "ephemeral", "fc", "flexVolume",
    "flocker", "gitRepo", "glusterfs", "iscsi", "photonPersistentDisk", "portworxVolume",
    "projected", "quobyte", "rbd", "scaleIO", "storageos", "vsphereVolume", "image",
)  # fmt: skip


class PersistentVolumeClaimSource(K8sModel):
    """Kubernetes' shape for a persistent volume; fleet gives each replica its own."""

    claim_name: DNSLabel
    read_only: bool = False


class PersistentSource(K8sModel):
    """fleet shorthand `persistent: {}`: a per-replica volume named after the pod volume."""


class EmptyDirSource(K8sModel):
    """Scratch space for the life of one replica (medium Memory: a tmpfs)."""

    medium: Literal["", "Memory"] = ""
    size_limit: Memory = None


class HostPathSource(K8sModel):
    """A directory or file of the host the replica runs on."""

    path: AbsPath
    type: Literal[
        "", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice",
        "BlockDevice",
    ] = ""  # fmt: skip


class Volume(K8sModel):
    """A pod volume, mounted by name into any of the pod's containers."""

    name: VolumeName
    persistent_volume_claim: PersistentVolumeClaimSource | None = None
    persistent: PersistentSource | None = None
    empty_dir: EmptyDirSource | None = None
    host_path: HostPathSource | None = None

    @model_validator(mode="before")
    @classmethod
    def _k8s_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in _K8S_VOLUME_SOURCES:
                if key in data:
                    raise FieldError(
                        f"volume source {key} is not supported by fleet; use "
                        "persistentVolumeClaim, persistent, emptyDir or hostPath",
                        key,
                    )
        return data

    @model_validator(mode="after")
    def _one_source(self) -> Volume:
        given = [
            s
            for s in (self.persistent_volume_claim, self.persistent, self.empty_dir, self.host_path)
            if s is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "a volume needs exactly one of persistentVolumeClaim, persistent, emptyDir, "
                f"hostPath (found {len(given)})"
            )
        return self

    @property
    def kind(self) -> Literal["persistent", "emptyDir", "hostPath"]:
        """Which of fleet's three volume kinds this is."""
        if self.empty_dir is not None:
            return "emptyDir"
        if self.host_path is not None:
            return "hostPath"
        return "persistent"

    @property
    def claim_name(self) -> str | None:
        """For a persistent volume: the name its per-replica engine volumes derive from."""
        if self.persistent_volume_claim is not None:
            return self.persistent_volume_claim.claim_name
        return self.name if self.persistent is not None else None


class TopologySpreadConstraint(K8sModel):
    """Spread replicas over hosts or zones (topologyKey: a host label, or the well-known
    `kubernetes.io/hostname` and `topology.kubernetes.io/zone`)."""

    unsupported_fields = frozenset(
        {"minDomains", "nodeAffinityPolicy", "nodeTaintsPolicy", "matchLabelKeys"}
    )

    max_skew: int = Field(ge=1)
    topology_key: LabelKey
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"] = "DoNotSchedule"
    label_selector: LabelSelector | None = None


class TemplateMetadata(K8sModel):
    """`template.metadata`: the labels Services select the pods by."""

    unsupported_fields = frozenset({"name", "namespace", "generateName", "creationTimestamp"})

    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, Text] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return check_labels(value)


class PodSpec(K8sModel):
    """`template.spec`: containers (first = main), volumes, placement hints."""

    unsupported_fields = frozenset(
        {
            "initContainers", "ephemeralContainers", "serviceAccountName", "serviceAccount",
            "automountServiceAccountToken", "imagePullSecrets", "securityContext", "affinity",
            "tolerations", "hostNetwork", "hostPID", "hostIPC", "dnsPolicy", "dnsConfig",
            "hostAliases", "priorityClassName", "priority", "schedulerName", "nodeName",
            "runtimeClassName", "enableServiceLinks", "preemptionPolicy", "overhead",
            "readinessGates", "shareProcessNamespace", "subdomain", "hostname",
            "setHostnameAsFQDN", "os", "activeDeadlineSeconds", "schedulingGates",
            "resourceClaims", "hostUsers", "resources",
        }
    )  # fmt: skip

    containers: list[Container] = Field(min_length=1)
    volumes: list[Volume] = Field(default_factory=list)
    node_selector: dict[str, str] = Field(default_factory=dict)
    termination_grace_period_seconds: int = Field(30, ge=0, le=DAY)
    restart_policy: Literal["Always"] = "Always"
    # Kubernetes' place for it; the Deployment moves these up to spec.topologySpreadConstraints
    topology_spread_constraints: list[TopologySpreadConstraint] = Field(default_factory=list)

    @field_validator("node_selector")
    @classmethod
    def _node_selector(cls, value: dict[str, str]) -> dict[str, str]:
        return check_labels(value, "node selector")

    @model_validator(mode="before")
    @classmethod
    def _restart(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("restartPolicy", "Always") != "Always":
            raise FieldError(
                f"restartPolicy {show(data['restartPolicy'])} is not possible for a Deployment: "
                "its replicas always restart (Always)",
                "restartPolicy",
            )
        return data

    @model_validator(mode="after")
    def _consistent(self) -> PodSpec:
        seen: set[str] = set()
        for i, container in enumerate(self.containers):
            if container.name in seen:
                raise FieldError(
                    f"container name {container.name!r} appears twice", "containers", i, "name"
                )
            seen.add(container.name)
        volumes: set[str] = set()
        for i, volume in enumerate(self.volumes):
            if volume.name in volumes:
                raise FieldError(f"volume name {volume.name!r} appears twice", "volumes", i, "name")
            volumes.add(volume.name)
        # sidecars share the main container's network namespace: one port, one listener
        ports: dict[tuple[int, str], str] = {}  # (port, protocol) -> container
        for i, container in enumerate(self.containers):
            for j, port in enumerate(container.ports):
                slot = (port.container_port, port.protocol)
                if slot in ports and ports[slot] != container.name:
                    raise FieldError(
                        f"port {port.container_port} is also declared by container "
                        f"{ports[slot]!r}; containers of a pod share one network namespace",
                        "containers",
                        i,
                        "ports",
                        j,
                        "containerPort",
                    )
                ports[slot] = container.name
            for j, mount in enumerate(container.volume_mounts):
                if mount.name not in volumes:
                    raise FieldError(
                        f"volume {mount.name!r} is not declared in spec.template.spec.volumes"
                        f" (declared: {', '.join(sorted(volumes)) or 'none'})",
                        "containers",
                        i,
                        "volumeMounts",
                        j,
                        "name",
                    )
            for key, probe in container.probes():
                number = probe.port
                if isinstance(number, int) and (number, "TCP") not in ports:
                    raise FieldError(
                        f"probe port {number} is not declared by any container of the pod "
                        f"(declared: {_declared(ports)}); add it to ports",
                        "containers",
                        i,
                        key,
                        probe.handler_field,
                        "port",
                    )
        return self

    def all_ports(self) -> list[tuple[Container, int, str | None]]:
        """(container, port number, port name) for every declared TCP port of the pod."""
        return [
            (c, p.container_port, p.name)
            for c in self.containers
            for p in c.ports
            if p.protocol == "TCP"
        ]

    def resolve_port(self, port: int | str) -> int | None:
        """A port number or any container's port name to the number (None if undeclared)."""
        for container in self.containers:
            number = container.port_number(port)
            if number is not None and (
                isinstance(port, str) or any(p.container_port == port for p in container.ports)
            ):
                return number
        return None


def _declared(ports: dict[tuple[int, str], str]) -> str:
    numbers = sorted(p for p, proto in ports if proto == "TCP")
    return ", ".join(map(str, numbers)) or "none"


class PodTemplateSpec(K8sModel):
    """`spec.template`: the pod every replica runs."""

    metadata: TemplateMetadata = TemplateMetadata()
    spec: PodSpec
