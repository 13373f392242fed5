"""The probe state machine (pure): probe results in, readiness and liveness out.

Kubernetes semantics (kubelet's prober worker), with its defaults: periodSeconds
10, timeoutSeconds 1, failureThreshold 3, successThreshold 1,
initialDelaySeconds 0. fleet runs as a CLI, not a daemon, so the state of each
pod's probes is plain JSON-able data (`ProbeState.to_json`) that the caller
keeps in the journal between runs, keyed by `health_key(pod)`.

Rules:
- A pod's state belongs to one start of its main container: when the
  container's start time changes (restarted, replaced), the state starts
  over; a container that is not running is not ready and runs no probe.
- Results: `success`, `failure`, or `unknown` (the probe could not be run,
  e.g. the host was unreachable); unknown changes nothing.
- Each kind counts consecutive successes and failures. A kind's result flips
  only when a run of equal results reaches its threshold: failureThreshold
  failures in a row, or successThreshold successes (readiness only; liveness
  and startup have 1).
- Initial results: startup "not started" (when there is a startup probe),
  liveness "live", readiness "not ready".
- initialDelaySeconds counts from the container's start (for every kind).
- The startup probe holds the other two: until it succeeds, liveness and
  readiness do not run and the pod is not ready; once it succeeded it never
  runs again for that container start. failureThreshold startup failures mean
  the container never started: `live=False` (restart it).
- Liveness failing failureThreshold times in a row: `live=False`, and that
  sticks until the container restarts (kubelet holds the probe after a kill).
- Readiness: ready after successThreshold successes in a row, not ready after
  failureThreshold failures in a row. A pod without a readiness probe is ready
  as soon as it is running and started. `ready_since` is when it last became
  ready (for minReadySeconds).
- Period: a kind is due when periodSeconds passed since its last counted run
  (minus a tolerance of 10% of the period, at most 1 s, so a loop running
  every period does not skip every other turn). A due probe runs once; a run
  within the period (same process, or cron runs closer together) does not
  run it again.
- Poll mode (`due(..., poll=True)`, apply's readiness gate): readiness and
  startup probes run on every call once initialDelaySeconds has passed. An
  early run (within the period) counts only when it succeeds; an early
  failure is shown as the reason but not counted, so polling fast neither
  burns a startup probe's failure budget (failureThreshold x period) nor
  takes a ready pod out faster than its period says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from fleet.model import ActualPod, PodHealth

if TYPE_CHECKING:
    from fleet.spec.blueprint import Container, Probe

Kind = Literal["startup", "liveness", "readiness"]
KINDS: tuple[Kind, ...] = ("startup", "liveness", "readiness")
ALL_KINDS: frozenset[Kind] = frozenset(KINDS)


def health_key(pod: ActualPod) -> str:
    """The key of a pod's probe state and health: its main container's name
    (`demo.web-0.3f9a1c2b7e`: unique across apps, unlike the pod name alone)."""
    return pod.key  # container_name(pod.app, pod.name), cached on the pod


class Outcome(StrEnum):
    success = "success"
    failure = "failure"
    unknown = "unknown"  # could not be run (host unreachable ...): counts for nothing


@dataclass(frozen=True)
class ProbeResult:
    """One run of one probe: outcome, a short reason ("HTTP 503", "exit 1"), seconds taken."""

    outcome: Outcome
    reason: str = ""
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.success


@dataclass(frozen=True)
class ProbeSpec:
    """The probes of a pod's main container (None: that kind is absent)."""

    startup: Probe | None = None
    liveness: Probe | None = None
    readiness: Probe | None = None

    @classmethod
    def of(cls, container: Container) -> ProbeSpec:
        return cls(container.startup_probe, container.liveness_probe, container.readiness_probe)

    def get(self, kind: Kind) -> Probe | None:
        probe: Probe | None = getattr(self, kind)
        return probe


