"""Guards as the runbook writes them, custom metrics, failure counting and tolerance."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy_actions.errors import InputError
from deploy_actions.verify.canary import rules, stats
from deploy_actions.verify.canary.providers import ArmCounts
from tests.verify.canary.builders import arm


@pytest.mark.parametrize(("name", "text", "kind", "threshold", "for_seconds"), [
    ("error-rate", "5 for 2m", "rate", 0.05, 120),
    ("error-rate", "5% for 2m", "rate", 0.05, 120),
    ("error-rate", "2.5%", "rate", 0.025, 0),
    ("error-increase", "0.5", "increase", 0.005, 0),
    ("error-increase", "1pp for 30s", "increase", 0.01, 30),
    ("p95-increase", "50", "latency", 1.5, 0),
    ("p95-increase", "50% for 1m", "latency", 1.5, 60),
    ("p99-ratio", "5x for 5m", "latency", 5.0, 300),
])
def test_guards_read_as_the_runbook_writes_them(name, text, kind, threshold, for_seconds):
    guard = rules.parse_guard(f"max-{name}", text, name)
    assert guard is not None
    assert (guard.kind, guard.threshold, guard.for_seconds) == (kind, pytest.approx(threshold), for_seconds)


@pytest.mark.parametrize(("name", "text"), [
    ("error-rate", "five"), ("error-rate", "150%"), ("error-rate", "5x"), ("error-rate", "5% for ever"),
    ("error-increase", "-1"), ("p95-increase", "0"), ("p99-ratio", "0.5x"), ("p99-ratio", "5%"),
])
def test_a_bad_guard_is_one_input_error_naming_it(name, text):
    with pytest.raises(InputError) as err:
        rules.parse_guard(f"max-{name}", text, name)
    assert str(err.value).startswith(f"input 'max-{name}': got ")
    assert "\n" not in str(err.value)


def test_off_disables_a_guard():
    assert rules.parse_guard("max-p99-ratio", "off", "p99-ratio") is None


def test_the_defaults_are_the_runbooks():
    labels = [g.label for g in rules.default_guards()]
    assert labels == ["error rate > 5% for 2m", "error rate > baseline + 0.5 points", "p95 > baseline + 50%",
                      "p99 > 5x baseline for 5m"]


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=30), name=st.sampled_from(["error-rate", "error-increase", "p95-increase", "p99-ratio"]))
def test_any_guard_text_parses_or_is_an_input_error(text, name):
    try:
        guard = rules.parse_guard(f"max-{name}", text, name)
    except InputError as err:
        assert str(err).startswith(f"input 'max-{name}': got ")
    else:
        assert guard is None or guard.threshold > 0


METRICS = """
- name: queue-errors
  query: sum(rate(queue_errors_total{ {{ selector }} }[{{ interval }}]))
  max: 0.5
  for: 1m
- name: cache-hit-ratio
  query: avg(cache_hit_ratio{ {{selector}} })
  min: 0.8
