"""Property tests (hypothesis) on the planner: convergence, safety, determinism."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.model import (
    ActionKind,
    ActualContainer,
    ActualPod,
    ClusterState,
    ContainerState,
    PodHealth,
    Resources,
    Strategy,
)
from fleet.plan import PlanInput, plan, step
from tests.unit.factories import GiB, host, service

HOST_NAMES = ["node1", "node2", "node3", "node4"]


@st.composite
def scenarios(draw):
    n_hosts = draw(st.integers(1, 4))
    names = HOST_NAMES[:n_hosts]
    services = []
    for idx in range(draw(st.integers(1, 2))):
        services.append(
            service(
                f"svc{idx}",
                replicas=draw(st.integers(0, 4)),
                revision="r2",
                strategy=draw(st.sampled_from([Strategy.rolling, Strategy.recreate])),
                max_surge=draw(st.integers(0, 2)),
                max_unavailable=draw(st.integers(0, 2)),
                requests=Resources(10, 2**20),
            )
        )
    pods = []
    health = {}
    for _ in range(draw(st.integers(0, 8))):
        svc_name = draw(st.sampled_from([s.name for s in services] + ["gone"]))
        p = ActualPod(
            host=draw(st.sampled_from(names)),
            app="demo",
            service=svc_name,
            slot=draw(st.integers(0, 5)),
            revision=draw(st.sampled_from(["r1", "r2"])),
            containers=(
                ActualContainer(
                    "c",
                    "main",
                    draw(st.sampled_from([ContainerState.running, ContainerState.exited])),
                ),
            ),
            requests=Resources(10, 2**20),
            created_at=draw(st.integers(0, 100)),
        )
        if any(q.name == p.name and q.host == p.host for q in pods):
            continue  # one container name per host
        pods.append(p)
        health[p.key] = PodHealth(ready=draw(st.booleans()), ready_since=0.0)
    hosts = {
        n: host(n, cpu=64000, memory=64 * GiB, pods=tuple(p for p in pods if p.host == n))
        for n in names
    }
    return PlanInput(
        services=tuple(services),
        apps=frozenset({"demo"}),
        cluster=ClusterState(hosts=hosts),
        health=health,
        now=1000.0,
    )


def execute(inp: PlanInput, actions) -> PlanInput:
    """What a perfect executor does: run wave 1, then every pod ends up running and ready."""
    hosts = {n: list(h.pods) for n, h in inp.cluster.hosts.items()}
    for action in actions:
        pods = hosts[action.host]
        if action.kind is ActionKind.remove:
            pods[:] = [p for p in pods if p.key != action.key]
        elif action.kind is ActionKind.create:
            pods.append(
                ActualPod(
                    host=action.host,
                    app=action.app,
                    service=action.service,
                    slot=action.slot,
                    revision=action.revision,
                    canary=action.canary,
                    containers=(ActualContainer(action.pod, "main", ContainerState.running),),
                    requests=Resources(10, 2**20),
                    created_at=inp.now,
                )
            )
    ready = {}
    for n, pods in hosts.items():
        hosts[n] = [
            replace(
                p, containers=tuple(replace(c, state=ContainerState.running) for c in p.containers)
            )
            for p in pods
        ]
        ready.update({p.key: PodHealth(ready=True, ready_since=0.0) for p in pods})
    cluster = ClusterState(
        hosts={n: replace(h, pods=tuple(hosts[n])) for n, h in inp.cluster.hosts.items()}
    )
    return replace(inp, cluster=cluster, health=ready, now=inp.now + 10)


def converged(inp: PlanInput) -> bool:
    pods = inp.cluster.pods()
    for s in inp.services:
        mine = [p for p in pods if p.service == s.name]
        if sorted(p.slot for p in mine) != list(range(s.replicas)):
            return False
        if any(p.revision != s.revision for p in mine):
            return False
    return all(p.service in {s.name for s in inp.services} for p in pods)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_any_state_converges_in_bounded_steps(inp):
    bound = 3 * sum(s.replicas for s in inp.services) + len(inp.cluster.pods()) + 6
    for _ in range(bound):
        actions = step(inp).actions
        if not actions:
            # a plan that waits (for a pod to become ready) goes on once time has passed
            inp = execute(inp, [])
            actions = step(inp).actions
            if not actions:
                break
        inp = execute(inp, actions)
    assert step(inp).empty
    assert converged(inp)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_a_rollout_never_removes_the_last_ready_replica(inp):
    for _ in range(30):
        actions = step(inp).actions
        if not actions:
            return
        removed = {(a.host, a.key) for a in actions if a.kind is ActionKind.remove}
        for s in inp.services:
            if s.strategy is not Strategy.rolling or s.replicas == 0:
                continue
            ready = [
                p
                for p in inp.cluster.pods()
                if p.service == s.name and p.running and inp.health[p.key].ready
            ]
            if ready:
                assert any((p.host, p.key) not in removed for p in ready), s.name
        inp = execute(inp, actions)


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_plans_are_deterministic(inp):
    shuffled = replace(
        inp,
        cluster=ClusterState(hosts=dict(reversed(list(inp.cluster.hosts.items())))),
        services=tuple(reversed(inp.services)),
    )
    assert plan(inp) == plan(shuffled)


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_no_two_pods_with_one_name_on_a_host(inp):
    for _ in range(20):
        actions = step(inp).actions
        if not actions:
            return
        inp = execute(inp, actions)
        for h in inp.cluster.hosts.values():
            counts = Counter(p.name for p in h.pods)
            assert max(counts.values(), default=0) <= 1
