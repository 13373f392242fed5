"""One service's rollout step within its budgets (pure; `fleet.plan.step()` runs one per
service on the step's shared state, fleet.step_state).

Lost pods are reported; unhealthy pods at the wanted revision are restarted (with back-off);
then the rollout moves on within maxSurge/maxUnavailable: extras and old pods go, new pods
are asked for empty slots. A stateful replica stays with its volume. A canary is a second
track of the same service.
"""

from __future__ import annotations

from collections import defaultdict

from fleet.model import (
    ActualPod,
    Bucket,
    ContainerState,
    DesiredService,
    Strategy,
    volume_name,
)
from fleet.schedule import PlacementRequest
from fleet.step_state import Create, StepContext


class ServicePlanner:
    def __init__(self, ctx: StepContext, service: DesiredService, pods: list[ActualPod]) -> None:
        self.ctx = ctx
        self.s = service
        reachable = [p for p in pods if ctx.host(p.host).reachable]
        self.lost = [p for p in pods if not ctx.host(p.host).reachable]
        self.stable = [p for p in reachable if not p.canary]
        self.canary = [p for p in reachable if p.canary]
        # while a canary is out, the stable replicas stay at the stable revision
        self.target: str = (
            service.stable_revision
            if service.canary_active and service.stable_revision
            else service.revision
        )

    # The lost pods whose host has been gone longer than the grace period no longer hold a slot.
    def _holding_lost(self, canary: bool) -> list[ActualPod]:
        return [
            p for p in self.lost if p.canary == canary and p.host not in self.ctx.inp.lost_hosts
        ]

    def run(self) -> None:
        s, ctx = self.s, self.ctx
        for pod in self.lost:
            ctx.waiting.append(
                f"{pod.name} on unreachable host {pod.host}: "
                + (
                    "rescheduling"
                    if pod.host in ctx.inp.lost_hosts and not s.stateful
                    else "left as it is until the host answers"
                )
            )
        deps = [d for d in s.depends_on if d not in ctx.ready_services]
        self.blocked = bool(deps)
        if self.blocked:
            ctx.waiting.append(f"{s.name} waits for {', '.join(deps)} to be ready")
        self._track(self.stable, canary=False, replicas=s.replicas, revision=self.target)
        if s.canary_active:
            self._track(self.canary, canary=True, replicas=s.canary_replicas, revision=s.revision)
        elif self.canary:
            self._retire_canary()

    def _retire_canary(self) -> None:
        """After promote or abort: canary pods go once the stable track is complete."""
        done = (
            sum(
                1
                for p in self.stable
                if p.revision == self.target and self.ctx.available(p) and p.slot < self.s.replicas
            )
            >= self.s.replicas
        )
        if done:
            for pod in self.canary:
                self.ctx.remove(pod, Bucket.extra, "canary finished")
        else:
            self.ctx.waiting.append(f"{self.s.name}: canary pods stay until the rollout completes")

    def _track(self, pods: list[ActualPod], *, canary: bool, replicas: int, revision: str) -> None:
        ctx, s = self.ctx, self.s
        by_slot: dict[int, list[ActualPod]] = defaultdict(list)
        extras: list[ActualPod] = []
        for pod in pods:
            (extras if pod.slot >= replicas else by_slot[pod.slot]).append(pod)
        cur: dict[int, ActualPod] = {}
        old: list[ActualPod] = []
        for slot, slot_pods in sorted(by_slot.items()):
            current = [
                p for p in slot_pods if p.revision == revision and not self._evicted(p, canary)
            ]
            if current:
                cur[slot] = self._keep_one(current)
            old.extend(self._one_copy([p for p in slot_pods if p not in current]))
        lost_slots = {p.slot for p in self._holding_lost(canary) if p.slot < replicas}

        # unhealthy pods at the wanted revision are restarted in place (with back-off), but
        # not a stale copy whose replica may still run on a host that does not answer now
        for pod in cur.values():
            if pod.slot in lost_slots and not pod.running:
                ctx.waiting.append(
                    f"{pod.name} on {pod.host} is not running and another copy may run on a "
                    "host that does not answer: left alone until it does"
                )
                continue
            self._heal(pod)

        if s.strategy is Strategy.recreate and old and not canary:
            for pod in [*old, *extras]:
                ctx.remove(pod, Bucket.outdated, f"Recreate: {pod.revision} -> {revision}")
            missing = [k for k in range(replicas) if k not in cur and k not in lost_slots]
            if missing:
                ctx.waiting.append(f"{s.name}: Recreate waits for the old pods to stop")
            return
        self._roll(
            cur, old, extras, lost_slots, replicas=replicas, revision=revision, canary=canary
        )

    def _one_copy(self, pods: list[ActualPod]) -> list[ActualPod]:
        """Older pods of a slot, one copy of each: a host that answers again can hold a pod
        that was rescheduled meanwhile (same name); the extra copy goes at once, or the
        copies fill the surge budget and the slot never rolls."""
        return [
            self._keep_one([p for p in pods if p.name == name])
            for name in sorted({p.name for p in pods})
        ]

    def _keep_one(self, copies: list[ActualPod]) -> ActualPod:
        """The preferred of a pod's copies; the others go as duplicates of it."""
        keep = max(copies, key=self._preference)
        for dup in copies:
            if dup is not keep:
                why = f"duplicate of {keep.name} on {keep.host}"
                self.ctx.remove(dup, Bucket.extra, why, copy=True)
        return keep

    def _evicted(self, pod: ActualPod, canary: bool) -> bool:
        """A pod on a draining host is replaced elsewhere, unless its data pins it there."""
        if not self.ctx.host(pod.host).draining:
            return False
        if self.s.stateful and not canary:
            self.ctx.waiting.append(
                f"{pod.name} stays on draining host {pod.host}: its volume lives there"
            )
            return False
        return True

    def _preference(self, pod: ActualPod) -> tuple[bool, bool, float, str]:
        return (self.ctx.available(pod), pod.running, pod.created_at, pod.host)

    def _heal(self, pod: ActualPod) -> None:
        ctx = self.ctx
        if pod.restarting:
            return
        health = ctx.health(pod)
        reason = None
        if not pod.complete:
            reason = f"incomplete: {len(pod.containers)} of {pod.expected_containers} containers"
        elif not pod.running:
            main = pod.main
            states = {c.state for c in pod.containers}
            if states & {ContainerState.exited, ContainerState.dead, ContainerState.created}:
                code = main.exit_code if main else None
                reason = "exited" + (f" with code {code}" if code is not None else "")
        elif not health.live:
            reason = f"liveness probe failed{': ' + health.reason if health.reason else ''}"
        if reason is None:
            return
        until = ctx.inp.backoff_until.get(pod.key)
        if until is not None and until > ctx.inp.now:
            ctx.waiting.append(
                f"{pod.name} {reason}: back-off, restart in {until - ctx.inp.now:.0f} s"
            )
            return
        ctx.restart(pod, reason)

    def _roll(
        self,
        cur: dict[int, ActualPod],
        old: list[ActualPod],
        extras: list[ActualPod],
        lost_slots: set[int],
        *,
        replicas: int,
        revision: str,
        canary: bool,
    ) -> None:
        ctx, s = self.ctx, self.s
        # Replicas on unreachable hosts are unknown: the rollout goes on over the others
        # (one lost host must not stall every deployment) and leaves those slots alone.
        effective = replicas - len(lost_slots)
        surge, unavailable = _budgets(s, effective)
        live = [*cur.values(), *old]
        total = len(live) + len(lost_slots)
        available = sum(1 for p in live if ctx.available(p, s.min_ready_seconds))
        min_available = effective - unavailable

        # beyond the replica count: go, but an available one only while enough others are
        for pod in sorted(extras, key=lambda p: -p.slot):
            if ctx.available(pod, s.min_ready_seconds) and available < min_available:
                ctx.waiting.append(f"{pod.name} stays until the other replicas are ready")
                total += 1
            else:
                ctx.remove(pod, Bucket.extra, f"scale down to {replicas}")

        # old pods: the unavailable ones go at once, available ones within the budget
        budget = available - min_available
        cur_ready_slots = {k for k, p in cur.items() if ctx.available(p, s.min_ready_seconds)}
        removed_old: dict[int, list[str]] = defaultdict(list)

        def drop(pod: ActualPod, why: str) -> None:
            ctx.remove(pod, Bucket.outdated, why)
            removed_old[pod.slot].append(pod.key)

        ranked = sorted(
            old,
            key=lambda p: (
                ctx.available(p, s.min_ready_seconds),
                p.slot not in cur_ready_slots,
                -p.slot,
            ),
        )
        for pod in ranked:
            if not ctx.available(pod, s.min_ready_seconds):
                drop(pod, f"not ready, replaced by revision {revision}")
                total -= 1
            elif budget > 0 and (pod.slot in cur_ready_slots or surge == 0 or s.stateful):
                why = (
                    f"moved off draining host {pod.host}"
                    if pod.revision == revision
                    else f"rolling update {pod.revision} -> {revision}"
                )
                drop(pod, why)
                budget -= 1
                total -= 1

        # new pods, one per slot without one, while the surge budget allows
        if self.blocked:
            return
        old_by_slot: dict[int, list[ActualPod]] = defaultdict(list)
        for pod in old:
            old_by_slot[pod.slot].append(pod)

        def staying(slot: int) -> list[ActualPod]:
            return [p for p in old_by_slot[slot] if p.key not in ctx.removed]

        # slots that are empty or being emptied first: they need a pod most
        for slot in sorted(range(replicas), key=lambda k: (bool(staying(k)), k)):
            if slot in cur or slot in lost_slots:
                continue
            staying_old = staying(slot)
            if s.stateful and staying_old:
                continue  # the slot's volume is still in use by its old pod
            has_pod = bool(old_by_slot[slot])
            if has_pod and total >= replicas + surge:
                continue
            bucket = Bucket.outdated if has_pod else Bucket.missing
            lost_here = [p for p in self.lost if p.slot == slot and p.canary == canary]
            if lost_here and not has_pod:
                bucket = Bucket.lost
            reason = (
                f"replaces {', '.join(p.name for p in old_by_slot[slot])}"
                if has_pod
                else (f"host {lost_here[0].host} lost" if lost_here else "missing replica")
            )
            pinned_host, pinned_volume = self._pinned(slot, canary)
            if s.stateful and not canary and not self._safe_for_data(slot, pinned_host):
                continue
            ctx.creates.append(
                Create(
                    PlacementRequest(
                        service=s,
                        slot=slot,
                        canary=canary,
                        pinned_host=pinned_host,
                        pinned_volume=pinned_volume,
                    ),
                    revision=revision,
                    bucket=bucket,
                    reason=reason,
                    after=tuple(removed_old.get(slot, ())),
                )
            )
            total += 1

    def _safe_for_data(self, slot: int, pinned_host: str | None) -> bool:
        """A stateful replica is never recreated away from a volume that may hold its data."""
        ctx, s = self.ctx, self.s
        if pinned_host is not None and not ctx.host(pinned_host).reachable:
            ctx.waiting.append(
                f"{s.name}-{slot}: its volume lives on unreachable host {pinned_host}; "
                "not recreated elsewhere (data is never moved implicitly)"
            )
            return False
        # its last pod sits on a lost host, so its data does too, whatever volume list the
        # snapshot of that host holds (a run that skipped listing volumes leaves it short)
        away = sorted({p.host for p in self.lost if p.slot == slot and not p.canary})
        if away:
            ctx.waiting.append(
                f"{s.name}-{slot}: its last pod, and so its volume, is on unreachable host "
                f"{', '.join(away)}; not recreated elsewhere (data is never moved implicitly)"
            )
            return False
        if pinned_host is None:
            unknown = [h.name for h in ctx.inp.cluster.hosts.values() if not h.contents_known]
            if unknown:
                ctx.waiting.append(
                    f"{s.name}-{slot}: its volume may live on {', '.join(sorted(unknown))} "
                    "(unreachable, contents unknown); waiting for it to answer"
                )
                return False
        return True

    def _pinned(self, slot: int, canary: bool) -> tuple[str | None, str | None]:
        """A replica whose volume exists on a host must run there."""
        if canary or not self.s.persistent_volumes:
            return None, None
        for volume in self.s.persistent_volumes:
            name = volume_name(self.s.app, self.s.name, slot, volume)
            for host in sorted(self.ctx.inp.cluster.hosts.values(), key=lambda h: h.name):
                if name in host.volumes:
                    return host.name, name
        return None, None


def _budgets(service: DesiredService, replicas: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) made safe: never both 0, never the last ready replica."""
    surge, unavailable = service.max_surge, service.max_unavailable
    if service.stateful:
        # one volume per slot: a slot's new pod can only start after its old pod stopped
        return 0, max(unavailable, 1)
    if replicas >= 1:
        unavailable = min(unavailable, replicas - 1)
    if surge == 0 and unavailable == 0:
        surge = 1
    return surge, unavailable
