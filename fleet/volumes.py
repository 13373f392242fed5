"""Fleet volumes no wanted replica will use, for `fleet apply --prune-volumes` (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from fleet.model import ClusterState, DesiredService, volume_name


def volumes_to_prune(
    cluster: ClusterState, services: Iterable[DesiredService], apps: frozenset[str]
) -> dict[str, list[str]]:
    """Per reachable host, fleet volumes of these apps that no wanted replica will use:
    slots beyond the replica count, services no longer desired, scratch volumes of pods
    that are gone. Only ever acted on when the operator asks (`--prune-volumes`)."""
    wanted = {
        volume_name(s.app, s.name, slot, v)
        for s in services
        for slot in range(s.replicas)
        for v in s.persistent_volumes
    }
    out: dict[str, list[str]] = {}
    for host in cluster.reachable_hosts():
        in_use = {v for p in host.pods for v in p.volumes}
        doomed = [
            v
            for v in host.volumes
            if v not in wanted and v not in in_use and _volume_app(v) in apps
        ]
        if doomed:
            out[host.name] = sorted(doomed)
    return out


def _volume_app(volume: str) -> str | None:
    """`fleet.demo.kv-0.data` / `fleet-tmp.demo.web-0.abc.cache` -> `demo`."""
    prefix, _, rest = volume.partition(".")
    if prefix not in ("fleet", "fleet-tmp"):
        return None
    return rest.partition(".")[0] or None
