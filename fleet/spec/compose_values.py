"""Compose values as fleet reads them (pure): byte sizes, durations, port and volume entries."""

from __future__ import annotations

import math
import re
from typing import Any

_BYTES = re.compile(r"(?i)\s*([0-9]+(?:\.[0-9]+)?)\s*([bkmgt]?)b?\s*")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(h|ms|m|s|us|ns)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


class ComposeError(ValueError):
    """A Compose value fleet cannot translate (raised inside, collected with a location)."""


def compose_bytes(value: Any) -> int:
    """Compose/Docker byte sizes are binary: "50M" = 50 MiB, "1g" = 1 GiB, 1024 = 1 KiB."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _BYTES.fullmatch(str(value))
    if not match:
        raise ComposeError(f"{value!r} is not a size (like 512m or 1g)")
    power = "bkmgt".index(match[2].lower()) if match[2] else 0
    number: float = float(match[1])
    return math.ceil(number * (1 << (10 * power)))


def compose_seconds(value: Any) -> float:
    """Compose durations: 10, "10s", "1m30s", "500ms"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ComposeError(f"{value!r} is not a duration (like 10s or 1m30s)")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def label_of(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-")


def port_of(raw: Any) -> tuple[int, int | None, str]:
    """(target, published or None, protocol) of a Compose port entry."""
    if isinstance(raw, dict):
        target, published = raw.get("target"), raw.get("published")
        protocol = str(raw.get("protocol", "tcp")).upper()
        if not isinstance(target, int):
            raise ComposeError("a long-syntax port needs target: a port number")
        return target, port_number(published) if published is not None else None, protocol
    text = str(raw)
    text, _, proto = text.partition("/")
    protocol = (proto or "tcp").upper()
    parts = text.rsplit(":", 2)
    if any("-" in p for p in parts[-2:]):
        raise ComposeError(f"port range {raw!r} is not supported; list the ports one by one")
    target = port_number(parts[-1])
    published = port_number(parts[-2]) if len(parts) >= 2 and parts[-2] else None
    return target, published, protocol


def port_number(value: Any) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise ComposeError(f"{value!r} is not a port number") from None
    if not 1 <= number <= 65535:
        raise ComposeError(f"port {number} is out of range (1-65535)")
    return number


def volume_of(raw: Any) -> tuple[str, str, str, bool]:
    """(kind volume|bind|tmpfs, source, target, read_only) of a Compose volume entry."""
    if isinstance(raw, dict):
        kind = str(raw.get("type", "volume"))
        if kind not in ("volume", "bind", "tmpfs"):
            raise ComposeError(f"volume type {kind!r} is not supported")
        target = raw.get("target")
        if not isinstance(target, str):
            raise ComposeError("a long-syntax volume needs target: a path")
        return kind, str(raw.get("source") or ""), target, bool(raw.get("read_only"))
    parts = str(raw).split(":")
    if len(parts) == 1:
        return "volume", "", parts[0], False
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) > 2 else ""
    kind = "bind" if source.startswith(("/", ".", "~")) else "volume"
    return kind, source, target, "ro" in mode.split(",")
