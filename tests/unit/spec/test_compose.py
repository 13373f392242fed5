"""Compose files as blueprints."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import SpecErrors
from fleet.spec.compose_values import compose_bytes, compose_seconds
from tests.unit.spec.helpers import ROOT, load_text

COMPOSE = """\
name: shop
services:
  web:
    image: lab/web:1
    entrypoint: /app/web --verbose
    command: ["--port", "8080"]
    ports: ["8090:8080", "9000"]
    environment:
      - MODE=prod
      - TOKEN
    depends_on:
      db: {condition: service_healthy}
    healthcheck:
      test: ["CMD-SHELL", "nc -z 127.0.0.1 8080"]
      interval: 1m30s
      timeout: 500ms
      retries: 5
      start_period: 10s
    deploy:
      replicas: 3
      resources:
        limits: {cpus: "0.5", memory: 512M}
        reservations: {cpus: "0.25", memory: 256m}
      update_config: {parallelism: 2, order: stop-first, monitor: 5s, delay: 10s}
      placement:
        constraints: ["node.labels.disk == ssd"]
        max_replicas_per_node: 1
      restart_policy: {condition: on-failure}
    stop_grace_period: 20s
    labels: {com.example.description: "The web front"}
    restart: "no"
    networks: [front]
  db:
    image: lab/kv:1
    expose: [7070]
    volumes:
      - data:/data
      - /srv/conf:/etc/conf:ro
      - /scratch
      - {type: tmpfs, target: /run/cache}
volumes:
  data: {}
networks:
  front: {}
"""


def test_units() -> None:
    assert compose_bytes("512M") == 512 * 2**20 and compose_bytes("1g") == 2**30
    assert compose_bytes(1024) == 1024 and compose_bytes("64kb") == 64 * 1024
    assert compose_seconds("1m30s") == 90 and compose_seconds("500ms") == 0.5
    assert compose_seconds(10) == 10


def test_everything_maps(tmp_path: Path) -> None:
    bp = load_text(tmp_path, COMPOSE, name="docker-compose.yml", environ={"TOKEN": "x"})
    assert bp.apps == {"shop"}
    web = bp.deployments["web"]
    main = web.main_container
    assert web.spec.replicas == 3
    assert main.command == ["/app/web", "--verbose"] and main.args == ["--port", "8080"]
    assert [(e.name, e.value) for e in main.env] == [("MODE", "prod"), ("TOKEN", None)]
    assert main.env[1].value_from is not None and main.env[1].value_from.env == "TOKEN"
    assert [p.container_port for p in main.ports] == [8080, 9000]
    probe = main.liveness_probe
    assert probe is not None and probe.exec is not None
    assert probe.exec.command == ["/bin/sh", "-c", "nc -z 127.0.0.1 8080"]
    assert (
        probe.period_seconds,
        probe.timeout_seconds,
        probe.failure_threshold,
        probe.initial_delay_seconds,
    ) == (90, 1, 5, 10)
    assert main.resources.limits.cpu == 500 and main.resources.limits.memory == 512 * 2**20
    assert main.resources.requests.cpu == 250 and main.resources.requests.memory == 2**28
    assert web.spec.strategy.rolling_update.max_surge == 0
    assert web.spec.strategy.rolling_update.max_unavailable == 2
    assert web.spec.min_ready_seconds == 5
    assert web.spec.template.spec.node_selector == {"disk": "ssd"}
    assert web.spec.max_per_host == 1 and web.spec.depends_on == ["db"]
    assert web.spec.template.spec.termination_grace_period_seconds == 20
    assert web.meta.annotations == {"com.example.description": "The web front"}
    svc = bp.services["web"]
    assert svc.spec.type == "NodePort"
    assert [(p.port, p.target_port) for p in svc.spec.ports] == [(8090, 8080), (9000, 9000)]
    db = bp.deployments["db"]
    kinds = [(v.name, v.kind) for v in db.spec.template.spec.volumes]
    assert kinds == [
        ("data", "persistent"),
        ("host-1", "hostPath"),
        ("scratch-2", "emptyDir"),
        ("scratch-3", "emptyDir"),
    ]
    assert db.main_container.volume_mounts[1].read_only is True
    assert bp.services["db"].spec.type == "ClusterIP"
    warned = "\n".join(bp.warnings)
    for word in ("networks", "restart 'no'", "condition 'on-failure'", "update_config.delay"):
        assert word in warned


def test_warnings_and_errors_point_into_the_compose_file(tmp_path: Path) -> None:
    bp = load_text(tmp_path, COMPOSE, name="shop.yaml", environ={"TOKEN": "x"})
    (networks,) = [w for w in bp.warnings if "services.web.networks" in w]
    assert networks.startswith(f"{tmp_path / 'shop.yaml'}:32 services.web.networks")
    broken = COMPOSE.replace("replicas: 3", "replicas: three")
    with pytest.raises(SpecErrors) as caught:
        load_text(tmp_path, broken, name="shop.yaml", environ={"TOKEN": "x"})
    (error,) = caught.value.errors
    assert str(error).startswith(f"{tmp_path / 'shop.yaml'}:20 services.web.deploy.replicas:")


def test_names_become_dns_labels(tmp_path: Path) -> None:
    text = "services:\n  my_app:\n    image: lab/web:1\n    ports: ['8080']\n"
    bp = load_text(tmp_path, text, name="compose.yaml")
    assert set(bp.deployments) == {"my-app"} and set(bp.services) == {"my-app"}
    assert bp.apps == {tmp_path.name.lower().replace("_", "-")}  # compose.yaml: the folder


def test_the_example_converts(tmp_path: Path) -> None:
    from fleet.spec.loader import load_blueprints

    bp = load_blueprints([ROOT / "blueprints" / "shop-compose.yaml"])
    assert bp.apps == {"shop"} and bp.warnings == []
    assert bp.deployments["storefront"].spec.depends_on == ["stock"]
