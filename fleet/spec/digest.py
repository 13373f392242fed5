"""The revision of a pod template: a short stable hash of what needs new containers.

What counts (a change rolls out new replicas): every container field (name,
image, command, args, env, ports, resources, probes, volume mounts) and the
pod's volumes; for env from a secret/file/variable, the SHA-256 of the current
value when a Blueprint is given (so a rotated secret rolls out, and the value
never enters the hash input in clear).

What does not count: replicas, strategy, labels and annotations, nodeSelector
and spread rules (placement: the scheduler moves replicas when they no longer
fit), terminationGracePeriodSeconds (applied at stop time), anything outside
the pod template. Defaults are left out before hashing, so a later fleet that
adds a field with a default does not change existing revisions; YAML key order
never matters.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fleet.spec.blueprint import Blueprint, Deployment

DIGEST_LENGTH = 10


def pod_spec_digest(
    deployment: Deployment,
    blueprint: Blueprint | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """10 hex chars identifying the deployment's pod template (see module doc for what counts).

    With `blueprint`, secret values are read (SpecError if one is missing) and
    their digests included; without it only the references count.
    """
    from fleet.spec.secrets import resolve_env

    pod = deployment.spec.template.spec
    containers: list[dict[str, Any]] = []
    for container in pod.containers:
        data = container.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        if blueprint is not None and any(v.value_from for v in container.env):
            resolved = resolve_env(container, blueprint, deployment, environ)
            data["resolvedEnv"] = [
                [name, value if isinstance(value, str) else {"sha256": value.digest()}]
                for name, value in resolved
            ]
        containers.append(data)
    material = {
        "containers": containers,
        "volumes": [
            v.model_dump(mode="json", by_alias=True, exclude_defaults=True) for v in pod.volumes
        ],
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_LENGTH]
