"""How a Plan reads: the diff `fleet plan` and `fleet apply` print, and its JSON (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fleet.desired import Target
from fleet.model import Action, ActionKind, HostState, PlacementDecision, Plan

SYMBOL = {ActionKind.create: "+", ActionKind.remove: "-", ActionKind.restart: "~"}
STYLE = {ActionKind.create: "green", ActionKind.remove: "red", ActionKind.restart: "yellow"}


def summary(plan: Plan) -> str:
    counts = {kind: 0 for kind in ActionKind}
    for action in plan.actions:
        counts[action.kind] += 1
    if plan.empty:
        return "No changes: the cluster matches the blueprints."
    waves = max(a.wave for a in plan.actions)
    parts = [
        f"{counts[ActionKind.create]} to create",
        f"{counts[ActionKind.remove]} to remove",
        f"{counts[ActionKind.restart]} to restart",
    ]
    return f"Plan: {', '.join(parts)} (in {waves} wave{'s' if waves > 1 else ''})."


def placement_line(decision: PlacementDecision, limit: int = 4) -> str:
    """`node2 (score 312.5; also node1 300.0) - not node3: insufficient memory: ...`"""
    chosen = next((s for h, s in decision.scores if h == decision.host), None)
    text = f"on {decision.host}" + (f" (score {chosen:.1f})" if chosen is not None else "")
    others = [f"{h} {s:.1f}" for h, s in decision.scores if h != decision.host][:2]
    if others:
        text += "; next: " + ", ".join(others)
    if decision.rejected:
        shown = [f"{r.host}: {r.reason}" for r in decision.rejected[:limit]]
        more = len(decision.rejected) - limit
        text += "; not " + "; ".join(shown) + (f"; +{more} more" if more > 0 else "")
    return text


def lines(
    plan: Plan,
    targets: Mapping[tuple[str, str], Target],
    hosts: Iterable[HostState],
) -> list[tuple[str, str]]:
    """(style, text) lines of the human plan; style is a rich style name or ""."""
    out: list[tuple[str, str]] = []
    unreachable = [h for h in hosts if not h.reachable]
    for host in unreachable:
        out.append(("red", f"! {host.name} unreachable: {host.error or 'no answer'}"))
    placements = {(p.service, p.slot, p.canary): p for p in plan.placements}
    by_service: dict[tuple[str, str], list[Action]] = {}
    for action in plan.actions:
        by_service.setdefault((action.app, action.service), []).append(action)
    for key in sorted(set(by_service) | {k for k in targets if _noted(targets[k])}):
        app, name = key
        target = targets.get(key)
        head = f"{name} ({app})"
        if target is not None:
            service = target.service
            head += f": {service.replicas} replica{'s' if service.replicas != 1 else ''}"
            head += f", revision {service.revision}"
            if target.note:
                head += f" - {target.note}"
        else:
            head += ": no longer in the blueprints"
        out.append(("bold", head))
        for action in sorted(by_service.get(key, []), key=lambda a: (a.wave, a.kind.value, a.pod)):
            out.append(
                (
                    STYLE[action.kind],
                    f"  {SYMBOL[action.kind]} {action.kind.value:<7} {action.pod:<28} "
                    f"on {action.host:<10} wave {action.wave}: {action.reason}",
                )
            )
            decision = placements.get((action.service, action.slot, action.canary))
            if action.kind is ActionKind.create and action.wave == 1 and decision is not None:
                out.append(("dim", f"      placed {placement_line(decision)}"))
    for pending in plan.pending:
        reasons = "; ".join(f"{r.host}: {r.reason}" for r in pending.rejected) or "no hosts"
        out.append(("red", f"pending {pending.replica}: fits on no host ({reasons})"))
    for line in plan.waiting:
        out.append(("yellow", f"waiting: {line}"))
    out.append(("bold", summary(plan)))
    return out


def _noted(target: Target) -> bool:
    return bool(target.note)


def as_json(
    plan: Plan,
    targets: Mapping[tuple[str, str], Target],
    hosts: Iterable[HostState],
    cluster: str,
) -> dict[str, Any]:
    return {
        "cluster": cluster,
        "changes": not plan.empty,
        "summary": summary(plan),
        "services": [
            {
                "app": t.service.app,
                "name": t.service.name,
                "replicas": t.service.replicas,
                "revision": t.service.revision,
                "file_revision": t.file_revision,
                "note": t.note,
            }
            for t in targets.values()
        ],
        "actions": [
            {
                "kind": a.kind.value,
                "host": a.host,
                "app": a.app,
                "service": a.service,
                "replica": a.replica,
                "pod": a.pod,
                "revision": a.revision,
                "bucket": a.bucket.value,
                "reason": a.reason,
                "wave": a.wave,
                "canary": a.canary,
            }
            for a in plan.actions
        ],
        "placements": [_decision(d) for d in plan.placements],
        "pending": [_decision(d) for d in plan.pending],
        "waiting": list(plan.waiting),
        "unreachable": [{"host": h.name, "error": h.error} for h in hosts if not h.reachable],
    }


def _decision(d: PlacementDecision) -> dict[str, Any]:
    return {
        "replica": d.replica,
        "service": d.service,
        "host": d.host,
        "scores": dict(d.scores),
        "rejected": {r.host: r.reason for r in d.rejected},
    }
