"""Blueprint models: Deployment, Service, HorizontalPodAutoscaler, Secret, and a loaded set.

Kubernetes shapes and names (camelCase in YAML, snake_case attributes here),
strict and frozen. fleet extensions on `DeploymentSpec`: `dependsOn` (services
that must be ready before this starts), `maxPerHost`, `placement`
(spread | binpack), and the `Canary` strategy. This module re-exports the
models of pod.py, podspec.py, service.py and secrets.py so callers import
every blueprint type from here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from fleet.errors import Location
from fleet.spec.base import DNSLabel, FieldError, K8sModel, ServiceRef, show
from fleet.spec.meta import LabelSelector, LabelSelectorRequirement, ObjectMeta, TopLevel
from fleet.spec.pod import (
    Container,
    ContainerPort,
    EnvVar,
    EnvVarSource,
    ExecAction,
    HTTPGetAction,
    HTTPHeader,
    Probe,
    ResourceRequirements,
    Resources,
    SecretKeySelector,
    TCPSocketAction,
    VolumeMount,
)
from fleet.spec.podspec import (
    EmptyDirSource,
    HostPathSource,
    PersistentSource,
    PersistentVolumeClaimSource,
    PodSpec,
    PodTemplateSpec,
    TemplateMetadata,
    TopologySpreadConstraint,
    Volume,
)
from fleet.spec.secrets import Secret, SecretSource, SecretValue, resolve_env
from fleet.spec.service import Service, ServicePort, ServiceSpec, listen_port
from fleet.spec.yamlsrc import Document, format_path

__all__ = [
    "Blueprint", "Canary", "Container", "ContainerPort", "Deployment", "DeploymentSpec",
    "DeploymentStrategy", "EmptyDirSource", "EnvVar", "EnvVarSource", "ExecAction",
    "HPASpec", "HTTPGetAction", "HTTPHeader", "HorizontalPodAutoscaler", "HostPathSource",
    "LabelSelector", "LabelSelectorRequirement", "ObjectMeta", "PersistentSource",
    "PersistentVolumeClaimSource", "PodSpec", "PodTemplateSpec", "Probe",
    "ResourceRequirements", "Resources", "RollingUpdate", "ScaleTargetRef", "Secret",
    "SecretKeySelector", "SecretSource", "SecretValue", "Service", "ServicePort",
    "ServiceSpec", "TCPSocketAction", "TemplateMetadata", "TopologySpreadConstraint",
    "Volume", "VolumeMount", "listen_port", "resolve_env",
]  # fmt: skip

_PERCENT = re.compile(r"(0|[1-9][0-9]*)%")


def _int_or_percent(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{value} must not be negative")
        return value
    if isinstance(value, str) and _PERCENT.fullmatch(value):
        return value
    raise ValueError(f'{show(value)} is neither a number nor a percentage like "25%"')


IntOrPercent = Annotated[int | str, BeforeValidator(_int_or_percent)]


def _scaled(value: int | str, replicas: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    exact = int(value[:-1]) * replicas / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def _is_zero(value: int | str) -> bool:
    return value in (0, "0%")


class RollingUpdate(K8sModel):
    """How many replicas a rollout may add (surge) or take away (unavailable) at a time."""

    max_surge: IntOrPercent = "25%"
    max_unavailable: IntOrPercent = "25%"

    @model_validator(mode="after")
    def _not_both_zero(self) -> RollingUpdate:
        if _is_zero(self.max_surge) and _is_zero(self.max_unavailable):
            raise FieldError(
                "maxSurge and maxUnavailable cannot both be 0: the rollout could not make progress",
                "maxUnavailable",
            )
        if isinstance(self.max_unavailable, str) and int(self.max_unavailable[:-1]) > 100:
            raise FieldError("must not be more than 100%", "maxUnavailable")
        return self


class Canary(K8sModel):
    """fleet extension: first run `replicas` new pods taking `weight`% of the traffic."""

    replicas: int = Field(1, ge=1)
    # None: traffic in proportion to replicas (canary replicas / all replicas)
    weight: int | None = Field(None, ge=0, le=100)

    def effective_weight(self, total_replicas: int) -> int:
        """The canary's share of traffic in percent."""
        if self.weight is not None:
            return self.weight
        return round(100 * self.replicas / total_replicas) if total_replicas else 100


