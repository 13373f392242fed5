"""Kubernetes resource quantities: cpu ("250m", "0.5", "2") and memory ("128Mi", "1G", bytes).

CPU is kept as integer millicores and memory as integer bytes, so arithmetic in
the scheduler is exact. Precision follows Kubernetes: CPU finer than 1m is an
error; memory finer than one byte is rounded up (as the API server does).
Decimal exponents ("1e3") are accepted as Kubernetes accepts them.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_QUANTITY = re.compile(rf"(?P<num>{_NUMBER})(?P<exp>[eE][+-]?[0-9]+)?(?P<suffix>[A-Za-z]*)")

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}
_DECIMAL_UP = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


class QuantityError(ValueError):
    """A string that is not a valid quantity of the kind asked for."""


def _show(text: object) -> str:
    return json.dumps(text) if isinstance(text, str) else repr(text)


def _parse(text: str | int | float, kind: str) -> Decimal:
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise QuantityError(f"{_show(text)} is not a {kind} quantity")
    raw = text if isinstance(text, str) else repr(text) if isinstance(text, float) else str(text)
    match = _QUANTITY.fullmatch(raw)
    if not match:
        raise QuantityError(f"{_show(text)} is not a {kind} quantity")
    suffix = match["suffix"]
    try:
        number = Decimal(match["num"] + (match["exp"] or ""))
    except InvalidOperation as exc:  # pragma: no cover - the regex already checked
        raise QuantityError(f"{_show(text)} is not a {kind} quantity") from exc
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    raise QuantityError(f"{_show(text)} is not a {kind} quantity (unknown suffix {suffix!r})")


def parse_cpu(text: str | int | float) -> int:
    """CPU quantity to millicores: "250m" -> 250, "0.5" -> 500, 2 -> 2000."""
    value = _parse(text, "CPU") * 1000
    if value < 0:
        raise QuantityError(f"{_show(text)} is not a CPU quantity: must not be negative")
    if value != value.to_integral_value():
        raise QuantityError(
            f"{_show(text)} is not a CPU quantity: precision finer than 1m is not allowed"
        )
    return int(value)


def parse_memory(text: str | int | float) -> int:
    """Memory quantity to bytes: "128Mi" -> 134217728, "1G" -> 10**9 (fractions round up)."""
    value = _parse(text, "memory")
    if value < 0:
        raise QuantityError(f"{_show(text)} is not a memory quantity: must not be negative")
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def format_cpu(millicores: int) -> str:
    """Millicores back to the canonical form: 2000 -> "2", 250 -> "250m"."""
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def format_memory(size: int) -> str:
    """Bytes back to the shortest exact form: 134217728 -> "128Mi", 128000000 -> "128M"."""
    best = str(size)
    if size == 0:
        return best
    # binary first, so "1024" becomes "1Ki" and ties prefer binary suffixes
    for suffix, factor in [*_BINARY.items(), *_DECIMAL_UP.items()]:
        if size % factor == 0:
            candidate = f"{size // factor}{suffix}"
            if len(candidate) < len(best):
                best = candidate
    return best
