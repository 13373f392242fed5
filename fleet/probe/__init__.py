"""Liveness, readiness and startup probes with Kubernetes semantics.

    machine.py  the pure state machine: ProbeState (JSON for the journal), due, advance, health
    runner.py   running probes over SSH: run_probes, check_pods (due probes + advance)
    tunnel.py   httpx transport over an SSH direct-tcpip channel (HTTP probes)

Importing this package is light: httpx is imported only when probes run.
"""

from fleet.probe.machine import (
    ALL_KINDS,
    KINDS,
    Counter,
    Kind,
    Outcome,
    ProbeResult,
    ProbeSpec,
    ProbeState,
    advance,
    due,
    fresh_state,
    health,
    health_key,
    next_due,
)
from fleet.probe.runner import (
    ProbeTarget,
    check_pods,
    pod_started_at,
    probe_endpoint,
    run_probes,
)

__all__ = [
    "ALL_KINDS", "KINDS", "Counter", "Kind", "Outcome", "ProbeResult", "ProbeSpec",
    "ProbeState", "ProbeTarget", "advance", "check_pods", "due", "fresh_state", "health",
    "health_key", "next_due", "pod_started_at", "probe_endpoint", "run_probes",
]  # fmt: skip
