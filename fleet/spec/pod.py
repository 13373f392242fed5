"""Containers and what belongs to one: ports, env, resources, probes, volume mounts.

Shapes and defaults are Kubernetes' (core/v1 Container). Fleet additions:
`valueFrom: {file: PATH}` and `valueFrom: {env: VAR}` for values read on the
controller at apply time (kept secret like a `secretKeyRef`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from fleet import names
from fleet.errors import UnsafeNameError
from fleet.spec.base import (
    CPU,
    DAY,
    AbsPath,
    ContainerName,
    DNSLabel,
    EnvName,
    FieldError,
    ImageRef,
    IntOrString,
    K8sModel,
    Memory,
    PortName,
    PortNumber,
    Text,
    VolumeName,
    show,
)
from fleet.spec.quantity import format_cpu, format_memory

# --- ports ------------------------------------------------------------------------------


class ContainerPort(K8sModel):
    """A port the container listens on; fleet publishes declared ports only."""

    unsupported_fields = frozenset({"hostPort", "hostIP"})

    name: PortName | None = None
    container_port: PortNumber
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"


def _probe_port(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool) and not 1 <= value <= 65535:
        raise ValueError(f"port {value} is out of range (1-65535)")
    if isinstance(value, str):
        if value.isdigit():
            raise ValueError(f"port {show(value)} is a string: write the number without quotes")
        try:
            names.dns_label(value, "port name")
        except UnsafeNameError as exc:
            raise ValueError(str(exc)) from None
    return value


TargetPort = Annotated[IntOrString, BeforeValidator(_probe_port)]

# --- environment --------------------------------------------------------------------------

_SECRET_KEY = re.compile(r"[-._A-Za-z0-9]+")


class SecretKeySelector(K8sModel):
    """`secretKeyRef`: one key of a `kind: Secret` object of the loaded blueprints."""

    name: DNSLabel
    key: str
    optional: bool = False

    @model_validator(mode="after")
    def _key(self) -> SecretKeySelector:
        if not _SECRET_KEY.fullmatch(self.key) or len(self.key) > 253:
            raise FieldError(
                f"secret key {show(self.key)} is not valid (letters, digits, -._)", "key"
            )
        return self


_K8S_ENV_SOURCES = ("configMapKeyRef", "fieldRef", "resourceFieldRef")


class EnvVarSource(K8sModel):
    """`valueFrom`: a secret key, or (fleet) a file or a variable of the controller."""

    secret_key_ref: SecretKeySelector | None = None
    # fleet: read on the controller at apply time; a relative path is relative to the blueprint
    file: Text | None = None
    # fleet: a variable of the controller's environment
    env: EnvName | None = None

    @model_validator(mode="before")
    @classmethod
    def _k8s_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in _K8S_ENV_SOURCES:
                if key in data:
                    raise FieldError(
                        f"valueFrom.{key} is not supported by fleet; use secretKeyRef, "
                        "file (a file on the controller) or env (a variable of the controller)",
                        key,
                    )
        return data

    @model_validator(mode="after")
    def _one(self) -> EnvVarSource:
        given = [k for k in ("secret_key_ref", "file", "env") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("valueFrom needs exactly one of secretKeyRef, file, env")
        return self


class EnvVar(K8sModel):
    """An environment variable: a literal `value` or a `valueFrom` resolved at apply time."""

    name: EnvName
    value: Text | None = None
    value_from: EnvVarSource | None = None

    @model_validator(mode="after")
    def _one(self) -> EnvVar:
        if self.value is not None and self.value_from is not None:
            raise FieldError("set value or valueFrom, not both", "valueFrom")
        return self


# --- resources ------------------------------------------------------------------------------


class Resources(K8sModel):
    """cpu in millicores, memory in bytes (YAML: Kubernetes quantities like 250m, 128Mi)."""

    unsupported_fields = frozenset(
        {"ephemeral-storage", "hugepages-2Mi", "hugepages-1Gi", "nvidia.com/gpu", "amd.com/gpu"}
    )

    cpu: CPU = None
    memory: Memory = None


class ResourceRequirements(K8sModel):
    """requests (what the scheduler reserves) and limits (what the engine enforces)."""

    unsupported_fields = frozenset({"claims"})

    requests: Resources = Resources()
    limits: Resources = Resources()

    @model_validator(mode="after")
    def _requests(self) -> ResourceRequirements:
        # Kubernetes: a resource with a limit and no request requests its limit
        filled = Resources(
            cpu=self.requests.cpu if self.requests.cpu is not None else self.limits.cpu,
            memory=self.requests.memory if self.requests.memory is not None else self.limits.memory,
        )
        for field in ("cpu", "memory"):
            want, cap = getattr(filled, field), getattr(self.limits, field)
            if want is not None and cap is not None and want > cap:
                shown = format_cpu if field == "cpu" else format_memory
                raise FieldError(
                    f"request {shown(want)} is more than the limit {shown(cap)}",
                    "requests",
                    field,
                )
        if filled != self.requests:
            object.__setattr__(self, "requests", filled)
        return self


# --- probes ---------------------------------------------------------------------------------

_HTTP_PATH = re.compile(r"/[A-Za-z0-9\-._~/%?=&+,:@]*")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~]+")
_HEADER_VALUE = re.compile(r"[ -~]*")


class HTTPHeader(K8sModel):
    """A header sent with an httpGet probe."""

    name: str
    value: str

    @model_validator(mode="after")
    def _safe(self) -> HTTPHeader:
        if not _HEADER_NAME.fullmatch(self.name):
            raise FieldError(f"header name {show(self.name)} is not an HTTP token", "name")
        # HAProxy health checks may carry it: no quotes, backslashes or '#'
        if not _HEADER_VALUE.fullmatch(self.value) or any(c in self.value for c in "\"'\\#"):
            raise FieldError(
                f"header value {show(self.value)} may only use printable ASCII without "
                "quotes, backslashes or '#'",
                "value",
            )
        return self


class HTTPGetAction(K8sModel):
    """`httpGet`: healthy on a 2xx/3xx answer."""

    path: str = "/"
    port: TargetPort
    host: str | None = None
    scheme: Literal["HTTP", "HTTPS"] = "HTTP"
    http_headers: list[HTTPHeader] = Field(default_factory=list)

    @model_validator(mode="after")
    def _safe(self) -> HTTPGetAction:
        # the path can end up in haproxy.cfg (`option httpchk GET <path>`): keep it to URL chars
        if not _HTTP_PATH.fullmatch(self.path):
            raise FieldError(
                f"probe path {show(self.path)} must start with '/' and use only URL characters "
                "(no spaces, quotes, '#', '$' or backslashes)",
                "path",
            )
        if self.host is not None:
            try:
                names.host_address(self.host, "probe host")
            except UnsafeNameError as exc:
                raise FieldError(str(exc), "host") from None
        return self


class TCPSocketAction(K8sModel):
    """`tcpSocket`: healthy when a connection opens."""

    port: TargetPort
    host: str | None = None

    @model_validator(mode="after")
    def _host(self) -> TCPSocketAction:
        if self.host is not None:
            try:
                names.host_address(self.host, "probe host")
            except UnsafeNameError as exc:
                raise FieldError(str(exc), "host") from None
        return self


class ExecAction(K8sModel):
    """`exec`: healthy when the command exits 0 inside the container."""

    command: list[Text] = Field(min_length=1)


class Probe(K8sModel):
    """liveness/readiness/startup probe with Kubernetes' defaults."""

    unsupported_fields = frozenset({"terminationGracePeriodSeconds"})

    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    exec: ExecAction | None = None
    initial_delay_seconds: int = Field(0, ge=0, le=DAY)
    period_seconds: int = Field(10, ge=1, le=DAY)
    timeout_seconds: int = Field(1, ge=1, le=DAY)
    success_threshold: int = Field(1, ge=1)
    failure_threshold: int = Field(3, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _grpc(cls, data: Any) -> Any:
        if isinstance(data, dict) and "grpc" in data:
            raise FieldError(
                "grpc probes are not supported: use httpGet, tcpSocket or exec", "grpc"
            )
        return data

    @model_validator(mode="after")
    def _one_handler(self) -> Probe:
        given = [h for h in (self.http_get, self.tcp_socket, self.exec) if h is not None]
        if len(given) != 1:
            raise ValueError(
                f"a probe needs exactly one of httpGet, tcpSocket, exec (found {len(given)})"
            )
        return self

    @property
    def port(self) -> int | str | None:
        """The port the probe talks to (None for exec)."""
        if self.http_get is not None:
            return self.http_get.port
        if self.tcp_socket is not None:
            return self.tcp_socket.port
        return None

    @property
    def handler_field(self) -> str:
        return "httpGet" if self.http_get else "tcpSocket" if self.tcp_socket else "exec"


# --- the container --------------------------------------------------------------------------


class VolumeMount(K8sModel):
    """Where a pod volume appears in a container."""

    unsupported_fields = frozenset(
        {"subPath", "subPathExpr", "mountPropagation", "recursiveReadOnly"}
    )

    name: VolumeName
    mount_path: AbsPath
    read_only: bool = False


PROBES = (
    ("liveness_probe", "livenessProbe"),
    ("readiness_probe", "readinessProbe"),
    ("startup_probe", "startupProbe"),
)


class Container(K8sModel):
    """One container of a pod. The first of a pod is the main one, the others are sidecars."""

    unsupported_fields = frozenset(
        {
            "imagePullPolicy",
            "securityContext",
            "lifecycle",
            "terminationMessagePath",
            "terminationMessagePolicy",
            "workingDir",
            "stdin",
            "stdinOnce",
            "tty",
            "envFrom",
            "volumeDevices",
            "resizePolicy",
            "restartPolicy",
        }
    )

    name: ContainerName
    image: ImageRef
    command: list[Text] | None = None
    args: list[Text] | None = None
    env: list[EnvVar] = Field(default_factory=list)
    ports: list[ContainerPort] = Field(default_factory=list)
    resources: ResourceRequirements = ResourceRequirements()
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    volume_mounts: list[VolumeMount] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Container:
        _unique(
            [(i, e.name) for i, e in enumerate(self.env)], "environment variable", "env", "name"
        )
        _unique(
            [(i, p.name) for i, p in enumerate(self.ports) if p.name], "port name", "ports", "name"
        )
        _unique(
            [(i, f"{p.container_port}/{p.protocol}") for i, p in enumerate(self.ports)],
            "port",
            "ports",
            "containerPort",
        )
        _unique(
            [(i, m.mount_path) for i, m in enumerate(self.volume_mounts)],
            "mount path",
            "volumeMounts",
            "mountPath",
        )
        for attr, key in PROBES:
            probe: Probe | None = getattr(self, attr)
            if probe is None:
                continue
            if isinstance(probe.port, str) and self.port_number(probe.port) is None:
                raise FieldError(
                    f"probe port {show(probe.port)} is not a port name of container {self.name!r}"
                    f" (declared: {', '.join(p.name for p in self.ports if p.name) or 'none'})",
                    key,
                    probe.handler_field,
                    "port",
                )
            if attr != "readiness_probe" and probe.success_threshold != 1:
                raise FieldError(
                    "must be 1 for liveness and startup probes", key, "successThreshold"
                )
        return self

    def port_number(self, port: int | str) -> int | None:
        """A port number or a declared port name to the number (None: name not declared)."""
        if isinstance(port, int):
            return port
        for declared in self.ports:
            if declared.name == port:
                return declared.container_port
        return None

    def probes(self) -> list[tuple[str, Probe]]:
        """(YAML field name, probe) for each probe the container has."""
        return [(key, p) for attr, key in PROBES if (p := getattr(self, attr)) is not None]


def _unique(items: list[tuple[int, Any]], what: str, field: str, key: str) -> None:
    """Raise at the second occurrence of a value among (index, value) pairs."""
    seen: set[Any] = set()
    for index, value in items:
        if value in seen:
            raise FieldError(f"{what} {show(value)} appears twice", field, index, key)
        seen.add(value)
