#!/usr/bin/env python3
"""Planner + scheduler on a synthetic cluster: 1,000 hosts x 10,000 replicas (not a test).

    .venv/bin/python bench/plan.py [--hosts 1000] [--services 1000] [--replicas 10]
                                   [--reps 5] [--no-look]

Pure part (fleet.plan.plan on fleet.model types, as tests/unit/factories.py builds
them; target < 1 s each):
  from scratch   every replica to place: 10,000 creates (plan() also simulates the
                 next wave, which finds nothing left to do)
  converged      every replica running and ready where the scheduler put it: no-op
  one service    converged, one Deployment at a new revision (a typical apply)
The look() path minus I/O (`Reconciler.look` with an engine answering from memory):
  load           reading and validating the inventory (1,000 hosts) and the
                 blueprint (1,000 Deployments) from YAML (once per command)
  look, scratch  observe (decode labels into pods, snapshot each host into the
                 journal) + targets + readiness (probe state machine, no probe due)
                 + plan, hosts empty
  look, converged  the same with the 10,000 pods running
Runs are repeated (--reps) and reported as medians; the load average is printed,
since other work on the machine shares its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from factories import GiB, host  # noqa: E402

from fleet.model import (  # noqa: E402
    ActionKind,
    ActualContainer,
    ActualPod,
    ClusterState,
    ContainerState,
    DesiredService,
    PodHealth,
    Resources,
)
from fleet.plan import PlanInput, plan  # noqa: E402

NOW = 1_000_000.0


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(work: Callable[[], Any], reps: int) -> tuple[list[float], Any]:
    runs, result = [], None
    for _ in range(reps):
        started = time.perf_counter()
        result = work()
        runs.append((time.perf_counter() - started) * 1000)
    return runs, result


def report(what: str, runs: list[float], target: float | None, note: str = "") -> float:
    median = statistics.median(runs)
    verdict = "" if target is None else (
        f"  (target < {target:.0f} ms: {'ok' if median < target else 'OVER TARGET'})")
    print(f"  {what:34s} median {median:7.1f} ms  min {min(runs):7.1f}{verdict}{note}")
    return median


# -- the pure planner ---------------------------------------------------------------------


def synthetic(hosts: int, services: int, replicas: int) -> PlanInput:
    nodes = [host(f"node{i:04d}", cpu=16000, memory=64 * GiB, zone="abc"[i % 3])
             for i in range(hosts)]
    wanted = tuple(
        DesiredService(app="demo", name=f"svc{s:04d}", replicas=replicas, revision="r1",
                       requests=Resources(100, 64 * 2**20))
        for s in range(services)
    )
    return PlanInput(services=wanted, apps=frozenset({"demo"}),
                     cluster=ClusterState(hosts={h.name: h for h in nodes}), now=NOW)


def converge(inp: PlanInput, done: Any) -> PlanInput:
    """Every create of `done` running and ready on the host the scheduler chose."""
    pods: dict[str, list[ActualPod]] = {name: list(h.pods) for name, h in inp.cluster.hosts.items()}
    health = dict(inp.health)
    requests = {s.name: s.requests for s in inp.services}
    for action in done.actions:
        assert action.kind is ActionKind.create
        pod = ActualPod(
            host=action.host, app=action.app, service=action.service, slot=action.slot,
            revision=action.revision,
            containers=(ActualContainer(action.key, "main", ContainerState.running,
                                        started_at=NOW - 300),),
            requests=requests[action.service], created_at=NOW - 300,
        )
        pods[action.host].append(pod)
        health[pod.key] = PodHealth(ready=True, ready_since=NOW - 290)
    cluster = ClusterState(
        hosts={n: replace(h, pods=tuple(pods[n])) for n, h in inp.cluster.hosts.items()})
    return replace(inp, cluster=cluster, health=health, now=NOW + 10)


def pure(hosts: int, services: int, replicas: int, reps: int) -> dict[str, float]:
    total = services * replicas
    print(f"planner + scheduler, {hosts} hosts x {total} replicas "
          f"({services} services x {replicas}):")
    scratch = synthetic(hosts, services, replicas)
    runs, first = timed(lambda: plan(scratch), reps)
    placed = sum(1 for a in first.actions if a.kind is ActionKind.create)
    out = {"plan_scratch_ms": report("from scratch", runs, 1000,
                                     f"  [{placed} creates, {len(first.pending)} pending]")}
    done = converge(scratch, first)
    runs, again = timed(lambda: plan(done), reps)
    assert again.empty, f"converged cluster planned {len(again.actions)} actions"
    out["plan_converged_ms"] = report("converged (no-op)", runs, 1000)
    bumped = tuple(replace(s, revision="r2") if i == 0 else s
                   for i, s in enumerate(done.services))
    one = replace(done, services=bumped)
    runs, rolled = timed(lambda: plan(one), reps)
    waves = max((a.wave for a in rolled.actions), default=0)
    out["plan_one_service_ms"] = report(
        "one service at a new revision", runs, None,
        f"  [{len(rolled.actions)} actions in {waves} waves]")
    return out


# -- look() minus I/O -------------------------------------------------------------------------


def write_files(where: Path, hosts: int, services: int, replicas: int) -> tuple[Path, Path]:
    inventory = where / "inventory.yaml"
    lines = ["apiVersion: fleet/v1", "kind: Inventory", "name: synthetic",
             "defaults: {user: root}", "hosts:"]
    for i in range(hosts):
        lines.append(f"- {{name: node{i:04d}, address: 10.{i // 250}.{i % 250}.10, "
                     f"zone: {'abc'[i % 3]}, capacity: {{cpu: '16', memory: 64Gi}}}}")
    inventory.write_text("\n".join(lines) + "\n")
    docs = []
    for s in range(services):
        name = f"svc{s:04d}"
        docs.append(
            "apiVersion: apps/v1\nkind: Deployment\n"
            f"metadata: {{name: {name}}}\n"
            f"spec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: {name}}}}}\n"
            f"  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n"
            "      containers:\n"
            f"        - name: {name}\n          image: lab/web:1\n"
            "          ports: [{name: http, containerPort: 8080}]\n"
            "          resources: {requests: {cpu: 100m, memory: 64Mi}}\n"
            "          readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 5}\n"
        )
    blueprint = where / "synthetic.yaml"
    blueprint.write_text("---\n".join(docs))
    return inventory, blueprint


class NoPool:
    """The SSH pool's part in an observation, with nothing to connect."""

    async def connect(self, host: str) -> None:
        return None

    def reset(self, host: str) -> None:
        return None


