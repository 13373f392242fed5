from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.spec.quantity import (
    QuantityError,
    format_cpu,
    format_memory,
    parse_cpu,
    parse_memory,
)


@pytest.mark.parametrize(
    ("text", "millicores"),
    [
        ("250m", 250),
        ("0.5", 500),
        ("1", 1000),
        (2, 2000),
        (0.25, 250),
        ("100m", 100),
        ("1e3m", 1000),
        ("0", 0),
        ("1.5", 1500),
        (".1", 100),
    ],
)
def test_cpu(text: str | int | float, millicores: int) -> None:
    assert parse_cpu(text) == millicores


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("128Mi", 128 * 2**20),
        ("128M", 128 * 10**6),
        ("1G", 10**9),
        ("1Gi", 2**30),
        (1024, 1024),
        ("1k", 1000),
        ("1Ki", 1024),
        ("0.5Ki", 512),
        ("1e3", 1000),
        ("1E", 10**18),
        ("100m", 1),
    ],  # 0.1 byte rounds up, as the API server does
)
def test_memory(text: str | int, size: int) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fast", '"fast" is not a CPU quantity'),
        ("0.0001", "finer than 1m"),
        ("-1", "must not be negative"),
        ("1 m", "not a CPU quantity"),
        (True, "not a CPU"),
        ("", "not a CPU quantity"),
        ("1Mb", "unknown suffix"),
    ],
)
def test_cpu_errors(text: str, message: str) -> None:
    with pytest.raises(QuantityError, match=message):
        parse_cpu(text)


@pytest.mark.parametrize("text", ["12XB", "lots", "-5Mi", "1.2.3"])
def test_memory_errors(text: str) -> None:
    with pytest.raises(QuantityError, match="not a memory quantity"):
        parse_memory(text)


def test_formats_are_canonical() -> None:
    assert format_cpu(2000) == "2" and format_cpu(250) == "250m"
    assert format_memory(128 * 2**20) == "128Mi"
    assert format_memory(128 * 10**6) == "128M"
    assert format_memory(1000) == "1k" and format_memory(1024) == "1Ki"
    assert format_memory(0) == "0" and format_memory(7) == "7"


@given(st.integers(min_value=0, max_value=10**9))
def test_cpu_round_trips(millicores: int) -> None:
    assert parse_cpu(format_cpu(millicores)) == millicores


@given(st.integers(min_value=0, max_value=2**62))
def test_memory_round_trips(size: int) -> None:
    assert parse_memory(format_memory(size)) == size