@dataclass(frozen=True)
class Counter:
    """One kind's run of equal results and its last run."""

    successes: int = 0  # in a row
    failures: int = 0  # in a row
    last_result: str | None = None  # success | failure (also an uncounted early failure)
    last_reason: str = ""
    last_run: float | None = None  # wall-clock time of the last counted run

    def to_json(self) -> dict[str, Any]:
        # a literal, not dataclasses.asdict (~35x slower): this runs for every probe counter
        # of every pod on every health pass
        return {
            "successes": self.successes,
            "failures": self.failures,
            "last_result": self.last_result,
            "last_reason": self.last_reason,
            "last_run": self.last_run,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Counter:
        return cls(
            successes=int(data.get("successes", 0)),
            failures=int(data.get("failures", 0)),
            last_result=data.get("last_result"),
            last_reason=str(data.get("last_reason", "")),
            last_run=_float_or_none(data.get("last_run")),
        )


@dataclass(frozen=True)
class ProbeState:
    """What the probes concluded about one start of a pod's main container (JSON-able)."""

    container_started_at: float | None = None
    started: bool = False
    started_since: float | None = None
    live: bool = True
    ready: bool = False
    ready_since: float | None = None
    reason: str = "not running"
    counters: Mapping[str, Counter] = field(default_factory=dict)

    def counter(self, kind: Kind) -> Counter:
        return self.counters.get(kind, Counter())

    def to_json(self) -> dict[str, Any]:
        """Plain data for the journal."""
        return {
            "container_started_at": self.container_started_at,
            "started": self.started,
            "started_since": self.started_since,
            "live": self.live,
            "ready": self.ready,
            "ready_since": self.ready_since,
            "reason": self.reason,
            "counters": {k: c.to_json() for k, c in sorted(self.counters.items())},
        }

    @classmethod
    def from_json(cls, data: Any) -> ProbeState:
        """Read back `to_json`; anything unreadable starts over (not ready, live)."""
        if not isinstance(data, Mapping):
            return cls()
        try:
            counters = {
                k: Counter.from_json(v)
                for k, v in (data.get("counters") or {}).items()
                if k in KINDS and isinstance(v, Mapping)
            }
            return cls(
                container_started_at=_float_or_none(data.get("container_started_at")),
                started=bool(data.get("started", False)),
                started_since=_float_or_none(data.get("started_since")),
                live=bool(data.get("live", True)),
                ready=bool(data.get("ready", False)),
                ready_since=_float_or_none(data.get("ready_since")),
                reason=str(data.get("reason", "")),
                counters=counters,
            )
        except (TypeError, ValueError):
            return cls()


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def period_tolerance(period: float) -> float:
    """How much earlier than its period a probe may run and still count as on time."""
    return min(1.0, 0.1 * period)


def _eligible(probe: Probe, now: float, started_at: float) -> bool:
    return now >= started_at + probe.initial_delay_seconds


def _early(counter: Counter, probe: Probe, now: float) -> bool:
    """Within the period since the last counted run."""
    if counter.last_run is None:
        return False
    return now - counter.last_run < probe.period_seconds - period_tolerance(probe.period_seconds)


def fresh_state(container_started_at: float | None, spec: ProbeSpec) -> ProbeState:
    """The state at a container's start (or of a pod that is not running)."""
    if container_started_at is None:
        return ProbeState(reason="not running")
    return _derive(ProbeState(container_started_at=container_started_at), spec)


def due(
    state: ProbeState | None,
    spec: ProbeSpec,
    now: float,
    container_started_at: float | None,
    *,
    poll: bool = False,
) -> frozenset[Kind]:
    """The kinds to run now (see the rules in the module docstring)."""
    if container_started_at is None:
        return frozenset()
    current = _for_start(state, spec, container_started_at)
    if not current.live:
        return frozenset()  # held until the container restarts
    kinds: set[Kind] = set()
    for kind in KINDS:
        probe = spec.get(kind)
        if probe is None or not _eligible(probe, now, container_started_at):
            continue
        if _held(kind, current):
            continue
        polled = poll and kind in ("startup", "readiness")
        if polled or not _early(current.counter(kind), probe, now):
            kinds.add(kind)
    return frozenset(kinds)


def next_due(
    state: ProbeState | None, spec: ProbeSpec, now: float, container_started_at: float | None
) -> float | None:
    """When the next probe of this pod falls due (now if one is due; None: nothing to run)."""
    if container_started_at is None:
        return None
    current = _for_start(state, spec, container_started_at)
    if not current.live:
        return None
    times = []
    for kind in KINDS:
        probe = spec.get(kind)
        if probe is None or _held(kind, current):
            continue
        at = container_started_at + probe.initial_delay_seconds
        last = current.counter(kind).last_run
        if last is not None:
            at = max(at, last + probe.period_seconds - period_tolerance(probe.period_seconds))
        times.append(max(at, now))
    return min(times) if times else None


def advance(
    state: ProbeState | None,
    spec: ProbeSpec,
    results: Mapping[Kind, ProbeResult],
    now: float,
    container_started_at: float | None,
) -> ProbeState:
    """Fold this run's probe results (by kind, possibly none) into a pod's state.

    Call it for every pod each run, also with no results: that is how a pod
    without probes becomes ready, and how a restart resets the state.
    """
    if container_started_at is None:
        return fresh_state(None, spec)
    current = _for_start(state, spec, container_started_at)
    for kind in KINDS:
        result = results.get(kind)
        probe = spec.get(kind)
        if result is None or probe is None or not current.live:
            continue
        if _held(kind, current):
            continue
        current = _fold(current, kind, probe, result, now)
        current = _derive(current, spec, now)
    return _derive(current, spec, now)


def health(state: ProbeState) -> PodHealth:
    """The planner's view of a pod's state."""
    return PodHealth(
        ready=state.ready,
        ready_since=state.ready_since,
        live=state.live,
        started=state.started,
        reason=state.reason,
    )


# ---- internals ------------------------------------------------------------------------------


def _for_start(state: ProbeState | None, spec: ProbeSpec, started_at: float) -> ProbeState:
    if state is None or state.container_started_at != started_at:
        return fresh_state(started_at, spec)
    return state


def _held(kind: Kind, state: ProbeState) -> bool:
    """Startup is done once it succeeded; the other kinds wait for it."""
    return state.started if kind == "startup" else not state.started


def _fold(
    state: ProbeState, kind: Kind, probe: Probe, result: ProbeResult, now: float
) -> ProbeState:
    counter = state.counter(kind)
    if result.outcome is Outcome.unknown:
        counter = replace(counter, last_reason=result.reason or "not run")
    elif result.outcome is Outcome.failure and _early(counter, probe, now):
        # a polled run within the period: show why, count nothing
        counter = replace(counter, last_result="failure", last_reason=result.reason)
    elif result.outcome is Outcome.success:
        counter = Counter(counter.successes + 1, 0, "success", result.reason, now)
    else:
        counter = Counter(0, counter.failures + 1, "failure", result.reason, now)
    counters = {**state.counters, kind: counter}
    state = replace(state, counters=counters)
    threshold_failed = counter.failures >= probe.failure_threshold and counter.last_run == now
    if kind == "startup":
        if counter.successes >= 1 and counter.last_run == now:
            return replace(state, started=True, started_since=now)
        if threshold_failed:
            return replace(state, live=False, reason=_failed_reason("startup", counter))
    elif kind == "liveness":
        if threshold_failed:
            return replace(state, live=False, reason=_failed_reason("liveness", counter))
    else:
        if counter.successes >= probe.success_threshold and not state.ready:
            return replace(state, ready=True, ready_since=now)
        if threshold_failed and state.ready:
            return replace(state, ready=False, ready_since=None)
    return state


def _failed_reason(kind: str, counter: Counter) -> str:
    times = "time" if counter.failures == 1 else "times"
    return f"{kind} probe failed {counter.failures} {times} in a row: {counter.last_reason}"


def _derive(state: ProbeState, spec: ProbeSpec, now: float | None = None) -> ProbeState:
    """started/ready for absent probes, and the reason shown for the pod."""
    started = state.started
    started_since = state.started_since
    if spec.startup is None and not started:
        started, started_since = True, state.container_started_at
    ready, ready_since = state.ready, state.ready_since
    if not state.live or not started:
        ready, ready_since = False, None
    elif spec.readiness is None and not ready:
        ready, ready_since = True, started_since
    state = replace(
        state, started=started, started_since=started_since, ready=ready, ready_since=ready_since
    )
    return replace(state, reason=_reason(state, spec, now))


def _reason(state: ProbeState, spec: ProbeSpec, now: float | None) -> str:
    if state.container_started_at is None:
        return "not running"
    if not state.live:
        return state.reason  # set when it happened
    if not state.started:
        return _waiting("startup", state, spec, now)
    if not state.ready:
        return _waiting("readiness", state, spec, now)
    liveness = state.counter("liveness")
    if liveness.failures and spec.liveness is not None:
        return (
            f"liveness probe failing ({liveness.failures}/{spec.liveness.failure_threshold}): "
            f"{liveness.last_reason}"
        )
    return ""


def _waiting(kind: Kind, state: ProbeState, spec: ProbeSpec, now: float | None) -> str:
    probe = spec.get(kind)
    counter = state.counter(kind)
    if probe is None:
        return f"waiting for the {kind} probe"
    if counter.last_result == "failure":
        return f"{kind} probe failed: {counter.last_reason}"
    if counter.last_result == "success":
        return f"{kind} probe succeeded {counter.successes}/{probe.success_threshold} times"
    assert state.container_started_at is not None
    if now is not None and not _eligible(probe, now, state.container_started_at):
        return f"{kind} probe waits for initialDelaySeconds ({probe.initial_delay_seconds} s)"
    if counter.last_reason:
        return f"{kind} probe not run: {counter.last_reason}"
    return f"waiting for the {kind} probe"
