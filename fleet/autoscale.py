"""HorizontalPodAutoscaler: replicas follow CPU use, measured with `docker stats`.

Kubernetes' rule: desired = ceil(current x utilisation / target), within
[minReplicas, maxReplicas], no change within a 10 % tolerance. Utilisation is
the replicas' mean CPU use as a percentage of their CPU request. Scaling up
happens at once; scaling down takes the highest recommendation of the last
`window` seconds (the stabilisation window, 300 s by default like Kubernetes),
so a short dip does not remove replicas that are needed a minute later.

The chosen count lives in the journal (scope `autoscale`), where `fleet plan`,
`status` and the planner read it; the blueprint file keeps its own count.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleet.desired import pod_requests
from fleet.errors import FleetError
from fleet.journal import Journal
from fleet.model import ClusterState
from fleet.remote.engine import Engine
from fleet.spec.blueprint import Blueprint, Deployment, HPASpec

TOLERANCE = 0.1
DEFAULT_WINDOW = 300.0


@dataclass(frozen=True)
class Decision:
    service: str
    current: int
    utilization: float | None  # percent of request, None when not measurable
    target: int
    recommended: int
    replicas: int  # after stabilisation
    reason: str


def summary(record: Mapping[str, Any] | None) -> str:
    """A journal "autoscale" record as one short line ("HPA 2..6 cpu 43%/70%"), "" without one."""
    if not record:
        return ""
    return (
        f"HPA {record.get('min')}..{record.get('max')} "
        f"cpu {record.get('utilization', '?')}%/{record.get('target')}%"
    )


def recommend(current: int, utilization: float, target: int, low: int, high: int) -> int:
    """Kubernetes' formula with its 10 % tolerance, clamped to [low, high]."""
    if current <= 0:
        return max(low, 1)
    ratio = utilization / target
    wanted = current if abs(ratio - 1.0) <= TOLERANCE else math.ceil(current * ratio)
    return max(low, min(high, wanted))


def stabilize(
    history: Sequence[tuple[float, int]], now: float, window: float, proposal: int, current: int
) -> tuple[int, list[tuple[float, int]]]:
    """Up at once; down only to the highest recommendation within the window."""
    kept = [(t, n) for t, n in history if now - t <= window]
    kept.append((now, proposal))
    if proposal >= current:
        return proposal, kept
    return max(n for _, n in kept), kept


def utilization(cpu_percent: Sequence[float], request_millicores: int) -> float | None:
    """Mean CPU use of the replicas as a percentage of the pod's CPU request."""
    if not cpu_percent or request_millicores <= 0:
        return None
    used_millicores = sum(p * 10.0 for p in cpu_percent) / len(cpu_percent)
    return 100.0 * used_millicores / request_millicores


async def autoscale(
    blueprint: Blueprint,
    cluster: ClusterState,
    engine: Engine,
    journal: Journal,
    now: float,
    *,
    window: float = DEFAULT_WINDOW,
) -> list[Decision]:
    """Measure, decide and record the replica count of every autoscaled Deployment."""
    if not blueprint.autoscalers:
        return []
    hosts = sorted({p.host for h in cluster.reachable_hosts() for p in h.pods})
    stats = await asyncio.gather(*(engine.stats(h) for h in hosts), return_exceptions=True)
    cpu_by_container: dict[str, float] = {}
    for result in stats:
        if isinstance(result, FleetError):
            continue
        if isinstance(result, BaseException):
            raise result
        cpu_by_container.update({s.name: s.cpu_percent for s in result})
    decisions = []
    for hpa in blueprint.autoscalers.values():
        name = hpa.spec.scale_target_ref.name
        deployment = blueprint.deployments.get(name)
        if deployment is None:
            continue
        decisions.append(
            _decide(hpa.spec, name, deployment, cluster, cpu_by_container, journal, now, window)
        )
    return decisions


def _decide(
    spec: HPASpec,
    name: str,
    deployment: Deployment,
    cluster: ClusterState,
    cpu_by_container: Mapping[str, float],
    journal: Journal,
    now: float,
    window: float,
) -> Decision:
    record = journal.get("autoscale", name) or {}
    current = int(record.get("replicas", deployment.spec.replicas))
    current = max(spec.min_replicas, min(spec.max_replicas, current))
    pods = [
        p
        for h in cluster.reachable_hosts()
        for p in h.pods
        if p.app == deployment.app and p.service == name and p.running and not p.canary
    ]
    samples = [
        sum(cpu_by_container.get(c.name, 0.0) for c in p.containers)
        for p in pods
        if p.containers and p.containers[0].name in cpu_by_container
    ]
    target = spec.target_cpu_utilization_percentage
    used = utilization(samples, pod_requests(deployment).cpu)
    if used is None:
        reason = (
            "no CPU request to measure against"
            if pod_requests(deployment).cpu <= 0
            else "no running replica measured"
        )
        return Decision(name, current, None, target, current, current, reason)
    proposal = recommend(current, used, target, spec.min_replicas, spec.max_replicas)
    history = [(float(t), int(n)) for t, n in record.get("recommendations", [])]
    replicas, kept = stabilize(history, now, window, proposal, current)
    journal.put(
        "autoscale",
        name,
        {
            "replicas": replicas,
            "recommendations": kept,
            "utilization": round(used, 1),
            "target": target,
            "min": spec.min_replicas,
            "max": spec.max_replicas,
            "updated": now,
        },
    )
    reason = f"cpu {used:.0f}% of request (target {target}%)"
    if replicas != current:
        journal.event(
            "autoscale",
            f"{name}: {current} -> {replicas} replicas ({reason})",
            app=deployment.app,
            service=name,
        )
    return Decision(name, current, used, target, proposal, replicas, reason)
