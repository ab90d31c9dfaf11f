"""The per-look excess test: exact supermartingale checks for one look, simulated error rates under
peeking at every look with the null at the tolerance (independent and clustered counts), power,
the confidence bound's coverage, and fuzzing of the pure functions."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy_actions.verify.canary import rules, stats
from deploy_actions.verify.canary.stats import ExcessTest


@pytest.mark.parametrize("module", [stats, rules])
def test_docstring_examples_hold(module):
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0


def _binom(n: int, k: int, p: float) -> float:
    return math.comb(n, k) * p ** k * (1 - p) ** (n - k)


@pytest.mark.parametrize(("n", "p0", "margin"), [(10, 0.05, 0.0), (30, 0.05, 0.0), (30, 0.01, 0.0), (50, 0.2, 0.0),
                                                 (40, 0.01, 0.005)])
def test_one_look_has_expectation_at_most_one_inside_the_null(n, p0, margin):
    # Exact: the sum over every outcome of the canary's binomial, at the null's boundary and inside it.
    def e_value(k: int) -> float:
        state = ExcessTest.start(margin)
        for _ in range(stats.MIN_LOOKS - 1):  # earlier looks at the null's mean: phi stays 1
            state = ExcessTest.update(state, n, n * (p0 + margin), reference_rate=p0)
        return ExcessTest.update(state, n, k, reference_rate=p0).e_value

    for truth in (p0 + margin, (p0 + margin) / 2):
        assert sum(_binom(n, k, truth) * e_value(k) for k in range(n + 1)) <= 1.0 + 1e-9
    at_boundary = sum(_binom(n, k, p0 + margin) * e_value(k) for k in range(n + 1))
    assert at_boundary > 0.1  # not trivially small


def _false_rejections(streams: int, looks: int, alpha: float, seed: int, *, cluster: float = 0.0,
                      margin: float = 0.005, p_b: float = 0.01) -> float:
    """Streams whose canary sits exactly at the tolerance (p_b + margin), a look after every batch of an
    uneven, varying split; `cluster` > 0 draws each look's canary rate from a beta distribution
    (within-look clustering: extra variance that grows with traffic). The share ever rejected."""
    rng = np.random.default_rng(seed)
    n_c = rng.poisson(200, (streams, looks))
    n_b = rng.poisson(1800, (streams, looks))
    p_c = np.full((streams, looks), p_b + margin)
    if cluster:
        mean = p_b + margin
        p_c = rng.beta(mean / cluster, (1 - mean) / cluster, (streams, looks))
    k_c, k_b = rng.binomial(n_c, p_c).tolist(), rng.binomial(n_b, p_b).tolist()
    n_c, n_b = n_c.tolist(), n_b.tolist()
    rejected = 0
    for s in range(streams):
        state = ExcessTest.start(margin)
        for t in range(looks):
            state = ExcessTest.update(state, n_c[s][t], k_c[s][t], reference_rate=k_b[s][t] / n_b[s][t],
                                      reference_requests=n_b[s][t])
            if state.rejects(alpha):
                rejected += 1
                break
    return rejected / streams


def _slack(alpha: float, n: int) -> float:
    return 3 * math.sqrt(alpha * (1 - alpha) / n)


def test_false_rejections_at_the_tolerance_stay_within_alpha_however_often_it_looks():
    alpha, streams = 0.05, 600
    assert _false_rejections(streams, looks=60, alpha=alpha, seed=7) <= alpha + _slack(alpha, streams)


def test_clustered_counts_do_not_inflate_the_evidence():
    # Each look's canary rate varies (beta, dispersion about 1 + 200 * 0.02 = 5): a per-request test
    # rejects most of these streams; the per-look dispersion keeps the rate near alpha.
    alpha, streams = 0.05, 600
    assert _false_rejections(streams, looks=60, alpha=alpha, seed=8, cluster=0.02) <= alpha + _slack(alpha, streams)


def test_a_clear_regression_is_found_quickly():
    rng = np.random.default_rng(3)
    times = []
    for _ in range(200):
        state, t = ExcessTest.start(0.005), 0
        while not state.rejects(0.0025) and t < 200:
            t += 1
            n_c, n_b = rng.poisson(100), rng.poisson(900)  # 10 rps canary, 10 s looks
            state = ExcessTest.update(state, n_c, rng.binomial(n_c, 0.045), reference_rate=rng.binomial(n_b, 0.005)
                                      / n_b, reference_requests=n_b)
        times.append(t)
    assert np.median(times) <= 6  # +4 points found within a minute at 10 rps


def test_the_upper_bound_covers_the_true_excess_at_every_look():
    rng = np.random.default_rng(5)
    alpha, streams, misses = 0.1, 200, 0
    for _ in range(streams):
        state = ExcessTest.start(0.0)
        for _ in range(30):
            n, m = int(rng.integers(20, 200)), int(rng.integers(200, 2000))
            state = ExcessTest.update(state, n, int(rng.binomial(n, 0.03)), reference_rate=rng.binomial(m, 0.02) / m,
                                      reference_requests=m)
            bound = state.upper_bound(alpha)  # None: too few looks, nothing ruled out yet
            if bound is not None and bound < 0.01:
                misses += 1
                break
    assert misses / streams <= alpha + _slack(alpha, streams)


def test_share_above_and_the_shift_it_reads_as():
    buckets = ((0.05, 500.0), (0.1, 900.0), (0.25, 990.0), (math.inf, 1000.0))
    assert stats.share_above(buckets, 0.1) == pytest.approx(0.1)
    assert stats.share_above(buckets, 1.0) == pytest.approx(0.01)  # above the top bound: the +Inf bucket
    assert stats.share_above((), 0.1) is None
    assert stats.shift_for_share(buckets, 0.1, 0.1) == pytest.approx(1.0, rel=1e-6)
    factor = stats.shift_for_share(buckets, 0.1, 0.5)  # half above 100 ms: as slow as 2x the median's bound
    assert factor == pytest.approx(2.0, rel=1e-6)


def test_histogram_quantile_matches_prometheus_conventions():
    assert stats.histogram_quantile(((0.1, 0.0), (math.inf, 0.0)), 0.5) is None
    assert stats.histogram_quantile(((0.1, 10.0), (math.inf, 100.0)), 0.99) == 0.1  # in +Inf: the top bound
    assert stats.histogram_quantile(((0.1, 0.0), (0.2, 100.0), (math.inf, 100.0)), 0.5) == pytest.approx(0.15)


def test_tail_boundary_needs_data_and_mass_on_both_sides():
    assert stats.tail_boundary(((0.1, 5.0), (math.inf, 10.0)), 0.95) is None  # too little data
    assert stats.tail_boundary(((0.1, 100.0), (0.2, 100.0), (math.inf, 100.0)), 0.95) is None  # nothing above
    assert stats.tail_boundary(((0.1, 50.0), (0.2, 96.0), (0.3, 99.0), (math.inf, 100.0)), 0.95) == 0.1
    assert stats.tail_boundary(((0.1, 50.0), (0.2, 95.0), (0.3, 99.0), (math.inf, 100.0)), 0.95) == 0.2  # at it


counts = st.floats(min_value=0, max_value=1e7, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(n=counts, k=counts, rate=st.floats(0, 1), m=counts, margin=st.floats(-0.5, 0.5))
def test_the_test_accepts_any_counts(n, k, rate, m, margin):
    state = ExcessTest.update(ExcessTest.start(margin), n, k, reference_rate=rate, reference_requests=m)
    state = ExcessTest.update(state, n, k / 2, reference_rate=rate, reference_requests=m)
    assert math.isfinite(state.log_e()) and 0.0 <= state.p_value <= 1.0 and state.max_log_e >= state.log_e() - 1e-9
    bound = state.upper_bound(0.01)
    assert bound is None or -1.0 <= bound <= 1.0


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 5000), k=st.integers(0, 5000), extra=st.integers(1, 50))
def test_more_canary_failures_are_more_evidence(n, k, extra):
    k = min(k, n)
    low = high = ExcessTest.start(0.0)
    for _ in range(stats.MIN_LOOKS):
        low = ExcessTest.update(low, n + extra, k, reference_rate=0.01)
        high = ExcessTest.update(high, n + extra, min(k + extra, n + extra), reference_rate=0.01)
    assert high.log_e() >= low.log_e() - 1e-9


def test_a_margin_is_a_rate_difference():
    with pytest.raises(ValueError):
        ExcessTest.start(1.5)
