"""Shared inputs for the load-balancer unit tests: the demo blueprint and a small cluster."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fleet.lb.model import LbService
from fleet.lb.services import lb_services
from fleet.model import ActualPod, ClusterState, DesiredService, PodHealth
from fleet.probe.machine import health_key
from fleet.spec.blueprint import Blueprint
from fleet.spec.loader import load_blueprints
from tests.unit.factories import cluster, host, pod

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = Path(__file__).parent / "golden"


def demo_blueprint() -> Blueprint:
    return load_blueprints([ROOT / "blueprints" / "demo.yaml"])


def demo_services(desired: tuple[DesiredService, ...] = ()) -> list[LbService]:
    return lb_services(demo_blueprint(), desired)


def web(host_name: str, slot: int, revision: str = "3f9a1c2b7e", port: int = 32768,
        canary: bool = False, service: str = "web") -> ActualPod:
    return replace(
        pod(host_name, service, slot, revision, canary=canary),
        ports=((8080, port),),
        ip="172.17.0.2",
    )


def demo_cluster() -> tuple[ClusterState, dict[str, PodHealth]]:
    """web-0 and web-1 ready, web-2 not ready; kv-0 ready; api has no replica."""
    pods = {
        "node1": (web("node1", 0, port=32770),),
        "node2": (web("node2", 1, port=32768), web("node2", 0, "aaaaaaaaaa", 32771,
                                                    service="kv")),
        "node3": (web("node3", 2, port=32769),),
    }
    state = cluster(*(host(name, pods=pods[name]) for name in ("node1", "node2", "node3")))
    health = {
        health_key(p): PodHealth(ready=p.slot != 2 or p.service != "web")
        for h in state.hosts.values() for p in h.pods
    }
    return state, health
