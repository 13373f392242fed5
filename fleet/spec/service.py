"""Services: a stable name and port in front of the ready replicas of a Deployment.

Every Service gets a listener on each load-balancer host (inventory role `lb`;
with no lb host, on every host), on `nodePort` if set and else on `port`. That
holds for ClusterIP too: fleet's service discovery maps a service name to an lb
address, so a ClusterIP service is also a port on the lb hosts (HAProxy binds
it for the cluster's hosts; only NodePort/LoadBalancer are meant for outside
clients). Hence no two Services may share a listen port.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from fleet.spec.base import FieldError, K8sModel, PortName, PortNumber, check_labels, show
from fleet.spec.meta import ObjectMeta, TopLevel
from fleet.spec.pod import TargetPort

ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer"]


class ServicePort(K8sModel):
    """One port of a Service: `port` on the lb hosts to `targetPort` of the replicas."""

    unsupported_fields = frozenset({"appProtocol"})

    name: PortName | None = None
    port: PortNumber
    # a number or a container port name; defaults to `port`, as in Kubernetes
    target_port: TargetPort | None = None
    node_port: PortNumber | None = None
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"

    @model_validator(mode="after")
    def _defaults(self) -> ServicePort:
        if self.protocol != "TCP":
            raise FieldError(
                f"protocol {self.protocol} is not possible: fleet's load balancer (HAProxy) "
                "carries TCP only",
                "protocol",
            )
        if self.target_port is None:
            object.__setattr__(self, "target_port", self.port)
        return self


class ServiceSpec(K8sModel):
    """`spec` of a Service."""

    unsupported_fields = frozenset(
        {
            "clusterIP", "clusterIPs", "externalIPs", "sessionAffinity", "sessionAffinityConfig",
            "loadBalancerIP", "loadBalancerSourceRanges", "externalTrafficPolicy",
            "internalTrafficPolicy", "healthCheckNodePort", "publishNotReadyAddresses",
            "ipFamilies", "ipFamilyPolicy", "allocateLoadBalancerNodePorts", "loadBalancerClass",
            "trafficDistribution",
        }
    )  # fmt: skip

    type: ServiceType = "ClusterIP"
    selector: dict[str, str]
    ports: list[ServicePort] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _external_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") == "ExternalName":
            raise FieldError(
                "type ExternalName is not supported: fleet services front Deployments",
                "type",
            )
        if isinstance(data, dict) and "selector" not in data:
            raise FieldError(
                "a selector is required: fleet services route to the replicas of a Deployment "
                "selected by labels",
                "selector",
            )
        return data

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("the selector must name at least one label")
        return check_labels(value, "selector")

    @model_validator(mode="after")
    def _ports(self) -> ServiceSpec:
        names: set[str] = set()
        listen: dict[int, int] = {}
        for i, port in enumerate(self.ports):
            if len(self.ports) > 1 and port.name is None:
                raise FieldError(
                    "a name is required when a Service has several ports", "ports", i, "name"
                )
            if port.name is not None:
                if port.name in names:
                    raise FieldError(
                        f"port name {show(port.name)} appears twice", "ports", i, "name"
                    )
                names.add(port.name)
            if port.node_port is not None and self.type == "ClusterIP":
                raise FieldError(
                    "nodePort needs type NodePort or LoadBalancer", "ports", i, "nodePort"
                )
            number = listen_port(self.type, port)
            if number in listen:
                raise FieldError(
                    f"port {number} appears twice in this Service",
                    "ports",
                    i,
                    "nodePort" if port.node_port else "port",
                )
            listen[number] = i
        return self


def listen_port(service_type: str, port: ServicePort) -> int:
    """The port a Service port listens on on the lb hosts: nodePort if set, else port."""
    if service_type != "ClusterIP" and port.node_port is not None:
        return port.node_port
    return port.port


class Service(TopLevel):
    """`kind: Service` (v1)."""

    api_version: Literal["v1"] = "v1"
    kind: Literal["Service"] = "Service"
    metadata: ObjectMeta
    spec: ServiceSpec

    def listen_ports(self) -> list[tuple[ServicePort, int]]:
        """(port, port number on the lb hosts) for each port of the Service."""
        return [(p, listen_port(self.spec.type, p)) for p in self.spec.ports]

    def selects(self, labels: dict[str, str]) -> bool:
        """Whether pods with these labels are endpoints of this Service."""
        return all(labels.get(k) == v for k, v in self.spec.selector.items())
