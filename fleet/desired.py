"""Desired state for the planner: blueprints (plus the journal's overrides) -> DesiredService.

The blueprint files say what is wanted; the local store may adjust three
things, each shown by `fleet plan`: a pin (`rollout undo`, or an automatic
rollback after a failed rollout) that holds a service at an earlier revision
while the file still asks for the failed one; the replica count an autoscaler
chose; and, for Canary services, which revision the stable replicas run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fleet.model import DesiredService, Placement, Resources, Strategy
from fleet.spec.blueprint import Blueprint, Deployment


@dataclass(frozen=True)
class Override:
    """What the journal says about one service beyond its blueprint."""

    # hold the service at this revision while the file's revision is `pinned_while`
    pin_revision: str | None = None
    pinned_while: str | None = None
    pin_reason: str = ""
    replicas: int | None = None  # chosen by the autoscaler
    # Canary: the revision the stable replicas run; None once the canary is promoted
    stable_revision: str | None = None


@dataclass(frozen=True)
class Target:
    """One service's desired state plus the Deployment whose pod template it runs."""

    service: DesiredService
    deployment: Deployment  # the pod template at `service.revision`
    file_revision: str  # what the blueprint file asks for
    note: str = ""  # why the target differs from the file, for plan output


def pod_requests(deployment: Deployment) -> Resources:
    """The pod's requests: the sum over its containers (as Kubernetes schedules pods)."""
    cpu = memory = 0
    for container in deployment.containers:
        cpu += container.resources.requests.cpu or 0
        memory += container.resources.requests.memory or 0
    return Resources(cpu, memory)


def persistent_volumes(deployment: Deployment) -> tuple[str, ...]:
    return tuple(
        sorted(v.name for v in deployment.spec.template.spec.volumes if v.kind == "persistent")
    )


def desired_service(
    deployment: Deployment,
    revision: str,
    *,
    replicas: int | None = None,
    stable_revision: str | None = None,
) -> DesiredService:
    """The planner's view of one Deployment at one revision."""
    spec = deployment.spec
    count = spec.replicas if replicas is None else replicas
    strategy = Strategy(spec.strategy.type)
    surge, unavailable = spec.strategy.resolve_surge_unavailable(count)
    canary = spec.strategy.canary
    canary_weight = canary.effective_weight(count) if canary else 0
    return DesiredService(
        app=deployment.app,
        name=deployment.name,
        replicas=count,
        revision=revision,
        requests=pod_requests(deployment),
        node_selector=tuple(sorted(spec.template.spec.node_selector.items())),
        max_per_host=spec.max_per_host,
        placement=Placement(spec.placement),
        strategy=strategy,
        max_surge=surge,
        max_unavailable=unavailable,
        min_ready_seconds=float(spec.min_ready_seconds),
        progress_deadline_seconds=float(spec.progress_deadline_seconds),
        depends_on=tuple(spec.depends_on),
        persistent_volumes=persistent_volumes(deployment),
        termination_grace_period_seconds=float(spec.template.spec.termination_grace_period_seconds),
        stable_revision=stable_revision if strategy is Strategy.canary else None,
        canary_replicas=canary.replicas if canary else 0,
        canary_weight=canary_weight,
    )


def targets(
    blueprint: Blueprint,
    revisions: Mapping[str, str],
    overrides: Mapping[str, Override],
    history: Mapping[tuple[str, str], Deployment],
) -> list[Target]:
    """Every Deployment's target: the file's revision unless the journal pins another.

    `revisions`: each deployment's file revision (blueprint.revision, computed once).
    `history`: earlier pod templates by (deployment name, revision), from the journal.
    """
    out: list[Target] = []
    for name in sorted(blueprint.deployments):
        deployment = blueprint.deployments[name]
        file_revision = revisions[name]
        override = overrides.get(name, Override())
        revision, template, note = file_revision, deployment, ""
        pinned = override.pin_revision
        if pinned and override.pinned_while == file_revision and pinned != file_revision:
            earlier = history.get((name, pinned))
            if earlier is not None:
                revision, template = pinned, _with_current_scale(earlier, deployment)
                note = f"held at revision {pinned}: {override.pin_reason}"
        stable = override.stable_revision
        if stable is not None and (name, stable) not in history:
            stable = None  # no pod template to run stable replicas from
        service = desired_service(
            template,
            revision,
            replicas=override.replicas,
            stable_revision=stable,
        )
        out.append(Target(service, template, file_revision, note))
    return out


def _with_current_scale(earlier: Deployment, current: Deployment) -> Deployment:
    """An earlier pod template, with today's replica count and rollout settings."""
    spec = current.spec.model_copy(update={"template": earlier.spec.template})
    return current.model_copy(update={"spec": spec})
