"""Planner: buckets, rollouts, waves, safety (pure, no hosts)."""

from __future__ import annotations

from dataclasses import replace

from fleet.model import ActionKind, Bucket, ContainerState, PodHealth, Strategy, volume_name
from fleet.plan import PlanInput, plan, step
from tests.unit.factories import cluster, host, pod, service

HOSTS = ("node1", "node2", "node3")


def hosts(*pods_by_host, **kw):
    grouped = {name: [] for name in HOSTS}
    for p in pods_by_host:
        grouped[p.host].append(p)
    return cluster(*(host(name, pods=tuple(grouped[name]), **kw.get(name, {})) for name in HOSTS))


def inp(services, state, **kw):
    return PlanInput(
        services=tuple(services), apps=frozenset({"demo"}), cluster=state, now=1000.0, **kw
    )


def kinds(actions):
    return sorted((a.kind.value, a.replica, a.revision, a.host) for a in actions)


def test_from_scratch_creates_every_replica_spread_over_hosts():
    result = plan(inp([service(replicas=3)], hosts()))
    assert [a.kind for a in result.actions] == [ActionKind.create] * 3
    assert {a.bucket for a in result.actions} == {Bucket.missing}
    assert sorted(a.host for a in result.actions) == list(HOSTS)
    assert all(a.wave == 1 for a in result.actions)
    assert len(result.placements) == 3


def test_converged_state_plans_nothing():
    state = hosts(*(pod(h, slot=i, revision="r2") for i, h in enumerate(HOSTS)))
    result = plan(inp([service(replicas=3)], state))
    assert result.empty and not result.waiting and not result.pending


def test_rolling_update_surge_one_unavailable_zero_goes_one_at_a_time():
    state = hosts(*(pod(h, slot=i, revision="r1") for i, h in enumerate(HOSTS)))
    svc = service(replicas=3, max_surge=1, max_unavailable=0)
    result = plan(inp([svc], state))
    wave1 = result.first_wave()
    assert kinds(wave1) == [("create", "web-0", "r2", wave1[0].host)]
    assert wave1[0].bucket is Bucket.outdated
    creates = [a for a in result.actions if a.kind is ActionKind.create]
    removes = [a for a in result.actions if a.kind is ActionKind.remove]
    assert len(creates) == 3 and len(removes) == 3
    # an old pod is only removed in a wave after its replacement was created
    for removal in removes:
        created = next(a for a in creates if a.slot == removal.slot)
        assert created.wave < removal.wave


def test_rolling_update_without_surge_removes_first_within_max_unavailable():
    state = hosts(*(pod(h, slot=i, revision="r1") for i, h in enumerate(HOSTS)))
    svc = service(replicas=3, max_surge=0, max_unavailable=1)
    wave1 = step(inp([svc], state)).actions
    assert sorted(a.kind.value for a in wave1) == ["create", "remove"]
    create = next(a for a in wave1 if a.kind is ActionKind.create)
    remove = next(a for a in wave1 if a.kind is ActionKind.remove)
    assert create.slot == remove.slot and create.after == (remove.key,)


def test_recreate_removes_all_old_pods_then_creates():
    state = hosts(*(pod(h, slot=i, revision="r1") for i, h in enumerate(HOSTS)))
    result = plan(inp([service(replicas=3, strategy=Strategy.recreate)], state))
    assert [a.kind for a in result.actions if a.wave == 1] == [ActionKind.remove] * 3
    assert [a.kind for a in result.actions if a.wave == 2] == [ActionKind.create] * 3


def test_scale_down_removes_the_highest_slots():
    state = hosts(*(pod(h, slot=i, revision="r2") for i, h in enumerate(HOSTS)))
    result = plan(inp([service(replicas=1)], state))
    assert kinds(result.actions) == [
        ("remove", "web-1", "r2", "node2"),
        ("remove", "web-2", "r2", "node3"),
    ]
    assert {a.bucket for a in result.actions} == {Bucket.extra}


def test_service_removed_from_blueprint_is_removed_other_apps_ignored():
    state = hosts(pod("node1", "old"), pod("node2", "web", app="other"))
    result = plan(inp([], state))
    assert kinds(result.actions) == [("remove", "old-0", "r1", "node1")]
    assert result.ignored == (("web-0.r1", "app other is not in this run"),)