class MemoryEngine:
    """Answers `observe` from prepared observations, as the real engine would decode them."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    async def observe(self, host: str, **_: object) -> Any:
        return self.seen[host]


def observations(inventory: Any, blueprint: Any, placed: Any | None) -> dict[str, Any]:
    """Per host what `Engine.observe` returns: facts, and the containers fleet would have
    started for the plan's creates (labels from fleet.pods, as on a real host)."""
    from fleet.pods import PodPlacement, pod_labels
    from fleet.remote.model import MANAGED_LABEL, ContainerInfo, HostFacts, HostObservation

    started = datetime.fromtimestamp(time.time() - 300, UTC)
    containers: dict[str, list[ContainerInfo]] = {name: [] for name in inventory.hosts}
    for action in placed.actions if placed is not None else ():
        where = PodPlacement(action.app, action.service, action.slot, action.revision,
                             action.host, inventory.host(action.host).address)
        deployment = blueprint.deployments[action.service]
        labels = {MANAGED_LABEL: "true", **pod_labels(where, deployment, "main")}
        containers[action.host].append(ContainerInfo(
            id=f"{len(containers[action.host]):064x}", name=action.key, image="lab/web:1",
            image_id="sha256:" + "0" * 64, labels=labels, state="running", health=None,
            exit_code=0, created_at=started, started_at=started, finished_at=None,
            restart_count=0, addresses={"bridge": "172.17.0.2"},
        ))
    facts = HostFacts(hostname="h", cpus=16, memory_bytes=64 * 2**30, engine="docker",
                      engine_version="20.10", containers_total=0)
    return {name: HostObservation(host=name, facts=facts, containers=found,
                                  unmanaged_count=0, round_trip_ms=1.0)
            for name, found in containers.items()}


async def look_path(hosts: int, services: int, replicas: int, reps: int) -> dict[str, float]:
    import fleet.probe.runner
    from fleet.health import ProbeHealth
    from fleet.journal import Journal
    from fleet.reconcile import Reconciler
    from fleet.session import Sources
    from fleet.session import load as load_files

    async def no_network(*_: object, **__: object) -> dict[str, Any]:
        return {}  # no probe answers: the state machine still runs (due, advance)

    fleet.probe.runner.run_probes = no_network  # type: ignore[assignment]
    print(f"look() minus I/O, {hosts} hosts x {services * replicas} replicas:")
    with tempfile.TemporaryDirectory(prefix="fleet-bench-plan-") as tmp:
        inventory_path, blueprint_path = write_files(Path(tmp), hosts, services, replicas)
        runs, (inventory, blueprint) = timed(
            lambda: load_files(Sources(inventory_path, (blueprint_path,))), 1)
        out = {"load_files_ms": report("load inventory + blueprint (YAML)", runs, None)}
        engine = MemoryEngine()
        journal = Journal(Path(tmp) / "journal.sqlite")
        started = time.perf_counter()
        rc = Reconciler(inventory=inventory, blueprint=blueprint, pool=NoPool(),  # type: ignore[arg-type]
                        engine=engine, journal=journal)  # type: ignore[arg-type]
        rc.health_checker = ProbeHealth(None, engine, journal)  # type: ignore[arg-type]
        out["reconciler_ms"] = report("Reconciler() (revisions of 1,000)",
                                      [(time.perf_counter() - started) * 1000], None)

        async def look_runs(what: str, key: str, expect_empty: bool) -> Any:
            runs, observed = [], None
            for _ in range(reps):
                started = time.perf_counter()
                observed = await rc.look()
                runs.append((time.perf_counter() - started) * 1000)
            assert observed is not None and observed.plan.empty == expect_empty
            out[key] = report(what, runs, None)
            return observed

        engine.seen = observations(inventory, blueprint, None)
        first = await look_runs("look, from scratch", "look_scratch_ms", False)
        rc.rollouts.record_rollouts(first)  # as apply does: each revision's pod template journaled
        engine.seen = observations(inventory, blueprint, first.plan)
        await look_runs("look, converged", "look_converged_ms", True)
        journal.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--no-look", action="store_true", help="only the pure planner")
    args = parser.parse_args()
    print(f"load {load()} on {os.cpu_count()} cores; Python {sys.version.split()[0]}")
    results = pure(args.hosts, args.services, args.replicas, args.reps)
    if not args.no_look:
        results.update(asyncio.run(look_path(args.hosts, args.services, args.replicas,
                                             max(3, args.reps // 2))))
    print(f"load {load()}")
    print({k: round(v, 1) for k, v in results.items()})


if __name__ == "__main__":
    main()
