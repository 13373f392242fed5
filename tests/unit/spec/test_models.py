"""Model behaviour: defaults, filled values, helpers (Python construction and YAML)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from fleet.spec.blueprint import (
    Container,
    Deployment,
    DeploymentSpec,
    DeploymentStrategy,
    LabelSelector,
    Probe,
    ResourceRequirements,
    Resources,
    Service,
    Volume,
)


def yaml_model(cls: Any, data: dict[str, Any]) -> Any:
    return cls.model_validate(data, by_alias=True, by_name=False, context={"yaml": True})


def deployment(**spec: Any) -> Deployment:
    data = {
        "metadata": {"name": "web"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "lab/web:1",
                            "ports": [{"containerPort": 8080, "name": "http"}],
                        }
                    ]
                },
            },
            **spec,
        },
    }
    return yaml_model(Deployment, data)


def test_kubernetes_defaults() -> None:
    dep = deployment()
    assert dep.api_version == "apps/v1" and dep.spec.replicas == 1
    assert dep.spec.min_ready_seconds == 0 and dep.spec.progress_deadline_seconds == 600
    assert dep.spec.revision_history_limit == 10 and dep.spec.paused is False
    assert dep.spec.strategy.type == "RollingUpdate"
    assert dep.spec.strategy.rolling_update.max_surge == "25%"
    assert dep.spec.template.spec.termination_grace_period_seconds == 30
    assert dep.spec.placement == "spread" and dep.spec.max_per_host is None
    assert dep.name == "web" and dep.app == "default"
    assert dep.main_container.name == "web" and dep.labels == {"app": "web"}


def test_selector_defaults_to_template_labels() -> None:
    dep = deployment()
    assert dep.spec.selector == LabelSelector(match_labels={"app": "web"})
    assert dep.spec.match_labels == {"app": "web"}


def test_match_expressions() -> None:
    dep = deployment(
        selector={
            "matchExpressions": [
                {"key": "app", "operator": "In", "values": ["web", "api"]},
                {"key": "tier", "operator": "DoesNotExist"},
            ]
        }
    )
    assert dep.spec.selector is not None and dep.spec.selector.matches({"app": "web"})
    with pytest.raises(ValidationError, match="does not match the template labels"):
        deployment(
            selector={"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}
        )
    with pytest.raises(ValidationError, match="needs at least one value"):
        deployment(selector={"matchExpressions": [{"key": "app", "operator": "In"}]})


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        ("25%", "25%", 10, (3, 2)),
        ("25%", "25%", 1, (1, 0)),
        (1, 0, 3, (1, 0)),
        ("0%", "10%", 5, (0, 1)),  # both round to 0: unavailable becomes 1, as Kubernetes does
        ("50%", 0, 3, (2, 0)),
        (0, "100%", 4, (0, 4)),
    ],
)
def test_surge_and_unavailable_rounding(
    surge: int | str, unavailable: int | str, replicas: int, expected: tuple[int, int]
) -> None:
    strategy = yaml_model(
        DeploymentStrategy, {"rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    )
    assert strategy.resolve_surge_unavailable(replicas) == expected


def test_recreate_and_canary() -> None:
    assert yaml_model(DeploymentStrategy, {"type": "Recreate"}).resolve_surge_unavailable(3) == (
        0,
        3,
    )
    canary = yaml_model(DeploymentStrategy, {"type": "Canary"})
    assert canary.canary is not None and canary.canary.replicas == 1
    assert canary.canary.effective_weight(4) == 25
    weighted = yaml_model(DeploymentStrategy, {"type": "Canary", "canary": {"weight": 10}})
    assert weighted.canary is not None and weighted.canary.effective_weight(4) == 10


def test_requests_default_to_limits() -> None:
    res = yaml_model(
        ResourceRequirements,
        {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}},
    )
    assert res.requests == Resources(cpu=100, memory=128 * 2**20)


def test_cpu_int_means_cores_in_yaml_and_millicores_in_python() -> None:
    assert yaml_model(Resources, {"cpu": 2}).cpu == 2000
    assert Resources(cpu=250).cpu == 250
    assert Resources(cpu="250m").cpu == 250  # type: ignore[arg-type]
    assert Resources(memory="64Mi").memory == 64 * 2**20  # type: ignore[arg-type]
    dumped = Resources(cpu=250, memory=2**20).model_dump(mode="json")
    assert dumped == {"cpu": "250m", "memory": "1Mi"}


def test_models_are_frozen_and_strict() -> None:
    dep = deployment()
    with pytest.raises(ValidationError):
        dep.spec.replicas = 4  # type: ignore[misc]
    with pytest.raises(ValidationError, match="valid integer"):
        yaml_model(Probe, {"exec": {"command": ["true"]}, "periodSeconds": "10"})


def test_python_names_and_yaml_names() -> None:
    container = Container(name="web", image="lab/web:1", ports=[{"container_port": 80}])  # type: ignore[list-item]
    assert container.ports[0].container_port == 80
    with pytest.raises(ValidationError, match="container_port"):
        yaml_model(Container, {"name": "web", "image": "x", "ports": [{"container_port": 80}]})


def test_probe_defaults_and_port() -> None:
    probe = yaml_model(Probe, {"httpGet": {"port": "http"}})
    assert (
        probe.initial_delay_seconds,
        probe.period_seconds,
        probe.timeout_seconds,
        probe.success_threshold,
        probe.failure_threshold,
    ) == (0, 10, 1, 1, 3)
    assert probe.http_get is not None and probe.http_get.path == "/"
    assert probe.port == "http" and probe.handler_field == "httpGet"
    dep = deployment()
    assert dep.main_container.port_number("http") == 8080
    assert dep.spec.template.spec.resolve_port("http") == 8080
    assert dep.spec.template.spec.resolve_port(9090) is None


def test_volume_kinds() -> None:
    assert yaml_model(Volume, {"name": "data", "persistent": {}}).claim_name == "data"
    pvc = yaml_model(Volume, {"name": "data", "persistentVolumeClaim": {"claimName": "kv"}})
    assert (pvc.kind, pvc.claim_name) == ("persistent", "kv")
    assert yaml_model(Volume, {"name": "tmp", "emptyDir": {}}).kind == "emptyDir"
    host = yaml_model(Volume, {"name": "logs", "hostPath": {"path": "/var/log"}})
    assert (host.kind, host.claim_name) == ("hostPath", None)
    with pytest.raises(ValidationError, match="not allowed"):
        yaml_model(Volume, {"name": "x", "hostPath": {"path": "/a/../etc"}})


def test_topology_constraints_move_to_the_deployment() -> None:
    constraint = {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone"}
    dep = yaml_model(
        Deployment,
        {
            "metadata": {"name": "web"},
            "spec": {
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [{"name": "web", "image": "lab/web:1"}],
                        "topologySpreadConstraints": [constraint],
                    },
                }
            },
        },
    )
    assert dep.spec.template.spec.topology_spread_constraints == []
    assert dep.spec.topology_spread_constraints[0].topology_key == "topology.kubernetes.io/zone"
    assert dep.spec.topology_spread_constraints[0].when_unsatisfiable == "DoNotSchedule"


def test_service_defaults() -> None:
    svc = yaml_model(
        Service,
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
    )
    assert svc.spec.type == "ClusterIP"
    port = svc.spec.ports[0]
    assert (port.target_port, port.protocol, port.node_port) == (80, "TCP", None)
    assert svc.listen_ports() == [(port, 80)]
    assert svc.selects({"app": "web", "x": "y"}) and not svc.selects({"app": "api"})
    node = yaml_model(
        Service,
        {
            "metadata": {"name": "web"},
            "spec": {
                "type": "NodePort",
                "selector": {"app": "web"},
                "ports": [{"port": 80, "nodePort": 30080}],
            },
        },
    )
    assert node.listen_ports()[0][1] == 30080


def test_deployment_spec_extensions() -> None:
    spec = yaml_model(
        DeploymentSpec,
        {
            "replicas": 2,
            "dependsOn": ["kv"],
            "maxPerHost": 1,
            "placement": "binpack",
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "lab/web:1"}]},
            },
        },
    )
    assert (spec.depends_on, spec.max_per_host, spec.placement) == (["kv"], 1, "binpack")