"""


def test_custom_metrics_are_promql_templates_with_a_threshold():
    metrics = rules.parse_custom_metrics(METRICS)
    assert [(m.name, m.max, m.min, m.for_seconds) for m in metrics] == [
        ("queue-errors", 0.5, None, 60.0), ("cache-hit-ratio", None, 0.8, 0.0)]
    assert rules.render_query(metrics[0].query, 'app="x"', 10) == 'sum(rate(queue_errors_total{ app="x" }[10s]))'


@pytest.mark.parametrize("text", [
    "- name: x\n  query: up\n",  # no threshold
    "- name: x\n  max: 1\n",  # no query
    "- query: up\n  max: 1\n",  # no name
    "- name: x\n  query: up{ {{ namespace }} }\n  max: 1\n",  # unknown placeholder
    "- name: x\n  query: up\n  max: high\n",
    "- name: x\n  query: up\n  max: 1\n  weight: 2\n",
    "- name: x\n  query: up\n  max: 1\n- name: x\n  query: up\n  max: 2\n",
    "name: x",
    "- [unclosed",
    "- name: x\n  query: up\n  max: 1\n  for: soon\n",
])
def test_bad_custom_metrics_are_one_input_error(text):
    with pytest.raises(InputError) as err:
        rules.parse_custom_metrics(text)
    assert str(err.value).startswith("input 'metrics': got ")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_any_metrics_text_parses_or_is_an_input_error(text):
    try:
        rules.parse_custom_metrics(text)
    except InputError as err:
        assert str(err).startswith("input 'metrics': got ")


def _step(state, canary, baseline, canary_delta, baseline_delta, counting="consecutive", seconds=10.0, alpha=0.0025,
          previous=None):
    return rules.step(state, canary=canary, baseline=baseline, canary_delta=canary_delta,
                      baseline_delta=baseline_delta, previous_baseline=baseline if previous is None else previous,
                      seconds=seconds, alpha=alpha, counting=counting)


def _steady(guard, canary_delta, baseline_delta, looks=stats.MIN_LOOKS, previous=None):
    """The guard after `looks` identical looks (the first in which it may decide)."""
    state, canary, baseline = rules.start(guard), ArmCounts(), ArmCounts()
    for _ in range(looks):
        canary, baseline = canary.plus(canary_delta), baseline.plus(baseline_delta)
        state = _step(state, canary, baseline, canary_delta, baseline_delta, previous=previous)
    return state


def _errors_per_look(guard, errors, counting="consecutive"):
    state, total, verdicts = rules.start(guard), ArmCounts(), []
    for count in errors:  # 100 requests per look
        delta = ArmCounts(100.0, float(count))
        total = total.plus(delta)
        state = _step(state, total, arm(1000), delta, arm(100), counting=counting)
        verdicts.append(state.verdict)
    return verdicts


def test_no_guard_decides_before_its_test_has_looks_enough():
    guard = rules.Guard("error-rate", "rate", 0.05)
    assert _steady(guard, ArmCounts(100.0, 90.0), arm(900), looks=stats.MIN_LOOKS - 1).verdict == "pass"
    assert _steady(guard, ArmCounts(100.0, 90.0), arm(900)).verdict == "fail"


def test_the_absolute_guard_waits_out_its_for_and_a_clean_look_resets_it():
    guard = rules.Guard("error-rate", "rate", 0.05, for_seconds=30)
    early = stats.MIN_LOOKS - 1  # looks before the test may count
    verdicts = _errors_per_look(guard, (50,) * early + (50, 0, 50, 50, 50, 50))  # a clean look after the first breach
    assert verdicts == ["pass"] * early + ["watch", "pass", "watch", "watch", "fail", "fail"]


def test_cumulative_counting_never_resets():
    guard = rules.Guard("error-rate", "rate", 0.05, for_seconds=30)
    early = stats.MIN_LOOKS - 1
    verdicts = _errors_per_look(guard, (50,) * early + (50, 0, 50, 50), counting="cumulative")
    assert verdicts == ["pass"] * early + ["watch", "watch", "watch", "fail"]


def test_a_regression_inside_the_tolerance_is_the_null_not_a_rollback():
    # +0.1 points on a million requests a look: certain, and inside the 0.5-point tolerance, which is H0.
    guard = rules.Guard("error-increase", "increase", 0.005)
    baseline = arm(9_000_000, 45_000)
    state = _steady(guard, arm(1_000_000, 6_000), baseline)
    assert not state.test.rejects(0.0025) and state.verdict == "pass" and not state.rolled_back
    bound = state.largest_regression(0.0025, baseline)
    assert bound is not None and 0.001 < bound < 0.002  # what the data still allows: about +0.1 points


def test_a_regression_beyond_the_tolerance_rolls_back():
    guard = rules.Guard("error-increase", "increase", 0.005)
    state = _steady(guard, arm(2_000, 60), arm(18_000, 90))  # 3 % against 0.5 %
    assert state.rolled_back and state.verdict == "fail"


def test_an_absolute_breach_the_baseline_shares_is_held_not_rolled_back():
    guard = rules.Guard("error-rate", "rate", 0.05)
    canary = ArmCounts(1_000.0, 300.0)  # 30 % on both sides: an outage
    state = _steady(guard, canary, ArmCounts(9_000.0, 2_700.0))
    assert state.test.rejects(0.0025) and state.verdict == "shared" and not state.rolled_back
    assert _steady(guard, canary, ArmCounts(9_000.0, 45.0)).rolled_back  # the same canary beside a healthy baseline


def test_latency_counts_canary_requests_above_the_baselines_quantile():
    from tests.verify.canary.builders import SLOW

    guard = rules.Guard("p95-increase", "latency", 1.5, quantile=0.95)
    state = _steady(guard, arm(1_000, shares=SLOW), arm(9_000), previous=arm(5_000))
    assert state.boundary == 0.1  # 10 % of the baseline is slower than 0.1 s, 3 % slower than 0.25 s
    assert state.rolled_back and state.canary is not None and state.baseline is not None
    assert state.canary > 1.5 * state.baseline
    shift = state.largest_regression(0.0025, arm(27_000))
    assert shift is not None and shift > 1.5  # the data allows (and shows) more than +50 %


def test_latency_inside_the_tolerance_is_not_a_rollback():
    # Every canary request 20 % slower than the baseline's (the rule allows 50 %), with fine buckets.
    bounds = (*tuple(0.01 * 1.1 ** i for i in range(60)), math.inf)

    def lognormal(n, factor):
        from statistics import NormalDist

        cdf = [NormalDist(math.log(0.05 * factor), 0.5).cdf(math.log(b)) if math.isfinite(b) else 1.0
               for b in bounds]
        return ArmCounts(float(n), 0.0, tuple((b, round(n * c)) for b, c in zip(bounds, cdf, strict=True)))

    guard = rules.Guard("p95-increase", "latency", 1.5, quantile=0.95)
    state = _steady(guard, lognormal(100_000, 1.2), lognormal(900_000, 1.0), looks=10, previous=lognormal(900_000, 1.0))
    assert not state.test.rejects(0.0025) and not state.rolled_back
    slower = _steady(guard, lognormal(100_000, 2.0), lognormal(900_000, 1.0), previous=lognormal(900_000, 1.0))
    assert slower.rolled_back  # 2x slower is beyond it


def test_custom_metric_failure_counting():
    metric = rules.CustomMetric("queue", "q", max=1.0, for_seconds=20)
    state = rules.CustomState(metric)
    seen = []
    for value in (2.0, None, 2.0, 0.5, 2.0, 2.0, 2.0):
        state = rules.step_custom(state, value, None, 10.0, "consecutive")
        seen.append(state.verdict)
    assert seen == ["watch", "nodata", "fail", "pass", "watch", "fail", "fail"]
    assert math.isclose(rules.step_custom(rules.CustomState(metric), math.nan, 1.0, 10, "cumulative").baseline or 0, 1.0)
