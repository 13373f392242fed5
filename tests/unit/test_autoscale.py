"""Autoscaler arithmetic: Kubernetes' formula, tolerance, bounds, stabilisation window."""

from __future__ import annotations

from fleet.autoscale import recommend, stabilize, summary, utilization


def test_formula_scales_with_utilisation():
    assert recommend(2, 150.0, 50, 1, 10) == 6
    assert recommend(4, 25.0, 50, 1, 10) == 2


def test_within_tolerance_nothing_changes():
    assert recommend(3, 54.0, 50, 1, 10) == 3
    assert recommend(3, 46.0, 50, 1, 10) == 3


def test_bounds_hold():
    assert recommend(2, 1000.0, 50, 1, 5) == 5
    assert recommend(5, 1.0, 50, 2, 10) == 2


def test_utilisation_is_mean_cpu_over_request():
    # docker stats: 100 % = one core = 1000m; request 200m
    assert utilization([20.0, 40.0], 200) == 150.0
    assert utilization([], 200) is None
    assert utilization([10.0], 0) is None


def test_scale_up_is_immediate_scale_down_waits_for_the_window():
    replicas, history = stabilize([], now=0.0, window=60.0, proposal=6, current=2)
    assert replicas == 6
    replicas, history = stabilize(history, now=30.0, window=60.0, proposal=2, current=6)
    assert replicas == 6  # the recommendation of 6 at t=0 is still inside the window
    replicas, history = stabilize(history, now=61.0, window=60.0, proposal=2, current=6)
    assert replicas == 2
    assert [n for _, n in history] == [2, 2]


def test_summary_is_one_line_per_journal_record():
    record = {"min": 2, "max": 6, "utilization": 43.0, "target": 70, "replicas": 3}
    assert summary(record) == "HPA 2..6 cpu 43.0%/70%"
    assert summary({"min": 1, "max": 3, "target": 50}) == "HPA 1..3 cpu ?%/50%"  # not measured
    assert summary(None) == "" and summary({}) == ""
