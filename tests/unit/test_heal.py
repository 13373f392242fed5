"""Self-healing mechanics without hosts: what a heal pass waits for, which copy of a pod
the probes and HAProxy follow when a lost host comes back, drains, probe states of other
applications, events (back-off, waiting), unanswered hosts and the `--watch` loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fleet import heal
from fleet.desired import targets
from fleet.errors import FleetError, RemoteTimeout
from fleet.execute import ActionResult, draining
from fleet.health import choose_targets, kept_states
from fleet.journal import Journal
from fleet.lb.render import ready_pods
from fleet.model import Action, ActionKind, Bucket, ClusterState, ContainerState, Plan, PodHealth
from fleet.observed import Observed
from fleet.plan import PlanInput, plan, step
from fleet.reconcile import Reconciler, settled
from fleet.spec.documents import load_blueprints
from fleet.spec.loader import load_inventory
from tests.unit.factories import cluster, host, pod, service
from tests.unit.spec.helpers import load_text

INVENTORY = """\
apiVersion: fleet/v1
kind: Inventory
name: unit
hosts:
- {name: node1, address: 10.0.0.11}
- {name: node2, address: 10.0.0.12}
"""


WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: lab/web:1
          ports: [{containerPort: 8080}]
"""


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakePool:
    def __init__(self) -> None:
        self.resets: list[str] = []

    async def connect(self, name: str) -> None:
        return None  # an established connection (its peer may be gone)

    def reset(self, name: str) -> None:
        self.resets.append(name)


