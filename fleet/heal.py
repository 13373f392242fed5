"""One self-healing pass (`fleet heal`), and the loop of `fleet heal --watch`.

A pass is the apply loop's first wave, unattended: observe, probe, let the
autoscaler decide, plan, repair, keep HAProxy in step. It acts only on what it
could observe; a host that does not answer is rescheduled only after the
grace period (`--lost-after`), and never a replica whose data lives there.
Passes never overlap: each takes the cluster's lock, and a pass that finds
it held ends at once with exit code 4 (`--watch` just skips that turn).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from fleet.autoscale import DEFAULT_WINDOW, Decision, autoscale
from fleet.errors import FleetError, LockHeld
from fleet.observed import Outcome
from fleet.session import Session

# after a repair, how long a pass waits for the pods it started to be ready (then HAProxy
# routes to them in the same pass, not a cron minute later)
READY_WAIT = 10.0


@dataclass
class HealReport:
    outcome: Outcome | None = None
    autoscaled: list[Decision] = field(default_factory=list)
    skipped: str = ""  # why this pass did nothing (lock held)

    @property
    def repairs(self) -> list[str]:
        if self.outcome is None:
            return []
        lines = []
        for result in self.outcome.results:
            a = result.action
            state = "ok" if result.ok else f"FAILED: {result.error}"
            lines.append(f"{a.kind.value} {a.pod} on {a.host} ({a.reason}): {state}")
        for decision in self.autoscaled:
            if decision.replicas != decision.current:
                lines.append(
                    f"autoscale {decision.service}: {decision.current} -> {decision.replicas} "
                    f"({decision.reason})"
                )
        return lines

    @property
    def failed(self) -> bool:
        return self.outcome is not None and bool(self.outcome.failures)


async def heal_once(
    session: Session, *, scale_down_window: float = DEFAULT_WINDOW, timeout: float = 50.0
) -> HealReport:
    """One pass under the lock; raises LockHeld when another run holds it."""
    report = HealReport()
    async with session.lock("heal"):
        async with asyncio.timeout(timeout):
            reconciler = session.reconciler
            observed = await reconciler.look()
            report.autoscaled = await autoscale(
                session.blueprint,
                observed.cluster,
                session.engine,
                session.journal,
                observed.now,
                window=scale_down_window,
            )
            if any(d.replicas != d.current for d in report.autoscaled):
                observed = reconciler.replan(observed)
            report.outcome = await reconciler.heal_pass(
                observed, ready_wait=min(READY_WAIT, timeout / 4)
            )
    return report


async def watch(
    session: Session,
    *,
    interval: float,
    report: Callable[[HealReport], None],
    scale_down_window: float = DEFAULT_WINDOW,
    passes: int | None = None,
) -> None:
    """Heal every `interval` seconds (measured start to start) until cancelled."""
    done = 0
    loop = asyncio.get_running_loop()
    pass_timeout = max(interval * 10, 50.0)
    while passes is None or done < passes:
        started = loop.time()
        try:
            result = await heal_once(
                session, scale_down_window=scale_down_window, timeout=pass_timeout
            )
        except LockHeld as held:
            result = HealReport(skipped=str(held))
        except TimeoutError:
            # a host that stops answering mid-pass must not end the service's loop
            result = HealReport(skipped=f"the pass took longer than {pass_timeout:.0f} s")
        except FleetError as exc:
            result = HealReport(skipped=f"the pass failed: {exc}")
        report(result)
        done += 1
        await asyncio.sleep(max(0.0, interval - (loop.time() - started)))
