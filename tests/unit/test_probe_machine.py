"""The probe state machine: every Kubernetes rule fleet follows (fleet.probe.machine)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fleet.model import PodHealth
from fleet.probe.machine import (
    Kind,
    Outcome,
    ProbeResult,
    ProbeSpec,
    ProbeState,
    advance,
    due,
    fresh_state,
    health,
    next_due,
)
from fleet.spec.blueprint import Probe

T0 = 1_700_000_000.0  # the container's start
OK = ProbeResult(Outcome.success, "HTTP 200")
FAIL = ProbeResult(Outcome.failure, "HTTP 503")
UNKNOWN = ProbeResult(Outcome.unknown, "host unreachable: timed out")


def probe(**fields: Any) -> Probe:
    return Probe.model_validate({"httpGet": {"path": "/readyz", "port": 8080}, **fields})


def run(
    spec: ProbeSpec,
    steps: list[tuple[float, dict[Kind, ProbeResult]]],
    state: ProbeState | None = None,
    started: float = T0,
) -> ProbeState:
    for at, results in steps:
        state = advance(state, spec, results, T0 + at, started)
    assert state is not None
    return state


def readiness_run(results: list[ProbeResult], **fields: Any) -> list[ProbeState]:
    """One readiness result per period (10 s apart), the state after each."""
    spec = ProbeSpec(readiness=probe(**fields))
    period = float(fields.get("periodSeconds", 10))
    states: list[ProbeState] = []
    state: ProbeState | None = None
    for i, result in enumerate(results):
        state = advance(state, spec, {"readiness": result}, T0 + i * period, T0)
        states.append(state)
    return states


# ---- defaults and readiness ------------------------------------------------------------


def test_kubernetes_defaults() -> None:
    p = probe()
    assert (p.period_seconds, p.timeout_seconds, p.failure_threshold, p.success_threshold) == (
        10, 1, 3, 1,
    )  # fmt: skip
    assert p.initial_delay_seconds == 0


def test_readiness_starts_not_ready_and_one_success_makes_ready() -> None:
    spec = ProbeSpec(readiness=probe())
    start = fresh_state(T0, spec)
    assert not start.ready and start.live and start.started
    assert "waiting for the readiness probe" in start.reason
    after = advance(start, spec, {"readiness": OK}, T0 + 1, T0)
    assert after.ready and after.ready_since == T0 + 1 and after.reason == ""


def test_readiness_fails_after_failure_threshold_in_a_row() -> None:
    states = readiness_run([OK, FAIL, FAIL, FAIL])
    assert [s.ready for s in states] == [True, True, True, False]
    assert states[-1].ready_since is None
    assert states[-1].reason == "readiness probe failed: HTTP 503"


def test_a_success_resets_the_failure_run() -> None:
    states = readiness_run([OK, FAIL, FAIL, OK, FAIL, FAIL])
    assert all(s.ready for s in states)
    assert states[-1].counter("readiness").failures == 2


def test_failure_threshold_one_and_five() -> None:
    assert [s.ready for s in readiness_run([OK, FAIL], failureThreshold=1)] == [True, False]
    five = readiness_run([OK, FAIL, FAIL, FAIL, FAIL, FAIL], failureThreshold=5)
    assert [s.ready for s in five] == [True, True, True, True, True, False]


def test_success_threshold_needs_successes_in_a_row() -> None:
    states = readiness_run([OK, FAIL, OK, OK, OK], successThreshold=3)
    assert [s.ready for s in states] == [False, False, False, False, True]
    assert "succeeded 2/3 times" in states[3].reason


def test_ready_since_moves_only_when_becoming_ready() -> None:
    states = readiness_run([OK, OK, FAIL, FAIL, FAIL, OK], failureThreshold=3)
    assert states[0].ready_since == T0
    assert states[1].ready_since == T0  # still ready: unchanged
    assert states[5].ready_since == T0 + 50


def test_unknown_results_change_nothing() -> None:
    spec = ProbeSpec(readiness=probe())
    ready = run(spec, [(0, {"readiness": OK}), (10, {"readiness": FAIL})])
    after = run(spec, [(20, {"readiness": UNKNOWN}), (30, {"readiness": UNKNOWN})], ready)
    assert after.ready and after.counter("readiness").failures == 1
    assert after.counter("readiness").last_run == T0 + 10
    assert after.counter("readiness").last_reason == "host unreachable: timed out"


def test_without_readiness_probe_ready_when_running() -> None:
    spec = ProbeSpec(liveness=probe())
    state = advance(None, spec, {}, T0 + 5, T0)
    assert state.ready and state.ready_since == T0
    assert health(state) == PodHealth(ready=True, ready_since=T0, live=True, started=True)


def test_not_running_is_not_ready_and_runs_nothing() -> None:
    spec = ProbeSpec(readiness=probe(), liveness=probe())
    ready = run(spec, [(0, {"readiness": OK})])
    stopped = advance(ready, spec, {"readiness": OK}, T0 + 10, None)
    assert not stopped.ready and stopped.reason == "not running"
    assert due(ready, spec, T0 + 100, None) == frozenset()
    assert not advance(None, ProbeSpec(), {}, T0, None).ready


def test_a_restart_starts_the_state_over() -> None:
    spec = ProbeSpec(readiness=probe(), liveness=probe())
    dead = run(spec, [(0, {"liveness": FAIL}), (10, {"liveness": FAIL}), (20, {"liveness": FAIL})])
    assert not dead.live
    restarted = advance(dead, spec, {}, T0 + 40, T0 + 35)
    assert restarted.live and not restarted.ready
    assert restarted.container_started_at == T0 + 35
    assert restarted.counter("liveness").failures == 0


# ---- liveness ----------------------------------------------------------------------------


def test_liveness_fails_after_failure_threshold_and_sticks() -> None:
    spec = ProbeSpec(liveness=probe())
    steps: list[tuple[float, dict[Kind, ProbeResult]]] = [
        (0, {"liveness": FAIL}), (10, {"liveness": FAIL}),
    ]  # fmt: skip
    two = run(spec, steps)
    assert two.live and two.ready
    assert two.reason == "liveness probe failing (2/3): HTTP 503"
    three = run(spec, [(20, {"liveness": FAIL})], two)
    assert not three.live and not three.ready
    assert three.reason == "liveness probe failed 3 times in a row: HTTP 503"
    # held until the container restarts: no more probes, a success changes nothing
    assert due(three, spec, T0 + 60, T0) == frozenset()
    assert not run(spec, [(30, {"liveness": OK})], three).live
    assert health(three).live is False


def test_liveness_success_resets_failures() -> None:
    spec = ProbeSpec(liveness=probe())
    results = [FAIL, FAIL, OK, FAIL, FAIL]
    state = run(spec, [(i * 10, {"liveness": r}) for i, r in enumerate(results)])
    assert state.live


# ---- initial delay, period, poll -----------------------------------------------------------


def test_initial_delay_counts_from_the_container_start() -> None:
    spec = ProbeSpec(readiness=probe(initialDelaySeconds=15), liveness=probe(initialDelaySeconds=5))
    state = fresh_state(T0, spec)
    assert due(state, spec, T0 + 4, T0) == frozenset()
    assert due(state, spec, T0 + 5, T0) == {"liveness"}
    assert due(state, spec, T0 + 15, T0) == {"liveness", "readiness"}
    # poll mode honours the initial delay too
    assert due(state, spec, T0 + 14, T0, poll=True) == {"liveness"}
    waiting = advance(state, spec, {}, T0 + 3, T0)
    assert waiting.reason == "readiness probe waits for initialDelaySeconds (15 s)"


def test_a_probe_runs_once_per_period() -> None:
    spec = ProbeSpec(readiness=probe(periodSeconds=10), liveness=probe(periodSeconds=30))
    state = run(spec, [(0, {"readiness": OK, "liveness": OK})])
    assert due(state, spec, T0 + 5, T0) == frozenset()
    assert due(state, spec, T0 + 8.9, T0) == frozenset()
    assert due(state, spec, T0 + 9.0, T0) == {"readiness"}  # 10 % tolerance (max 1 s)
    assert due(state, spec, T0 + 29, T0) == {"readiness", "liveness"}
    assert next_due(state, spec, T0 + 1, T0) == T0 + 9.0


def test_poll_mode_runs_readiness_every_call_but_counts_early_failures_not() -> None:
    spec = ProbeSpec(readiness=probe(), liveness=probe())
    ready = run(spec, [(0, {"readiness": OK, "liveness": OK})])
    assert due(ready, spec, T0 + 1, T0, poll=True) == {"readiness"}  # liveness is not polled
    early = run(spec, [(t, {"readiness": FAIL}) for t in (1, 2, 3)], ready)
    assert early.ready and early.counter("readiness").failures == 0
    assert early.counter("readiness").last_reason == "HTTP 503"
    # an early success counts (the gate sees readiness as soon as it is there)
    spec2 = ProbeSpec(readiness=probe(successThreshold=2))
    first = run(spec2, [(0, {"readiness": OK})])
    assert not first.ready
    assert run(spec2, [(1, {"readiness": OK})], first).ready


def test_period_failures_still_count_in_poll_mode() -> None:
    spec = ProbeSpec(readiness=probe())
    state = run(spec, [(0, {"readiness": OK})])
    steps: list[tuple[float, dict[Kind, ProbeResult]]] = [
        (t, {"readiness": FAIL}) for t in (1, 10, 11, 20, 21, 30)
    ]
    after = run(spec, steps, state)
    assert not after.ready  # the failures at 10, 20, 30 counted


# ---- startup ----------------------------------------------------------------------------


def test_startup_probe_holds_liveness_and_readiness() -> None:
    spec = ProbeSpec(startup=probe(periodSeconds=2, failureThreshold=30),
                     liveness=probe(), readiness=probe())
    state = fresh_state(T0, spec)
    assert not state.started and not state.ready
    assert due(state, spec, T0, T0) == {"startup"}
    assert due(state, spec, T0, T0, poll=True) == {"startup"}
    # results of held kinds are ignored
    held = advance(state, spec, {"readiness": OK, "liveness": FAIL}, T0, T0)
    assert not held.ready and held.counter("liveness").failures == 0
    failed_once = advance(held, spec, {"startup": FAIL}, T0 + 2, T0)
    assert not failed_once.started and failed_once.live
    assert failed_once.reason == "startup probe failed: HTTP 503"
    started = advance(failed_once, spec, {"startup": OK}, T0 + 4, T0)
    assert started.started and started.started_since == T0 + 4 and not started.ready
    assert due(started, spec, T0 + 4, T0) == {"liveness", "readiness"}
    assert "startup" not in due(started, spec, T0 + 100, T0)
    assert run(spec, [(5, {"readiness": OK})], started).ready


def test_startup_without_readiness_probe_ready_once_started() -> None:
    spec = ProbeSpec(startup=probe())
    state = advance(None, spec, {}, T0, T0)
    assert not state.ready
    started = advance(state, spec, {"startup": OK}, T0 + 10, T0)
    assert started.ready and started.ready_since == T0 + 10


def test_startup_failing_failure_threshold_times_means_not_live() -> None:
    spec = ProbeSpec(startup=probe(failureThreshold=2), readiness=probe())
    state = run(spec, [(0, {"startup": FAIL}), (10, {"startup": FAIL})])
    assert not state.live and not state.started and not state.ready
    assert state.reason == "startup probe failed 2 times in a row: HTTP 503"
    assert due(state, spec, T0 + 20, T0) == frozenset()


def test_poll_mode_does_not_burn_the_startup_budget() -> None:
    spec = ProbeSpec(startup=probe(periodSeconds=10, failureThreshold=2))
    steps: list[tuple[float, dict[Kind, ProbeResult]]] = [
        (t / 2, {"startup": FAIL}) for t in range(0, 20)
    ]  # polled every 0.5 s: counted at 0 and at 9 (period minus 1 s tolerance) only
    state = run(spec, steps[:18])
    assert state.live and state.counter("startup").failures == 1
    assert not run(spec, steps[18:19], state).live


# ---- persistence -----------------------------------------------------------------------


def test_state_round_trips_through_json() -> None:
    spec = ProbeSpec(startup=probe(), liveness=probe(), readiness=probe())
    state = run(spec, [(0, {"startup": OK}), (1, {"readiness": OK, "liveness": FAIL})])
    text = json.dumps(state.to_json())
    back = ProbeState.from_json(json.loads(text))
    assert back == state
    assert json.dumps(back.to_json()) == text


def test_unreadable_json_starts_over() -> None:
    for junk in (None, 3, "x", {"counters": {"readiness": {"successes": "many"}}}):
        assert ProbeState.from_json(junk) == ProbeState()
    assert not ProbeState.from_json({}).ready


# ---- against a model of kubelet's prober worker --------------------------------------------


def kubelet_ready(results: list[bool], success: int, failure: int) -> list[bool]:
    """kubelet/prober/worker.go: lastResult/resultRun; readiness starts Failure."""
    ready, last, run_ = False, None, 0
    out = []
    for result in results:
        if result == last:
            run_ += 1
        else:
            last, run_ = result, 1
        if (not result and run_ >= failure) or (result and run_ >= success):
            ready = result
        out.append(ready)
    return out


@given(
    st.lists(st.booleans(), max_size=40),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=1, max_value=4),
)
def test_readiness_matches_kubelet(results: list[bool], success: int, failure: int) -> None:
    states = readiness_run(
        [OK if r else FAIL for r in results], successThreshold=success, failureThreshold=failure
    )
    assert [s.ready for s in states] == kubelet_ready(results, success, failure)
