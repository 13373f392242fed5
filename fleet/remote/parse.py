"""Engine output -> typed facts. Pure functions, tested on output captured from real engines.

Docker and Podman agree on most `inspect` field names; where they differ
(info layout, health, network mode) both shapes are read here. Anything the
engine answers that cannot be read raises EngineError naming what was wrong,
never a silent empty result: a failed observation is not "no containers".
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from fleet.errors import EngineError
from fleet.remote.model import (
    ContainerInfo,
    ContainerStats,
    HostFacts,
    MountInfo,
    PublishedPort,
    VolumeInfo,
)

_SIZE = re.compile(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*")
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_time(value: object) -> datetime | None:
    """RFC 3339 with nanoseconds (`2026-01-02T03:04:05.123456789Z`); zero time -> None."""
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    text = value.strip()
    # Python keeps microseconds: cut the fraction to 6 digits, keep the zone
    match = re.fullmatch(r"(.*?T\d\d:\d\d:\d\d)(\.\d+)?(.*)", text)
    if match is None:
        return None
    base, frac, zone = match.groups()
    frac = (frac or "")[:7]
    zone = zone.strip()
    if zone.startswith("+") or zone.startswith("-"):
        zone = zone.split(" ")[0]  # podman's "+0000 UTC" style
        if re.fullmatch(r"[+-]\d{4}", zone):
            zone = zone[:3] + ":" + zone[3:]
    elif zone in ("Z", "", "UTC"):
        zone = "+00:00"
    try:
        return datetime.fromisoformat(base + frac + zone)
    except ValueError:
        return None


def parse_size(text: str) -> int:
    """`916KiB`, `1.5MB`, `23.54GiB`, `0B` -> bytes (Docker prints both SI and IEC units)."""
    match = _SIZE.fullmatch(text)
    if match is None or match.group(2).lower() not in _UNITS:
        raise EngineError(f"cannot read size {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EngineError(f"{what}: engine answered something that is not JSON ({exc})") from None


def _documents(text: str, what: str) -> list[dict[str, Any]]:
    """JSON lines (Docker `--format '{{json .}}'`) or one JSON array (Podman `json`)."""
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("["):
        docs = _json(stripped, what)
        if not isinstance(docs, list):
            raise EngineError(f"{what}: expected a JSON array")
        return [d for d in docs if isinstance(d, dict)]
    out = []
    for line in stripped.splitlines():
        if line.strip():
            doc = _json(line, what)
            if not isinstance(doc, dict):
                raise EngineError(f"{what}: expected a JSON object per line")
            out.append(doc)
    return out


# ---- host facts ---------------------------------------------------------------------------


def parse_host_facts(text: str, engine: str) -> HostFacts:
    """`docker info --format '{{json .}}'` or `podman info --format json` -> HostFacts."""
    info = _json(text.strip(), f"{engine} info")
    if not isinstance(info, dict):
        raise EngineError(f"{engine} info: expected a JSON object")
    if "host" in info and isinstance(info["host"], dict):  # podman
        host = info["host"]
        store = info.get("store") or {}
        version = info.get("version") or {}
        dist = host.get("distribution") or {}
        return HostFacts(
            hostname=str(host.get("hostname", "")),
            cpus=int(host.get("cpus", 0)),
            memory_bytes=int(host.get("memTotal", 0)),
            engine="podman",
            engine_version=str(version.get("Version", "")),
            containers_total=int((store.get("containerStore") or {}).get("number", 0)),
            os=" ".join(str(dist.get(k, "")) for k in ("distribution", "version")).strip(),
            kernel=str(host.get("kernel", "")),
        )
    if "ServerVersion" not in info:
        errors = info.get("ServerErrors") or []
        raise EngineError(
            f"{engine} info: no answer from the engine"
            + (f": {'; '.join(map(str, errors))}" if errors else "")
        )
    return HostFacts(
        hostname=str(info.get("Name", "")),
        cpus=int(info.get("NCPU", 0)),
        memory_bytes=int(info.get("MemTotal", 0)),
        engine="docker",
        engine_version=str(info.get("ServerVersion", "")),
        containers_total=int(info.get("Containers", 0)),
        os=str(info.get("OperatingSystem", "")),
        kernel=str(info.get("KernelVersion", "")),
    )


# ---- containers ---------------------------------------------------------------------------


def _ports(doc: dict[str, Any]) -> tuple[PublishedPort, ...]:
    ports = (doc.get("NetworkSettings") or {}).get("Ports") or {}
    out: list[PublishedPort] = []
    if isinstance(ports, dict):  # docker: {"80/tcp": [{"HostIp": .., "HostPort": ..}]}
        for key, bindings in sorted(ports.items()):
            number, _, proto = key.partition("/")
            for b in bindings or []:
                if b.get("HostPort"):
                    out.append(
                        PublishedPort(
                            int(number), proto or "tcp", b.get("HostIp") or "", int(b["HostPort"])
                        )
                    )
    return tuple(out)


def _addresses(doc: dict[str, Any]) -> dict[str, str]:
    networks = (doc.get("NetworkSettings") or {}).get("Networks") or {}
    return {
        name: str(net.get("IPAddress") or "")
        for name, net in sorted(networks.items())
        if isinstance(net, dict)
    }


def _mounts(doc: dict[str, Any]) -> tuple[MountInfo, ...]:
    out = []
    for m in doc.get("Mounts") or []:
        kind = str(m.get("Type", ""))
        source = str(m.get("Name") if kind == "volume" and m.get("Name") else m.get("Source", ""))
        out.append(MountInfo(kind, source, str(m.get("Destination", "")), not m.get("RW", True)))
    return tuple(out)


def _health(state: dict[str, Any]) -> str | None:
    health = state.get("Health") or state.get("Healthcheck")  # podman < 4 says Healthcheck
    if isinstance(health, dict) and health.get("Status"):
        return str(health["Status"])
    return None


def _image_id(value: object) -> str:
    """`sha256:<hex>` whether the engine says so (Docker) or prints bare hex (Podman)."""
    text = str(value or "")
    return "sha256:" + text if re.fullmatch(r"[0-9a-f]{64}", text) else text


def parse_container(doc: dict[str, Any]) -> ContainerInfo:
    """One `docker inspect` document (full, or fleet's trimmed template) -> ContainerInfo."""
    try:
        state = doc.get("State") or {}
        config = doc.get("Config") or {}
        host_config = doc.get("HostConfig") or {}
        restart = host_config.get("RestartPolicy") or {}
        image_ref = config.get("Image") or doc.get("ImageName") or ""
        return ContainerInfo(
            id=str(doc["Id"]),
            name=str(doc.get("Name", "")).lstrip("/"),
            image=str(image_ref),
            image_id=_image_id(doc.get("Image")),
            labels={str(k): str(v) for k, v in (config.get("Labels") or {}).items()},
            state=str(state.get("Status", "unknown")),
            health=_health(state),
            exit_code=int(state.get("ExitCode") or 0),
            created_at=parse_time(doc.get("Created")),
            started_at=parse_time(state.get("StartedAt")),
            finished_at=parse_time(state.get("FinishedAt")),
            restart_count=int(doc.get("RestartCount") or 0),
            ports=_ports(doc),
            addresses=_addresses(doc),
            network_mode=str(host_config.get("NetworkMode", "")),
            mounts=_mounts(doc),
            oom_killed=bool(state.get("OOMKilled", False)),
            error=str(state.get("Error") or ""),
            restart_policy=str(restart.get("Name") or ""),
            nano_cpus=int(host_config.get("NanoCpus") or 0),
            memory_limit=int(host_config.get("Memory") or 0),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EngineError(f"container inspect: unexpected document ({exc!r})") from None


def parse_containers(text: str) -> list[ContainerInfo]:
    """All containers of an inspect answer (JSON lines or a JSON array), sorted by name."""
    docs = _documents(text, "container inspect")
    return sorted((parse_container(d) for d in docs), key=lambda c: c.name)


# ---- stats, images, volumes ---------------------------------------------------------------


def _percent(text: object) -> float:
    value = str(text).strip().rstrip("%")
    try:
        return float(value)
    except ValueError:
        return 0.0  # "--" for a container that stopped meanwhile


def parse_stats(text: str) -> list[ContainerStats]:
    """`docker stats --no-stream --format '{{json .}}'` (or podman's json) -> ContainerStats."""
    out = []
    for doc in _documents(text, "stats"):
        usage = str(doc.get("MemUsage") or doc.get("mem_usage") or "0B / 0B")
        used, _, limit = usage.partition("/")
        out.append(
            ContainerStats(
                id=str(doc.get("ID") or doc.get("id") or doc.get("Container", "")),
                name=str(doc.get("Name") or doc.get("name", "")),
                cpu_percent=_percent(doc.get("CPUPerc") or doc.get("cpu_percent", "0")),
                memory_bytes=parse_size(used) if used.strip() not in ("", "--") else 0,
                memory_limit_bytes=parse_size(limit) if limit.strip() not in ("", "--") else 0,
                pids=int(str(doc.get("PIDs") or doc.get("pids") or "0").strip() or 0),
            )
        )
    return sorted(out, key=lambda s: s.name)


def parse_image_id(text: str) -> str | None:
    """The `sha256:...` id printed by `image inspect --format '{{.Id}}'`, None when absent."""
    value = text.strip()
    if not value:
        return None
    if not re.fullmatch(r"(sha256:)?[0-9a-f]{64}", value):
        raise EngineError(f"image inspect: {value[:80]!r} is not an image id")
    return value if value.startswith("sha256:") else "sha256:" + value


def parse_volumes(text: str) -> list[VolumeInfo]:
    """`docker volume ls --format '{{json .}}'` -> VolumeInfo (labels come as `k=v,k=v`)."""
    out = []
    for doc in _documents(text, "volume ls"):
        raw = doc.get("Labels") or ""
        labels: dict[str, str] = {}
        if isinstance(raw, dict):
            labels = {str(k): str(v) for k, v in raw.items()}
        else:
            for pair in str(raw).split(","):
                if "=" in pair:
                    key, _, value = pair.partition("=")
                    labels[key] = value
        out.append(VolumeInfo(str(doc.get("Name", "")), str(doc.get("Driver", "")), labels))
    return sorted(out, key=lambda v: v.name)


def parse_loaded_images(text: str) -> list[str]:
    """What `docker load` reports: `Loaded image: NAME` / `Loaded image ID: sha256:...`."""
    out: list[str] = []
    for line in text.splitlines():
        for prefix in ("Loaded image: ", "Loaded image ID: ", "Loaded image(s): "):
            if line.startswith(prefix):
                out.extend(x.strip() for x in line[len(prefix) :].split(",") if x.strip())
    return out