def test_unreachable_host_is_unknown_not_empty():
    state = hosts(
        *(pod(h, slot=i, revision="r2") for i, h in enumerate(HOSTS)),
        node3={"reachable": False},
    )
    result = plan(inp([service(replicas=3)], state))
    assert result.empty
    assert any("unreachable host node3" in line for line in result.waiting)


def test_lost_host_after_grace_is_rescheduled_elsewhere():
    state = hosts(
        *(pod(h, slot=i, revision="r2") for i, h in enumerate(HOSTS)),
        node3={"reachable": False},
    )
    result = plan(inp([service(replicas=3)], state, lost_hosts=frozenset({"node3"})))
    (create,) = result.actions
    assert create.kind is ActionKind.create and create.replica == "web-2"
    assert create.host in {"node1", "node2"} and create.bucket is Bucket.lost


def test_returning_host_duplicates_are_removed_keeping_the_newest():
    state = hosts(
        pod("node1", slot=0, revision="r2"),
        pod("node2", slot=1, revision="r2"),
        pod("node3", slot=2, revision="r2", created_at=10),
        pod("node1", slot=2, revision="r2", created_at=20),
    )
    result = plan(inp([service(replicas=3)], state))
    assert kinds(result.actions) == [("remove", "web-2", "r2", "node3")]


def test_stateful_replica_stays_with_its_volume_and_never_moves_off_a_lost_host():
    vol = volume_name("demo", "kv", 0, "data")
    kv = service("kv", replicas=1, persistent_volumes=("data",))
    state = hosts(node2={"volumes": (vol,)})
    (create,) = plan(inp([kv], state)).actions
    assert create.host == "node2"
    lost = hosts(pod("node2", "kv", revision="r2"), node2={"volumes": (vol,), "reachable": False})
    result = plan(inp([kv], lost, lost_hosts=frozenset({"node2"})))
    assert result.empty
    assert any("not recreated elsewhere" in line for line in result.waiting)


def test_stateful_replica_waits_while_a_host_of_unknown_contents_is_away():
    kv = service("kv", replicas=1, persistent_volumes=("data",))
    state = hosts(node3={"reachable": False, "contents_known": False})
    result = plan(inp([kv], state, lost_hosts=frozenset({"node3"})))
    assert result.empty and "contents unknown" in result.waiting[-1]


def test_exited_pod_is_restarted_unless_backing_off():
    dead = pod("node1", slot=0, revision="r2", state=ContainerState.exited, exit_code=1)
    state = hosts(dead, pod("node2", slot=1, revision="r2"), pod("node3", slot=2, revision="r2"))
    (restart,) = plan(inp([service()], state)).actions
    assert restart.kind is ActionKind.restart and restart.reason == "exited with code 1"
    backing_off = plan(inp([service()], state, backoff_until={dead.key: 1040.0}))
    assert backing_off.empty and "back-off, restart in 40 s" in backing_off.waiting[0]


def test_failed_liveness_restarts_the_pod():
    state = hosts(*(pod(h, slot=i, revision="r2") for i, h in enumerate(HOSTS)))
    health = {"demo.web-1.r2": PodHealth(ready=True, live=False, reason="HTTP 500")}
    (restart,) = plan(inp([service()], state, health=health)).actions
    assert (restart.kind, restart.replica) == (ActionKind.restart, "web-1")
    assert restart.reason == "liveness probe failed: HTTP 500"


def test_dependencies_hold_back_creation_until_ready():
    kv, web = service("kv", replicas=1), service("web", depends_on=("kv",))
    wave1 = step(inp([kv, web], hosts()))
    assert [a.service for a in wave1.actions] == ["kv"]
    assert "web waits for kv to be ready" in wave1.waiting
    full = plan(inp([kv, web], hosts()))
    assert {a.wave for a in full.actions if a.service == "web"} == {2}


