"""The reconcile loop's bookkeeping in the journal: rollouts, back-off, waiting, placements.

fleet.reconcile decides and acts; this records what happened so the next run (and
`fleet events`, `fleet rollout`, the UI) knows it. Journal scopes written here:
    deployed/<service>  the revision the service last converged at (rollback target)
    rollout/<service>   {revision, started} of the rollout in progress
    pin/<service>       {revision, while, reason}: automatic rollback after a missed deadline
    canary/<service>    {stable, canary}: revision the stable replicas keep while a canary is out
    backoff/<pod key>   {count, next}: crash-loop back-off of restarted pods
    waiting/<apps>      the planner's reasons to leave something as it is, already told
    placement/<pod key> each new pod's placement decision
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fleet.execute import ActionResult
from fleet.journal import Journal
from fleet.model import Action, DesiredService
from fleet.observed import Observed


class Rollouts:
    """Journal bookkeeping for one reconciler. `say` reports a line to the operator (the
    reconciler hands in a callable that reads its current `say`, which the CLI replaces);
    `apps` are the applications of the run (the key of the `waiting` record)."""

    def __init__(
        self, journal: Journal, say: Callable[[str], None], apps: frozenset[str] = frozenset()
    ) -> None:
        self.journal = journal
        self.say = say
        self.apps = apps

    def record_rollouts(self, observed: Observed) -> None:
        """Remember each target's pod template and when its rollout began."""
        now = observed.now
        for (app, name), target in observed.targets.items():
            rev = target.service.revision
            spec = target.deployment.model_dump(mode="json", by_alias=True, exclude_none=True)
            if self.journal.record_revision(app, name, rev, spec, now):
                self.journal.event("revision", f"{name}: new revision {rev}", app=app, service=name)
            stable = target.service.stable_revision
            if target.service.canary_active and self.journal.get("canary", name) is None:
                self.journal.put("canary", name, {"stable": stable, "canary": rev})
                self.journal.event(
                    "canary", f"{name}: canary of {rev} beside {stable}", app=app, service=name
                )
            rollout = self.journal.get("rollout", name) or {}
            deployed = self.journal.get("deployed", name)
            if deployed != rev and rollout.get("revision") != rev:
                self.journal.put("rollout", name, {"revision": rev, "started": now})
                self.journal.event(
                    "rollout",
                    f"{name}: rolling out revision {rev}"
                    + (f" (was {deployed})" if deployed else ""),
                    app=app,
                    service=name,
                )

    def record_converged(self, observed: Observed) -> None:
        for roll, target in zip(observed.rollups(), observed.targets.values(), strict=True):
            name, rev = target.service.name, target.service.revision
            if not roll.converged or target.service.canary_active:
                continue
            record = self.journal.get("canary", name)
            if record is not None and record.get("canary") == rev:
                self.journal.delete("canary", name)  # promoted and rolled out
            if self.journal.get("deployed", name) != rev:
                self.journal.put("deployed", name, rev)
                self.journal.delete("rollout", name)
                self.journal.mark_deployed(target.service.app, name, rev, observed.now)
                self.journal.prune_revisions(
                    target.service.app,
                    name,
                    target.deployment.spec.revision_history_limit,
                    protect={rev},
                )
                self.journal.event(
                    "rolled-out",
                    f"{name}: {roll.available}/{roll.desired} replicas at revision {rev}",
                    app=target.service.app,
                    service=name,
                )

    def check_deadlines(self, observed: Observed) -> list[str]:
        """Roll back rollouts that missed progressDeadlineSeconds; returns what failed."""
        failed = []
        for roll, target in zip(observed.rollups(), observed.targets.values(), strict=True):
            service = target.service
            rollout = self.journal.get("rollout", service.name)
            if roll.converged or not rollout or rollout.get("revision") != service.revision:
                continue
            late = observed.now - float(rollout["started"]) - service.progress_deadline_seconds
            if late < 0:
                continue
            previous = self.journal.get("deployed", service.name)
            reason = (
                f"revision {service.revision} not available within "
                f"{service.progress_deadline_seconds:.0f} s ({roll.available}/{roll.desired} ready)"
            )
            self.journal.delete("rollout", service.name)
            if previous and previous != service.revision:
                self.journal.put(
                    "pin",
                    service.name,
                    {
                        "revision": previous,
                        "while": target.file_revision,
                        "reason": f"rollout failed: {reason}",
                    },
                )
                message = f"{service.name}: rollout failed: {reason}; rolling back to {previous}"
            else:
                message = f"{service.name}: rollout failed: {reason}; nothing to roll back to"
            self.journal.event("rollout-failed", message, app=service.app, service=service.name)
            self.say(message)
            failed.append(message)
        return failed

    def note_waiting(self, observed: Observed) -> None:
        """Why something is left as it is (its volume is on a lost host, a dependency is not
        ready ...) becomes an event when the reason first appears, not at every pass.
        Back-off lines count down every pass and have their own `back-off` events."""
        lines = sorted({w for w in observed.plan.waiting if ": back-off, " not in w})
        key = ",".join(sorted(self.apps))
        before = set(self.journal.get("waiting", key) or ())
        for line in lines:
            if line in before:
                continue
            target = _service_of(line, observed.desired)
            self.journal.event(
                "waiting",
                line,
                app=target.app if target else None,
                service=target.name if target else None,
            )
        if set(lines) != before:
            self.journal.put("waiting", key, lines)

    def record_placements(self, observed: Observed, wave: Sequence[Action]) -> None:
        """Each new pod's placement decision, with every "why not host X", for the UI."""
        decisions = {(d.service, d.slot, d.canary): d for d in observed.plan.placements}
        for action in wave:
            decision = decisions.get((action.service, action.slot, action.canary))
            if action.kind.value != "create" or decision is None:
                continue
            self.journal.put(
                "placement",
                action.key,
                {
                    "host": decision.host,
                    "scores": dict(decision.scores),
                    "rejected": {r.host: r.reason for r in decision.rejected},
                },
            )
            others = "; ".join(f"not {r.host}: {r.reason}" for r in decision.rejected[:3])
            self.journal.event(
                "placement",
                f"{action.pod} -> {decision.host}" + (f" ({others})" if others else ""),
                host=decision.host,
                app=action.app,
                service=action.service,
                replica=action.replica,
            )

    def forget_recovered(self, observed: Observed) -> None:
        """Back-off ends for pods that ran for a minute, and for pods that are gone."""
        pods = {p.key: p for h in observed.cluster.reachable_hosts() for p in h.pods}
        for name in self.journal.scope("backoff"):
            pod = pods.get(name)
            started = pod.started_at if pod is not None else None
            if pod is None or (pod.running and started and observed.now - started > 60):
                self.journal.delete("backoff", name)

    def note_restarts(self, results: Sequence[ActionResult], now: float) -> None:
        """Crash-loop back-off: 10 s doubling to 5 min, like the kubelet."""
        for result in results:
            action = result.action
            if action.kind.value != "restart":
                continue
            entry: dict[str, Any] = self.journal.get("backoff", action.key) or {"count": 0}
            count = int(entry.get("count", 0)) + 1
            delay = min(10.0 * 2 ** (count - 1), 300.0)
            self.journal.put("backoff", action.key, {"count": count, "next": now + delay})
            # from the first restart on, so `fleet events` shows the whole 10, 20, 40 s ladder
            times = "once" if count == 1 else f"{count} times"
            self.journal.event(
                "back-off",
                f"{action.pod} restarted {times}; next restart not before {delay:.0f} s",
                host=action.host,
                app=action.app,
                service=action.service,
                replica=action.replica,
            )

    def backoff_until(self) -> dict[str, float]:
        return {
            pod: float(entry["next"])
            for pod, entry in self.journal.scope("backoff").items()
            if isinstance(entry, dict) and "next" in entry
        }


def _service_of(line: str, services: Sequence[DesiredService]) -> DesiredService | None:
    """The service a planner line is about (it starts with the service, replica or pod name;
    the longest matching name wins: `web-api-0` is web-api's, not web's)."""
    found = [s for s in services if line.startswith((f"{s.name}-", f"{s.name} ", f"{s.name}:"))]
    return max(found, key=lambda s: len(s.name), default=None)
