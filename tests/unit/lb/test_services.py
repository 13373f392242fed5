"""Blueprint Services -> LbService (fleet.lb.services): ports, modes, checks, canary."""

from __future__ import annotations

from pathlib import Path

from fleet.lb.model import HealthCheck
from fleet.lb.services import lb_services
from fleet.spec.loader import load_blueprints
from tests.unit.factories import service
from tests.unit.lb.cases import ROOT, demo_services

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: main
          image: lab/web:1
          ports: {ports}
{probe}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: {service_type}
  selector: {{app: {name}}}
  ports: {service_ports}
"""


def load(tmp_path: Path, **fields: str) -> list:
    text = DEPLOYMENT.format(**{"probe": "", "service_type": "ClusterIP", **fields})
    path = tmp_path / "shop.yaml"
    path.write_text(text)
    return lb_services(load_blueprints([path]))


def test_demo_services() -> None:
    services = {s.section: s for s in demo_services()}
    assert list(services) == ["demo.kv.7070", "demo.web.8080", "demo.api.8081"]
    web = services["demo.web.8080"]
    assert (web.mode, web.port_name, web.grace_seconds) == ("http", "http", 5.0)
    (backend,) = web.backends
    assert (backend.deployment, backend.target_port, backend.canary_weight) == ("web", 8080, None)
    assert backend.check == HealthCheck("http", "/readyz", interval=2, timeout=1, rise=1, fall=2)
    # kv: unnamed port 7070 -> 8080, the container names 8080 "http"
    assert services["demo.kv.7070"].mode == "http"


def test_zwitscher_nodeport_listens_on_8080() -> None:
    (zw,) = lb_services(load_blueprints([ROOT / "blueprints" / "zwitscher.yaml"]))
    assert (zw.section, zw.mode) == ("zwitscher.zwitscher-service.8080", "http")
    assert zw.backends[0].check == HealthCheck("http", "/admin/info", timeout=5)


def test_node_port_wins_and_tcp_names_stay_tcp(tmp_path: Path) -> None:
    (svc,) = load(
        tmp_path, name="db", ports="[{name: tcp-pg, containerPort: 5432}]",
        service_ports="[{port: 5432, nodePort: 30432}]", service_type="NodePort",
        probe="          readinessProbe: {httpGet: {path: /, port: 5432}}",
    )  # fmt: skip
    assert svc.listen_port == 30432
    assert svc.mode == "tcp"  # the container port is named tcp-*


def test_exec_and_missing_probe_give_connect_checks(tmp_path: Path) -> None:
    (svc,) = load(
        tmp_path, name="q", ports="[{containerPort: 6379}]",
        service_ports="[{port: 6379}]",
        probe="          readinessProbe: {exec: {command: ['true']}, periodSeconds: 4}",
    )  # fmt: skip
    assert svc.mode == "tcp"
    assert svc.backends[0].check == HealthCheck("tcp", interval=4)
    (plain,) = load(tmp_path, name="q", ports="[{containerPort: 6379}]",
                    service_ports="[{port: 6379}]")
    assert plain.backends[0].check == HealthCheck()


def test_probe_on_another_port_checks_that_port(tmp_path: Path) -> None:
    (svc,) = load(
        tmp_path, name="app", ports="[{name: web, containerPort: 8080}, {name: admin, "
        "containerPort: 9090}]", service_ports="[{port: 80, targetPort: web}]",
        probe="          readinessProbe: {httpGet: {path: /ready, port: admin}}",
    )  # fmt: skip
    backend = svc.backends[0]
    assert backend.target_port == 8080 and backend.check is not None
    assert backend.check.port == 9090
    assert svc.mode == "http"  # the port is named web


def test_canary_weight_only_while_a_canary_is_out() -> None:
    blueprint_services = demo_services(
        (service("web", revision="new", stable_revision="old", canary_weight=20),)
    )
    web = next(s for s in blueprint_services if s.name == "web")
    assert web.backends[0].canary_weight == 20
    promoted = demo_services((service("web", revision="new", canary_weight=20),))
    assert next(s for s in promoted if s.name == "web").backends[0].canary_weight is None