def test_canary_runs_beside_the_stable_revision_then_promote_rolls_the_rest():
    state = hosts(*(pod(h, slot=i, revision="r1") for i, h in enumerate(HOSTS)))
    canary = service(
        strategy=Strategy.canary, stable_revision="r1", canary_replicas=1, canary_weight=20
    )
    (create,) = plan(inp([canary], state)).actions
    assert (create.replica, create.revision, create.canary) == ("web-canary-0", "r2", True)
    with_canary = hosts(
        *(pod(h, slot=i, revision="r1") for i, h in enumerate(HOSTS)),
        pod("node1", slot=0, revision="r2", canary=True),
    )
    assert plan(inp([canary], with_canary)).empty
    promoted = replace(canary, stable_revision=None)
    result = plan(inp([promoted], with_canary))
    assert sum(a.kind is ActionKind.create for a in result.actions) == 3
    (retire,) = [a for a in result.actions if a.canary]
    assert retire.kind is ActionKind.remove
    assert retire.wave > max(a.wave for a in result.actions if a.kind is ActionKind.create)


def test_nothing_fits_leaves_replicas_pending_and_plans_the_rest():
    big = service("big", replicas=1, requests=replace(service().requests, cpu=5000))
    result = plan(inp([big, service("small", replicas=1)], hosts()))
    assert [a.service for a in result.actions] == ["small"]
    (pending,) = result.pending
    assert pending.host is None and len(pending.rejected) == 3


def test_plans_are_deterministic():
    state = hosts(*(pod(h, slot=i, revision="r1") for i, h in enumerate(HOSTS)))
    a = plan(inp([service(), service("api", replicas=5)], state))
    b = plan(inp([service("api", replicas=5), service()], state))
    assert a == b


def test_draining_host_replicas_move_elsewhere_before_they_stop():
    state = hosts(
        *(pod(h, slot=i, revision="r2") for i, h in enumerate(HOSTS)),
        node3={"cordoned": True, "draining": True},
    )
    result = plan(inp([service()], state))
    create = next(a for a in result.actions if a.kind is ActionKind.create)
    remove = next(a for a in result.actions if a.kind is ActionKind.remove)
    assert (create.replica, remove.replica, remove.host) == ("web-2", "web-2", "node3")
    assert create.host != "node3" and create.wave < remove.wave
    assert remove.reason == "moved off draining host node3"


def test_draining_host_keeps_a_replica_whose_volume_lives_there():
    vol = volume_name("demo", "kv", 0, "data")
    kv = service("kv", replicas=1, persistent_volumes=("data",))
    state = hosts(
        pod("node3", "kv", revision="r2"),
        node3={"cordoned": True, "draining": True, "volumes": (vol,)},
    )
    result = plan(inp([kv], state))
    assert result.empty and "its volume lives there" in result.waiting[0]


def test_rolling_update_goes_on_over_reachable_hosts_when_one_is_unknown():
    state = hosts(
        *(pod(h, slot=i, revision="r1") for i, h in enumerate(HOSTS)),
        node3={"reachable": False},
    )
    result = plan(inp([service(max_surge=1, max_unavailable=0)], state))
    replaced = sorted(a.replica for a in result.actions if a.kind is ActionKind.remove)
    assert replaced == ["web-0", "web-1"]  # web-2 on node3 waits for its host
    assert all(a.host != "node3" for a in result.actions)


def test_only_unused_volumes_of_these_apps_are_pruned():
    from fleet.volumes import volumes_to_prune

    kv = service("kv", replicas=1, persistent_volumes=("data",))
    keep = volume_name("demo", "kv", 0, "data")
    extra = volume_name("demo", "kv", 1, "data")
    other_app = volume_name("shop", "db", 0, "data")
    scratch = "fleet-tmp.demo.web-0.old.cache"
    state = hosts(node1={"volumes": (keep, extra, other_app, scratch, "user-volume")})
    assert volumes_to_prune(state, [kv], frozenset({"demo"})) == {"node1": sorted([extra, scratch])}


def test_a_stale_exited_copy_is_not_restarted_while_its_twin_is_unknown():
    state = hosts(
        pod("node1", slot=0, revision="r2"),
        pod("node2", slot=1, revision="r2"),
        pod("node3", slot=1, revision="r2", state=ContainerState.exited, exit_code=137),
        node2={"reachable": False},
    )
    result = plan(inp([service(replicas=2)], state))
    assert result.empty
    assert "another copy may run on a host that does not answer" in result.waiting[-1]