class DeploymentStrategy(K8sModel):
    """RollingUpdate (default), Recreate, or fleet's Canary (canary first, then rolling)."""

    type: Literal["RollingUpdate", "Recreate", "Canary"] = "RollingUpdate"
    rolling_update: RollingUpdate = RollingUpdate()
    canary: Canary | None = None

    @model_validator(mode="before")
    @classmethod
    def _recreate(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") == "Recreate" and "rollingUpdate" in data:
            raise FieldError("may not be set when type is Recreate", "rollingUpdate")
        if isinstance(data, dict) and "canary" in data and data.get("type") != "Canary":
            raise FieldError("canary is only used with type Canary", "canary")
        return data

    @model_validator(mode="after")
    def _canary(self) -> DeploymentStrategy:
        if self.type == "Canary" and self.canary is None:
            object.__setattr__(self, "canary", Canary())
        return self

    def resolve_surge_unavailable(self, replicas: int) -> tuple[int, int]:
        """(surge, unavailable) as replica counts, rounded as Kubernetes does.

        Surge rounds up, unavailable rounds down; if both come out 0, unavailable
        becomes 1 (Kubernetes' rule, so a rollout always progresses). Recreate:
        (0, replicas).
        """
        if self.type == "Recreate":
            return 0, replicas
        surge = _scaled(self.rolling_update.max_surge, replicas, round_up=True)
        unavailable = _scaled(self.rolling_update.max_unavailable, replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        return surge, unavailable


class DeploymentSpec(K8sModel):
    """`spec` of a Deployment, with Kubernetes' defaults and fleet's extensions."""

    unsupported_fields = frozenset({"rollbackTo"})

    replicas: int = Field(1, ge=0)
    # absent: the template's labels (what extensions/v1beta1 did); always set after loading
    selector: LabelSelector | None = None
    template: PodTemplateSpec
    strategy: DeploymentStrategy = DeploymentStrategy()
    min_ready_seconds: int = Field(0, ge=0)
    progress_deadline_seconds: int = Field(600, ge=1)
    revision_history_limit: int = Field(10, ge=0)
    paused: bool = False
    # fleet: services whose replicas must be ready before this Deployment starts
    depends_on: list[ServiceRef] = Field(default_factory=list)
    # fleet: at most this many replicas on one host
    max_per_host: int | None = Field(None, ge=1)
    # fleet: spread replicas over hosts, or pack them onto as few hosts as fit
    placement: Literal["spread", "binpack"] = "spread"
    topology_spread_constraints: list[TopologySpreadConstraint] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> DeploymentSpec:
        if self.progress_deadline_seconds <= self.min_ready_seconds:
            raise FieldError(
                f"must be greater than minReadySeconds ({self.min_ready_seconds})",
                "progressDeadlineSeconds",
            )
        labels = self.template.metadata.labels
        if self.selector is None:
            if not labels:
                raise FieldError(
                    "the pod template needs labels (or give spec.selector): Services and the "
                    "selector find replicas by them",
                    "template",
                    "metadata",
                    "labels",
                )
            object.__setattr__(self, "selector", LabelSelector(match_labels=dict(labels)))
        elif self.selector.is_empty():
            raise FieldError("the selector must not be empty", "selector")
        elif not self.selector.matches(labels):
            raise FieldError(
                "selector does not match the template labels "
                f"({','.join(f'{k}={v}' for k, v in labels.items()) or 'none'})",
                "selector",
            )
        canary = self.strategy.canary
        if canary is not None and canary.replicas > self.replicas:
            raise FieldError(
                f"canary replicas ({canary.replicas}) exceed replicas ({self.replicas})",
                "strategy",
                "canary",
                "replicas",
            )
        for i, name in enumerate(self.depends_on):
            if name in self.depends_on[:i]:
                raise FieldError(f"{name!r} appears twice", "dependsOn", i)
        moved = self.template.spec.topology_spread_constraints
        if moved:  # Kubernetes keeps them in the pod spec; fleet has them on the Deployment
            pod = self.template.spec.model_copy(update={"topology_spread_constraints": []})
            template = self.template.model_copy(update={"spec": pod})
            object.__setattr__(self, "template", template)
            object.__setattr__(
                self, "topology_spread_constraints", [*self.topology_spread_constraints, *moved]
            )
        return self

    @property
    def match_labels(self) -> dict[str, str]:
        """The selector's matchLabels (the template labels when none was written)."""
        return self.selector.match_labels if self.selector else dict(self.template.metadata.labels)


ApiVersion = Literal["apps/v1", "extensions/v1beta1", "apps/v1beta1", "apps/v1beta2"]


class Deployment(TopLevel):
    """`kind: Deployment`: replicas of a pod template, rolled out by a strategy."""

    api_version: ApiVersion = "apps/v1"
    kind: Literal["Deployment"] = "Deployment"
    metadata: ObjectMeta
    spec: DeploymentSpec

    @property
    def containers(self) -> list[Container]:
        return self.spec.template.spec.containers

    @property
    def main_container(self) -> Container:
        """The first container; the others are sidecars in its network namespace."""
        return self.spec.template.spec.containers[0]

    @property
    def labels(self) -> dict[str, str]:
        """The pod template's labels (what Services select)."""
        return self.spec.template.metadata.labels


class ScaleTargetRef(K8sModel):
    """What an autoscaler scales: a Deployment of the same application."""

    api_version: str = "apps/v1"
    kind: Literal["Deployment"]
    name: DNSLabel


class HPASpec(K8sModel):
    """`spec` of a HorizontalPodAutoscaler (autoscaling/v1)."""

    scale_target_ref: ScaleTargetRef
    min_replicas: int = Field(1, ge=1)
    max_replicas: int = Field(ge=1)
    target_cpu_utilization_percentage: int = Field(80, ge=1, alias="targetCPUUtilizationPercentage")

    @model_validator(mode="after")
    def _range(self) -> HPASpec:
        if self.max_replicas < self.min_replicas:
            raise FieldError(
                f"maxReplicas ({self.max_replicas}) is less than minReplicas ({self.min_replicas})",
                "maxReplicas",
            )
        return self


class HorizontalPodAutoscaler(TopLevel):
    """`kind: HorizontalPodAutoscaler` (autoscaling/v1): replicas follow CPU use."""

    api_version: Literal["autoscaling/v1"] = "autoscaling/v1"
    kind: Literal["HorizontalPodAutoscaler"] = "HorizontalPodAutoscaler"
    metadata: ObjectMeta
    spec: HPASpec


AnyObject = Deployment | Service | HorizontalPodAutoscaler | Secret
KIND_ORDER = ("Secret", "Deployment", "Service", "HorizontalPodAutoscaler")


class Blueprint:
    """A loaded set of blueprint objects, with where each came from.

    Names are unique per kind across all loaded files. A Service selects the
    replicas of Deployments of its own application (as a Kubernetes Service
    selects pods of its namespace).
    """

    def __init__(self) -> None:
        self.deployments: dict[str, Deployment] = {}
        self.services: dict[str, Service] = {}
        self.autoscalers: dict[str, HorizontalPodAutoscaler] = {}
        self.secrets: dict[str, Secret] = {}
        self.warnings: list[str] = []
        self._sources: dict[tuple[str, str], Location] = {}
        self._documents: dict[tuple[str, str], Document] = {}
        self._index: _SelectorIndex | None = None

    def _table(self, kind: str) -> dict[str, Any]:
        tables: dict[str, dict[str, Any]] = {
            "Deployment": self.deployments,
            "Service": self.services,
            "HorizontalPodAutoscaler": self.autoscalers,
            "Secret": self.secrets,
        }
        return tables[kind]

    def add(self, obj: AnyObject, where: Location, document: Document | None = None) -> None:
        """Add an object (the loader checks names for duplicates first)."""
        self._table(obj.kind)[obj.name] = obj
        self._sources[(obj.kind, obj.name)] = where
        if document is not None:
            self._documents[(obj.kind, obj.name)] = document

    def get(self, kind: str, name: str) -> AnyObject | None:
        found: AnyObject | None = self._table(kind).get(name)
        return found

    @property
    def apps(self) -> set[str]:
        """The applications of all loaded objects."""
        return {obj.app for obj in self.objects()}

    def objects(self) -> Iterator[AnyObject]:
        """Every object, in a stable order: by kind (secrets first), then by name."""
        for kind in KIND_ORDER:
            table = self._table(kind)
            for name in sorted(table):
                yield table[name]

    def source(self, obj: AnyObject) -> Location:
        """File and line where an object was defined (for messages)."""
        return self._sources.get((obj.kind, obj.name), Location("<python>"))

    def locate(self, obj: AnyObject, *path: str | int) -> Location:
        """File, line and field path of a field of an object, like
        `locate(dep, "spec", "replicas")` -> blueprints/web.yaml:7 spec.replicas."""
        document = self._documents.get((obj.kind, obj.name))
        if document is None:
            where = self.source(obj)
            return Location(where.file, where.line, format_path(path))
        return document.locate(path)

    def services_for(self, deployment: Deployment) -> list[Service]:
        """Services whose selector matches the deployment's pod labels (same app only)."""
        index = self._selector_index()
        app = index.app_of(deployment)
        found: dict[str, Service] = {}
        for pair in deployment.labels.items():
            for service in index.services.get((app, *pair), []):
                if service.selects(deployment.labels):
                    found[service.name] = service
        return [found[name] for name in sorted(found)]

    def deployments_for(self, service: Service) -> list[Deployment]:
        """Deployments whose replicas are endpoints of a Service (same app only)."""
        index = self._selector_index()
        app = index.app_of(service)
        candidates = [
            index.deployments.get((app, *pair), []) for pair in service.spec.selector.items()
        ]
        if not candidates:
            return []
        return [d for d in min(candidates, key=len) if service.selects(d.labels)]

    def _selector_index(self) -> _SelectorIndex:
        # rebuilt when the tables changed (callers may assign to them directly)
        key = (tuple(map(id, self.deployments.values())), tuple(map(id, self.services.values())))
        if self._index is None or self._index.key != key:
            self._index = _SelectorIndex(key, self.deployments, self.services)
        return self._index

    def deployment_for(self, service: Service) -> Deployment | None:
        """The Deployment behind a Service (the first by name if several match)."""
        found = self.deployments_for(service)
        return found[0] if found else None

    def deployment_of(self, container: Container) -> Deployment:
        """The Deployment a container object belongs to."""
        for deployment in self.deployments.values():
            if any(c is container for c in deployment.containers):
                return deployment
        for deployment in self.deployments.values():
            if container in deployment.containers:
                return deployment
        raise KeyError(f"container {container.name!r} is not part of this blueprint")

    def autoscaler_for(self, deployment: Deployment) -> HorizontalPodAutoscaler | None:
        for name in sorted(self.autoscalers):
            hpa = self.autoscalers[name]
            if hpa.spec.scale_target_ref.name == deployment.name and hpa.app == deployment.app:
                return hpa
        return None

    def revision(self, deployment: Deployment) -> str:
        """pod_spec_digest including the current values of its secrets (reads them)."""
        from fleet.spec.digest import pod_spec_digest

        return pod_spec_digest(deployment, self)

    def select_apps(self, apps: set[str]) -> Blueprint:
        """A Blueprint with only the objects of these applications."""
        chosen = Blueprint()
        chosen.warnings = list(self.warnings)
        for obj in self.objects():
            if obj.app in apps:
                chosen.add(obj, self.source(obj), self._documents.get((obj.kind, obj.name)))
        return chosen

    @staticmethod
    def _sorted(table: dict[str, Any]) -> list[Any]:
        return [table[name] for name in sorted(table)]


class _SelectorIndex:
    """Deployments by (app, label, value) and Services by (app, selector label, value), so
    matching is not a scan of everything (blueprints with 1,000s of objects)."""

    def __init__(
        self,
        key: tuple[tuple[int, ...], tuple[int, ...]],
        deployments: dict[str, Deployment],
        services: dict[str, Service],
    ) -> None:
        self.key = key
        self.apps: dict[int, str] = {}
        self.deployments: dict[tuple[str, str, str], list[Deployment]] = {}
        self.services: dict[tuple[str, str, str], list[Service]] = {}
        for name in sorted(deployments):
            dep = deployments[name]
            app = self.apps.setdefault(id(dep), dep.app)
            for pair in dep.labels.items():
                self.deployments.setdefault((app, *pair), []).append(dep)
        for name in sorted(services):
            svc = services[name]
            app = self.apps.setdefault(id(svc), svc.app)
            for pair in svc.spec.selector.items():
                self.services.setdefault((app, *pair), []).append(svc)

    def app_of(self, obj: TopLevel) -> str:
        return self.apps.get(id(obj)) or obj.app