class HangingEngine:
    """observe() takes `seconds` of the clock, then times out (a host that went silent)."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock, self.seconds = clock, seconds
        self.timeouts: list[float | None] = []

    async def observe(self, name: str, *, timeout: float | None = None) -> Any:
        self.timeouts.append(timeout)
        self.clock.now += self.seconds
        raise RemoteTimeout(name, "`sh -c <script>` did not finish within 10.0 s")


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / "journal.sqlite")
    yield opened
    opened.close()


def reconciler(tmp_path: Path, journal: Journal, **kw: Any) -> Reconciler:
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    (tmp_path / "demo.yaml").write_text(WEB)
    inventory = load_inventory(tmp_path / "inventory.yaml")
    blueprint = load_blueprints([tmp_path / "demo.yaml"], inventory=inventory)
    kw.setdefault("pool", FakePool())
    kw.setdefault("engine", None)
    return Reconciler(inventory=inventory, blueprint=blueprint, journal=journal, **kw)


def observed(
    state: ClusterState, health: dict[str, PodHealth], waiting: tuple[str, ...] = ()
) -> Observed:
    return Observed(state, health, {}, {}, Plan(waiting=waiting), 1000.0)


def action(kind: ActionKind, host_name: str, slot: int = 0, revision: str = "r1") -> Action:
    return Action(kind, host_name, "demo", "web", slot, revision, Bucket.missing, "test")


# -- after the wave: wait for what was started ---------------------------------------------


def test_a_pass_is_settled_when_every_started_pod_is_ready_or_not_running():
    new = pod("node1", slot=0)
    crashed = pod("node2", slot=1, state=ContainerState.exited)
    state = cluster(host("node1", pods=(new,)), host("node2", pods=(crashed,)))
    started = {("node1", new.key), ("node2", crashed.key), ("node2", "demo.gone-0.r1")}
    assert not settled(observed(state, {new.key: PodHealth(ready=False)}), started)
    assert settled(observed(state, {new.key: PodHealth(ready=True)}), started)
    assert settled(observed(state, {}), set())


def test_settle_looks_again_until_the_started_pods_are_ready(tmp_path, journal):
    new = pod("node1", slot=0)
    state = cluster(host("node1", pods=(new,)))
    looks = iter(
        [
            observed(state, {new.key: PodHealth(ready=False)}),
            observed(state, {new.key: PodHealth(ready=False)}),
            observed(state, {new.key: PodHealth(ready=True)}),
        ]
    )
    rc = reconciler(tmp_path, journal)
    calls: list[bool] = []

    async def look(*, gate: bool = False) -> Observed:
        calls.append(gate)
        return next(looks)

    rc.look = look  # type: ignore[method-assign]
    result = ActionResult(action(ActionKind.create, "node1"), True)
    last = asyncio.run(rc._settle([result], ready_wait=30.0))
    assert last.health[new.key].ready and calls == [True, True, True]


def test_settle_gives_up_at_its_deadline_and_looks_once_after_removals(tmp_path, journal):
    clock = Clock()
    new = pod("node1", slot=0)
    rc = reconciler(tmp_path, journal, clock=clock)
    calls = 0

    async def look(*, gate: bool = False) -> Observed:
        nonlocal calls
        calls += 1
        clock.now += 1.0
        return observed(cluster(host("node1", pods=(new,))), {new.key: PodHealth(ready=False)})

    rc.look = look  # type: ignore[method-assign]
    create = ActionResult(action(ActionKind.create, "node1"), True)
    asyncio.run(rc._settle([create], ready_wait=3.0))
    assert calls == 3
    calls = 0
    remove = ActionResult(action(ActionKind.remove, "node1"), True)
    asyncio.run(rc._settle([remove], ready_wait=3.0))
    assert calls == 1  # removed pods leave HAProxy by this look; nothing to wait for


# -- a host that answers again with a copy of a rescheduled pod ----------------------------


def returned_host_copies() -> tuple[ClusterState, Any, Any]:
    old = pod("node2", slot=2, created_at=100.0)  # on the host that was gone
    new = pod("node1", slot=2, created_at=200.0)  # its replacement: same name, same key
    assert old.key == new.key
    return cluster(host("node1", pods=(new,)), host("node2", pods=(old,))), old, new


def test_probes_follow_the_copy_that_stays(tmp_path):
    state, old, new = returned_host_copies()
    blueprint = load_text(tmp_path, WEB, "demo.yaml")
    chosen = {(t.service.app, t.service.name): t for t in targets(blueprint, {"web": "r1"}, {}, {})}
    probed, others = choose_targets(state, chosen)
    assert [t.pod.host for t in probed] == ["node1"] and not others
    # a stopped copy loses to a running one, however new
    stopped = replace(
        new, containers=tuple(replace(c, state=ContainerState.exited) for c in new.containers)
    )
    state2 = cluster(host("node1", pods=(stopped,)), host("node2", pods=(old,)))
    probed, _ = choose_targets(state2, chosen)
    assert [t.pod.host for t in probed] == ["node2"]


def test_haproxy_serves_one_copy_and_nothing_on_an_unreachable_host():
    state, old, new = returned_host_copies()
    ready = {new.key: PodHealth(ready=True)}
    assert [p.host for p in ready_pods(state, ready)] == ["node1"]
    gone = cluster(host("node1", pods=(new,)), host("node2", pods=(old,), reachable=False))
    assert [p.host for p in ready_pods(gone, ready)] == ["node1"]
    # before the replacement exists, the remembered pod is not routed to either
    alone = cluster(host("node1"), host("node2", pods=(old,), reachable=False))
    assert ready_pods(alone, ready) == []


def test_removing_the_stale_copy_does_not_drain_the_one_that_stays():
    state, _old, new = returned_host_copies()
    other = pod("node1", slot=0)
    state = replace(
        state, hosts={**state.hosts, "node1": replace(state.hosts["node1"], pods=(new, other))}
    )
    remove_old = Action(ActionKind.remove, "node2", "demo", "web", 2, "r1", Bucket.extra, "dup")
    remove_other = Action(ActionKind.remove, "node1", "demo", "web", 0, "r1", Bucket.extra, "x")
    assert draining(state, [remove_old]) == set()
    assert draining(state, [remove_old, remove_other]) == {other.key}


def test_probe_states_of_other_apps_and_lost_hosts_are_kept_gone_pods_forgotten():
    mine = pod("node1", slot=0)
    theirs = pod("node1", "shop", slot=0, app="shop")
    far = pod("node2", slot=1)
    state = cluster(host("node1", pods=(mine, theirs)), host("node2", pods=(far,), reachable=False))
    stored = {mine.key: {"a": 1}, theirs.key: {"b": 2}, far.key: {"c": 3}, "demo.web-9.r1": {}}
    assert kept_states(stored, state, {mine.key}) == {theirs.key: {"b": 2}, far.key: {"c": 3}}


# -- events -------------------------------------------------------------------------------


def test_back_off_events_start_at_the_first_restart(tmp_path, journal):
    rc = reconciler(tmp_path, journal)
    restart = ActionResult(action(ActionKind.restart, "node1"), True)
    for now in (1000.0, 1011.0, 1032.0):
        rc.rollouts.note_restarts([restart], now)
    messages = [e.message for e in journal.events(kind="back-off")]
    assert [m.rsplit("before ", 1)[1] for m in messages] == ["10 s", "20 s", "40 s"]
    assert "restarted once" in messages[0]


def test_a_reason_to_wait_is_an_event_once_with_its_service(tmp_path, journal):
    rc = reconciler(tmp_path, journal)
    line = "web-0: its volume lives on unreachable host node2; not recreated elsewhere"
    countdown = "web-1.r1 exited with code 1: back-off, restart in 8 s"
    chosen = {
        (t.service.app, t.service.name): t
        for t in targets(rc.blueprint, rc.file_revisions, rc.overrides(), {})
    }
    target = Observed(cluster(host("node1")), {}, chosen, {}, Plan(waiting=(line, countdown)), 0)
    rc.rollouts.note_waiting(target)
    rc.rollouts.note_waiting(target)
    events = journal.events(kind="waiting")
    assert [(e.service, e.message) for e in events] == [("web", line)]
    rc.rollouts.note_waiting(replace(target, plan=Plan()))
    rc.rollouts.note_waiting(target)  # the reason came back: a new event
    assert len(journal.events(kind="waiting")) == 2


# -- a host that does not answer ----------------------------------------------------------


def test_a_silent_host_is_unreachable_from_when_it_was_asked_and_its_connection_dropped(
    tmp_path, journal
):
    clock = Clock(1000.0)
    engine = HangingEngine(clock, seconds=10.0)
    pool = FakePool()
    rc = reconciler(tmp_path, journal, pool=pool, engine=engine, clock=clock, observe_timeout=8.0)
    state = asyncio.run(rc.observe_host("node2"))
    assert not state.reachable
    assert engine.timeouts == [3.0]  # connected already: the round trip gets 8 - 5 s
    assert pool.resets == ["node2"]
    assert journal.get("unreachable", "node2") == 1000.0  # not 1010: the grace counts from asking


# -- the --watch loop ---------------------------------------------------------------------


def test_watch_goes_on_after_a_pass_that_timed_out_or_failed(monkeypatch):
    outcomes: list[BaseException | None] = [TimeoutError(), FleetError("boom"), None]

    async def fake_heal_once(session: Any, **kw: Any) -> heal.HealReport:
        exc = outcomes.pop(0)
        if exc is not None:
            raise exc
        return heal.HealReport()

    monkeypatch.setattr(heal, "heal_once", fake_heal_once)
    reports: list[heal.HealReport] = []
    asyncio.run(heal.watch(None, interval=0.0, report=reports.append, passes=3))  # type: ignore[arg-type]
    assert [r.skipped for r in reports] == [
        "the pass took longer than 50 s",
        "the pass failed: boom",
        "",
    ]


# -- data stays with a lost host ----------------------------------------------------------


def test_a_stateful_replica_on_a_lost_host_is_not_recreated_even_without_its_volume_list():
    kv = replace(service("kv", replicas=1), persistent_volumes=("data",))
    gone = pod("node2", "kv", revision="r2")
    # the lost host's snapshot lists no volumes (a run that did not list them wrote it)
    state = cluster(host("node1"), host("node2", pods=(gone,), reachable=False), host("node3"))
    result = plan(PlanInput((kv,), frozenset({"demo"}), state, lost_hosts=frozenset({"node2"})))
    assert result.empty
    assert any("on unreachable host node2; not recreated elsewhere" in w for w in result.waiting)
    # a stateless service in the same spot moves
    web = service("web", replicas=1)
    moved = plan(
        PlanInput(
            (web,),
            frozenset({"demo"}),
            cluster(host("node1"), host("node2", pods=(pod("node2"),), reachable=False)),
            lost_hosts=frozenset({"node2"}),
        )
    )
    assert [(a.kind, a.host) for a in moved.actions] == [(ActionKind.create, "node1")]


def test_two_copies_of_an_old_pod_go_down_to_one_and_the_rollout_goes_on():
    # a host came back with the copy of a pod rescheduled while it was away, both at the
    # revision before the one the file now asks for: one copy goes, then the slot rolls
    web = replace(service("web", replicas=1, revision="r2"), max_surge=0, max_unavailable=0)
    older, newer = pod("node1", created_at=10.0), pod("node2", created_at=20.0)
    state = cluster(host("node1", pods=(older,)), host("node2", pods=(newer,)))
    inp = PlanInput((web,), frozenset({"demo"}), state, {older.key: PodHealth(ready=True)})
    wave1 = [(a.kind, a.host, a.revision) for a in step(inp).actions]
    assert wave1[0] == (ActionKind.remove, "node1", "r1")
    whole = plan(inp)
    assert (ActionKind.create, "r2") in [(a.kind, a.revision) for a in whole.actions]
    assert sorted(a.host for a in whole.actions if a.kind is ActionKind.remove) == [
        "node1",
        "node2",
    ]


def test_back_off_counts_from_when_the_restart_happened(tmp_path, journal):
    clock = Clock(1000.0)
    crashed = pod("node1", slot=0, state=ContainerState.exited, exit_code=1)
    state = cluster(host("node1", pods=(crashed,)))

    class SlowEngine:
        async def restart(self, host_name: str, names: Any, *, grace: int = 10) -> None:
            clock.now += 3.0  # `docker restart` took 3 s

    rc = reconciler(tmp_path, journal, engine=SlowEngine(), clock=clock)

    async def look(*, gate: bool = False) -> Observed:
        return observed(state, {})

    rc.look = look  # type: ignore[method-assign]
    restart = Action(ActionKind.restart, "node1", "demo", "web", 0, "r1", Bucket.unhealthy, "x")
    first = Observed(state, {}, {}, {}, Plan(actions=(restart,)), 1000.0)
    asyncio.run(rc.heal_pass(first))
    assert journal.get("backoff", crashed.key) == {"count": 1, "next": 1013.0}  # 1003 + 10
