"""The sequential tests: exact supermartingale checks, simulated error rates under peeking at every
look, power, confidence sequences, and fuzzing of the pure functions."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy_actions.verify.canary import rules, stats
from deploy_actions.verify.canary.stats import RateTest, RatioTest


@pytest.mark.parametrize("module", [stats, rules])
def test_docstring_examples_hold(module):
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0


def _binom(n: int, k: int, p: float) -> float:
    return math.comb(n, k) * p ** k * (1 - p) ** (n - k)


@pytest.mark.parametrize(("n_canary", "n_baseline", "p_canary", "p_baseline"), [
    (10, 10, 0.2, 0.2), (3, 27, 0.1, 0.1), (20, 5, 0.05, 0.05), (12, 12, 0.1, 0.3), (8, 40, 0.02, 0.2),
])
def test_one_look_of_the_ratio_test_has_expectation_at_most_one_when_the_canary_is_no_worse(
        n_canary, n_baseline, p_canary, p_baseline):
    # Exact: sum over every outcome of both binomials.
    expectation = 0.0
    for k_c in range(n_canary + 1):
        for k_b in range(n_baseline + 1):
            e = RatioTest.update(RatioTest.start(), n_canary, k_c, n_baseline, k_b).e_value
            expectation += _binom(n_canary, k_c, p_canary) * _binom(n_baseline, k_b, p_baseline) * e
    assert expectation <= 1.0 + 1e-9
    if p_canary == p_baseline:
        assert expectation > 0.5  # not trivially small


@pytest.mark.parametrize(("n", "p"), [(10, 0.05), (30, 0.05), (30, 0.01), (50, 0.2)])
def test_one_look_of_the_rate_test_has_expectation_at_most_one_at_or_below_the_bound(n, p):
    for truth in (p, p / 2):
        expectation = sum(_binom(n, k, truth) * RateTest.update(RateTest.start(p), n, k).e_value for k in range(n + 1))
        assert expectation <= 1.0 + 1e-9


def _false_rejections(streams: int, looks: int, alpha: float, seed: int, p: float = 0.02) -> int:
    """Healthy streams (canary = baseline), a look after every batch, rejection at the first crossing."""
    rng = np.random.default_rng(seed)
    n_c = rng.poisson(20, (streams, looks))
    n_b = rng.poisson(60, (streams, looks))  # an uneven, varying split
    k_c, k_b = rng.binomial(n_c, p).tolist(), rng.binomial(n_b, p).tolist()
    n_c, n_b = n_c.tolist(), n_b.tolist()
    rejected = 0
    for s in range(streams):
        state = RatioTest.start()
        for t in range(looks):
            state = RatioTest.update(state, n_c[s][t], k_c[s][t], n_b[s][t], k_b[s][t])
            if state.rejects(alpha):
                rejected += 1
                break
    return rejected


def test_false_rejections_stay_within_alpha_however_often_it_looks():
    streams, alpha = 800, 0.05
    rejected = _false_rejections(streams, looks=60, alpha=alpha, seed=7)
    slack = 3 * math.sqrt(alpha * (1 - alpha) / streams)
    assert rejected / streams <= alpha + slack


def test_a_clear_regression_is_found_quickly():
    rng = np.random.default_rng(3)
    times = []
    for _ in range(200):
        state, t = RatioTest.start(), 0
        while not state.rejects(0.0025) and t < 200:
            t += 1
            n_c, n_b = rng.poisson(100), rng.poisson(900)  # 10 rps canary, 10 s looks
            state = RatioTest.update(state, n_c, rng.binomial(n_c, 0.025), n_b, rng.binomial(n_b, 0.005))
        times.append(t)
    assert np.median(times) <= 6  # +2 points found within a minute at 10 rps


def test_the_rate_test_keeps_alpha_at_the_bound():
    rng = np.random.default_rng(11)
    streams, alpha, p0 = 600, 0.05, 0.05
    rejected = 0
    for _ in range(streams):
        state = RateTest.start(p0)
        for _ in range(40):
            n = int(rng.poisson(30))
            state = RateTest.update(state, n, int(rng.binomial(n, p0)))
            if state.rejects(alpha):
                rejected += 1
                break
    assert rejected / streams <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / streams)


def test_bernoulli_confidence_sequence_covers_at_every_look():
    rng = np.random.default_rng(5)
    alpha, p, streams, misses = 0.1, 0.03, 150, 0
    for _ in range(streams):
        n = k = 0
        for _ in range(20):
            batch = int(rng.integers(1, 60))
            n, k = n + batch, k + int(rng.binomial(batch, p))
            lo, hi = stats.bernoulli_bounds(k, n, alpha)
            if not lo <= p <= hi:
                misses += 1
                break
    assert misses / streams <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / streams)


def test_quantile_bounds_bracket_the_truth_with_enough_data():
    buckets = ((0.1, 800.0), (0.2, 940.0), (0.3, 960.0), (0.5, 990.0), (math.inf, 1000.0))
    assert stats.quantile_upper_bound(buckets, 0.9, 0.01) == 0.2
    assert stats.quantile_lower_bound(buckets, 0.9, 0.01) == 0.1
    assert stats.quantile_upper_bound(buckets[-1:], 0.9, 0.01) == math.inf
    assert stats.quantile_lower_bound((), 0.9, 0.01) == 0.0


def test_histogram_quantile_matches_prometheus_conventions():
    assert stats.histogram_quantile(((0.1, 0.0), (math.inf, 0.0)), 0.5) is None
    assert stats.histogram_quantile(((0.1, 10.0), (math.inf, 100.0)), 0.99) == 0.1  # in +Inf: the top bound
    assert stats.histogram_quantile(((0.1, 0.0), (0.2, 100.0), (math.inf, 100.0)), 0.5) == pytest.approx(0.15)


def test_tail_boundary_needs_data_and_mass_on_both_sides():
    assert stats.tail_boundary(((0.1, 5.0), (math.inf, 10.0)), 0.95) is None  # too little data
    assert stats.tail_boundary(((0.1, 100.0), (0.2, 100.0), (math.inf, 100.0)), 0.95) is None  # nothing above
    assert stats.tail_boundary(((0.1, 50.0), (0.2, 96.0), (0.3, 99.0), (math.inf, 100.0)), 0.95) == 0.2


counts = st.floats(min_value=0, max_value=1e7, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(n_c=counts, k_c=counts, n_b=counts, k_b=counts)
def test_ratio_test_accepts_any_counts(n_c, k_c, n_b, k_b):
    state = RatioTest.update(RatioTest.start(), n_c, k_c, n_b, k_b)
    assert math.isfinite(state.log_e) and 0.0 <= state.p_value <= 1.0
    assert state.max_log_e >= 0.0


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 5000), k=st.integers(0, 5000), extra=st.integers(1, 50))
def test_more_canary_failures_are_more_evidence(n, k, extra):
    k = min(k, n)
    low = RatioTest.update(RatioTest.start(), n + extra, k, n + extra, k)
    high = RatioTest.update(RatioTest.start(), n + extra, min(k + extra, n + extra), n + extra, k)
    assert high.log_e >= low.log_e - 1e-9


@settings(max_examples=100, deadline=None)
@given(k=counts, n=counts, alpha=st.floats(min_value=1e-6, max_value=0.5))
def test_bernoulli_bounds_are_an_interval_around_the_estimate(k, n, alpha):
    lo, hi = stats.bernoulli_bounds(k, n, alpha)
    assert 0.0 <= lo <= hi <= 1.0
    n_r, k_r = max(0.0, round(n)), min(max(0.0, round(k)), max(0.0, round(n)))
    if n_r > 0:
        assert lo - 1e-9 <= k_r / n_r <= hi + 1e-9


def test_a_test_is_refused_alternatives_that_are_not_regressions():
    with pytest.raises(ValueError):
        RatioTest.start((0.5, 2.0))
    with pytest.raises(ValueError):
        RateTest.start(1.0)
