"""Canary weights: the canary servers' share of requests is the canary weight (+/- 1 %)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.lb.render import MAX_WEIGHT, canary_weights, render
from fleet.model import ClusterState, PodHealth
from fleet.probe.machine import health_key
from tests.unit.lb.cases import demo_cluster, demo_services, web


def share(weight: int, stable: int, canary: int) -> float:
    ws, wc = canary_weights(weight, stable, canary)
    assert 0 <= ws <= MAX_WEIGHT and 0 <= wc <= MAX_WEIGHT
    return 100 * canary * wc / (canary * wc + stable * ws)


@pytest.mark.parametrize(
    ("weight", "stable", "canary", "expected"),
    [(20, 3, 1, (4, 3)), (20, 2, 1, (2, 1)), (50, 1, 1, (1, 1)), (10, 9, 1, (1, 1)),
     (33, 7, 3, (67, 77)), (1, 9, 1, (11, 1))],
)  # fmt: skip
def test_exact_weights(weight: int, stable: int, canary: int, expected: tuple[int, int]) -> None:
    assert canary_weights(weight, stable, canary) == expected
    assert share(weight, stable, canary) == pytest.approx(weight, abs=1e-9)


def test_closest_pair_when_the_exact_ratio_exceeds_256() -> None:
    # 63 % over 11 stable servers against 37 % over 3 canaries is 189 : 407 exactly
    assert canary_weights(37, 11, 3) == (111, 239)
    assert share(37, 11, 3) == pytest.approx(37, abs=0.01)


def test_edges() -> None:
    assert canary_weights(0, 3, 1) == (1, 0)  # canary out, but no traffic for it
    assert canary_weights(100, 3, 1) == (0, 1)
    assert canary_weights(20, 0, 2) == (1, 1)  # only canaries ready: they serve
    assert canary_weights(20, 3, 0) == (1, 1)


@given(
    st.integers(min_value=1, max_value=99),
    st.integers(min_value=1, max_value=20),
    st.integers(min_value=1, max_value=10),
)
def test_share_within_one_percent(weight: int, stable: int, canary: int) -> None:
    # HAProxy weights stop at 256: e.g. 10 canaries at 1 % beside 1 stable server cannot be
    # expressed; then the extreme pair is the closest
    lowest = canary / (canary + stable * MAX_WEIGHT)
    highest = 1 - stable / (stable + canary * MAX_WEIGHT)
    expressible = lowest <= weight / 100 <= highest
    got = share(weight, stable, canary)
    if expressible:
        assert abs(got - weight) <= 1.0, canary_weights(weight, stable, canary)
    else:
        assert min(abs(got - 100 * lowest), abs(got - 100 * highest)) < 1e-9


def test_rendered_canary_weights() -> None:
    from tests.unit.factories import service

    state, health = demo_cluster()
    canary = web("node3", 0, revision="c0ffee0000", port=32800, canary=True)
    node3 = replace(state.hosts["node3"], pods=(*state.hosts["node3"].pods, canary))
    cluster = ClusterState({**state.hosts, "node3": node3})
    desired = service("web", replicas=3, revision="c0ffee0000", stable_revision="3f9a1c2b7e",
                      canary_replicas=1, canary_weight=20)
    health = {**health, health_key(canary): PodHealth(ready=True)}
    text = render(demo_services((desired,)), cluster, health).text
    # 2 ready stable replicas, 1 canary: 80 % over 2, 20 % over 1 -> 40 : 20 -> 2 : 1
    check = "check inter 2s fall 2 rise 1"
    assert f"    server web-0.3f9a1c2b7e 10.0.0.11:32770 {check} weight 2\n" in text
    assert f"    server web-1.3f9a1c2b7e 10.0.0.12:32768 {check} weight 2\n" in text
    assert f"    server web-canary-0.c0ffee0000 10.0.0.13:32800 {check} weight 1\n" in text
    # kv has no canary: no weights
    kv = text.split("listen demo.kv.7070", 1)[1].split("listen", 1)[0]
    assert "weight" not in kv
