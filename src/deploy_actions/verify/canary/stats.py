"""Anytime-valid sequential tests for canary analysis: pure functions over counts.

Every test here is a *mixture sequential probability ratio test* (mSPRT): the likelihood ratio of
the data under an alternative, averaged over a prior on alternatives, divided by its likelihood
under the null (Robbins 1970; Johari, Pekelis & Walsh, "Always Valid Inference", 2017/2022).
Under the null this e-value process starts at 1 and is a non-negative supermartingale, so by
Ville's inequality P(it ever reaches 1/alpha) <= alpha. Rejecting the first time it does is
therefore valid *however often and whenever one looks*, including stopping early; the running
maximum gives an always-valid p-value, min(1, 1/max e).

Two tests are used:

- `RatioTest`: canary versus baseline "bad events" (errors, or requests slower than a threshold)
  given the traffic split, as in Lindon, Sanden & Shirikian, "Rapid Regression Detection in
  Software Deployments through Sequential Testing" (KDD 2022). Conditional on the number of bad
  events in a look, each is a canary one with probability rho = theta*s / (theta*s + 1 - s), where
  s is the canary's share of the look's requests and theta = p_canary / p_baseline.
  H0: theta <= 1 (the canary is no worse). Counting requests above a threshold L fixed before the
  look (the baseline's quantile) makes the same test a test of stochastic order for latency:
  a canary no slower than the baseline has P(canary > L) <= P(baseline > L) for every L.
- `RateTest`: one sample, H0: p_canary <= p0 (the absolute guard, e.g. an error rate of 5 %).

The priors are discrete grids of alternatives (a finite mixture is still a mixture martingale),
so updates are a handful of logarithms and need nothing beyond the standard library.

`bernoulli_bounds` and the `quantile_*_bound` helpers give confidence sequences for one rate
(Robbins' beta-binomial mixture), used to decide whether a regression is surely smaller than a
tolerance; they never make a rollback more likely on a healthy canary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# theta = p_canary / p_baseline for the alternatives of the two-sample test: from a regression
# barely worth noticing (x1.25) to an outage (x50), log-spaced, equal prior weights.
RATIO_GRID: tuple[float, ...] = (1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.0, 10.0, 15.0, 25.0, 50.0)
# Odds multipliers for the one-sample test's alternatives: p_j/(1-p_j) = f * p0/(1-p0).
ODDS_GRID: tuple[float, ...] = (1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(v - top) for v in values))


@dataclass(frozen=True)
class MixtureState:
    """The state of a mixture SPRT: one log likelihood ratio per alternative.

    `log_e` is the log of the mixture e-value now, `max_log_e` its running maximum since the start.
    """

    null: float  # the parameter's value on the boundary of H0 (1 for a ratio, p0 for a rate)
    alternatives: tuple[float, ...]
    log_lr: tuple[float, ...]
    max_log_e: float = 0.0

    @property
    def log_e(self) -> float:
        return _logsumexp(self.log_lr) - math.log(len(self.log_lr))

    @property
    def e_value(self) -> float:
        return math.exp(min(self.log_e, 700.0))

    @property
    def p_value(self) -> float:
        """The always-valid p-value: P_H0(ever seeing evidence this strong) <= p_value."""
        return min(1.0, math.exp(-self.max_log_e))

    def rejects(self, alpha: float) -> bool:
        """True once the e-value has ever reached 1/alpha (sticky, as Ville's inequality allows)."""
        return self.max_log_e >= math.log(1.0 / alpha)

    def _with(self, log_lr: tuple[float, ...]) -> MixtureState:
        log_e = _logsumexp(log_lr) - math.log(len(log_lr))
        return MixtureState(self.null, self.alternatives, log_lr, max(self.max_log_e, log_e))


_LOG_CACHE: dict[tuple[float, ...], tuple[float, ...]] = {}


def _logs(values: tuple[float, ...]) -> tuple[float, ...]:
    cached = _LOG_CACHE.get(values)
    if cached is None:
        cached = _LOG_CACHE[values] = tuple(math.log(v) for v in values)
    return cached


def _counts(n: float, k: float) -> tuple[float, float]:
    n = max(0.0, round(n))
    return n, min(max(0.0, round(k)), n)


class RatioTest:
    """Canary vs baseline bad-event counts given the traffic split. H0: p_canary <= p_baseline.

    Guarantee: if in every look the canary's requests are at most as likely to be bad as the
    baseline's (independent requests; the looks' traffic counts may be anything), then
    P(`MixtureState.rejects(alpha)` ever becomes true) <= alpha.

    Why: for each alternative theta > 1, one look's factor is the binomial likelihood ratio of the
    canary's share of the bad events, Bin(k, rho_theta) over Bin(k, s). Under p_c = p_b the share
    is hypergeometric, smaller than Bin(k, s) in convex order (Hoeffding 1963), and the factor is
    convex in the canary's count, so its expectation is at most 1; for p_c < p_b the share is
    stochastically smaller still and the factor increasing. Products of such factors, mixed over
    theta, form a supermartingale.

    >>> state = RatioTest.start()
    >>> state = RatioTest.update(state, canary_requests=1000, canary_bad=30, baseline_requests=1000, baseline_bad=5)
    >>> state.rejects(0.01)
    True
    >>> RatioTest.update(RatioTest.start(), 1000, 5, 1000, 5).rejects(0.01)
    False
    """

    @staticmethod
    def start(grid: Sequence[float] = RATIO_GRID) -> MixtureState:
        if not grid or any(theta <= 1.0 for theta in grid):
            raise ValueError("the alternatives of a regression test are rate ratios above 1")
        return MixtureState(1.0, tuple(grid), tuple(0.0 for _ in grid))

    @staticmethod
    def update(state: MixtureState, canary_requests: float, canary_bad: float,
               baseline_requests: float, baseline_bad: float) -> MixtureState:
        """Add one look's increments. Looks where either side had no requests carry no evidence."""
        n_c, k_c = _counts(canary_requests, canary_bad)
        n_b, k_b = _counts(baseline_requests, baseline_bad)
        if n_c <= 0 or n_b <= 0 or k_c + k_b <= 0:
            return state
        share = n_c / (n_c + n_b)
        k = k_c + k_b
        log1p = math.log1p
        log_lr = tuple(
            llr + k_c * log_theta - k * log1p(share * (theta - 1.0))
            for theta, log_theta, llr in zip(state.alternatives, _logs(state.alternatives), state.log_lr, strict=True)
        )
        return state._with(log_lr)


class RateTest:
    """One rate against a fixed bound. H0: p <= p0, for independent requests.

    Guarantee: under H0, P(`MixtureState.rejects(alpha)` ever becomes true) <= alpha. Each
    alternative p_j > p0 gives a likelihood ratio whose expectation under any p <= p0 is at most 1
    (monotone likelihood ratio), so the mixture is a supermartingale.

    >>> state = RateTest.update(RateTest.start(0.05), requests=200, bad=40)
    >>> state.rejects(0.01)
    True
    >>> RateTest.update(RateTest.start(0.05), 200, 8).rejects(0.01)
    False
    """

    @staticmethod
    def start(p0: float, grid: Sequence[float] = ODDS_GRID) -> MixtureState:
        if not 0.0 < p0 < 1.0:
            raise ValueError("the bound of a rate test is strictly between 0 and 1")
        odds0 = p0 / (1.0 - p0)
        alternatives = tuple(odds0 * f / (1.0 + odds0 * f) for f in grid)
        return MixtureState(p0, alternatives, tuple(0.0 for _ in alternatives))

    @staticmethod
    def update(state: MixtureState, requests: float, bad: float) -> MixtureState:
        n, k = _counts(requests, bad)
        if n <= 0:
            return state
        p0 = state.null
        log_lr = tuple(
            llr + k * math.log(p / p0) + (n - k) * math.log((1.0 - p) / (1.0 - p0))
            for p, llr in zip(state.alternatives, state.log_lr, strict=True)
        )
        return state._with(log_lr)


# -- confidence sequences for one rate ---------------------------------------------------------

_PRIOR_A = 0.5
_PRIOR_B = 0.5


def _lbeta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def bernoulli_log_e(bad: float, requests: float, p0: float) -> float:
    """log of Robbins' beta-binomial mixture e-value for H0: p = p0 after `bad` of `requests`.

    A Beta(1/2, 1/2) mixture of Bernoulli likelihood ratios; a martingale under p0, so the set
    {p0 : e < 1/alpha} is a (1 - alpha) confidence sequence, valid at every look.
    """
    n, k = _counts(requests, bad)
    if n <= 0:
        return 0.0
    if p0 <= 0.0:
        return math.inf if k > 0 else _lbeta(_PRIOR_A, n + _PRIOR_B) - _lbeta(_PRIOR_A, _PRIOR_B)
    if p0 >= 1.0:
        return math.inf if k < n else _lbeta(n + _PRIOR_A, _PRIOR_B) - _lbeta(_PRIOR_A, _PRIOR_B)
    return (_lbeta(k + _PRIOR_A, n - k + _PRIOR_B) - _lbeta(_PRIOR_A, _PRIOR_B)
            - k * math.log(p0) - (n - k) * math.log1p(-p0))


def bernoulli_bounds(bad: float, requests: float, alpha: float) -> tuple[float, float]:
    """A (1 - alpha) anytime-valid confidence interval for a rate after `bad` of `requests`.

    >>> lo, hi = bernoulli_bounds(50, 1000, 0.01)
    >>> 0.02 < lo < 0.05 < hi < 0.09
    True
    """
    n, k = _counts(requests, bad)
    if n <= 0:
        return 0.0, 1.0
    level = math.log(1.0 / alpha)
    mle = k / n

    def outside(p: float) -> bool:
        return bernoulli_log_e(k, n, p) >= level

    def search(inside: float, out: float) -> float:
        for _ in range(40):  # 2**-40: far finer than any decision needs
            mid = (inside + out) / 2
            if outside(mid):
                out = mid
            else:
                inside = mid
        return inside

    lo = 0.0 if not outside(0.0) or k == 0 else search(mle, 0.0)
    hi = 1.0 if not outside(1.0) or k == n else search(mle, 1.0)
    return lo, hi


def quantile_upper_bound(buckets: Sequence[tuple[float, float]], q: float, alpha: float) -> float:
    """The smallest histogram bucket bound b with evidence that P(X <= b) > q, hence quantile_q <= b.

    `buckets` are cumulative (upper bound, count) pairs, ascending, the last one +Inf. Returns
    +Inf when no bound qualifies yet. Each bound's test is the beta-binomial mixture at level alpha.
    """
    if not buckets:
        return math.inf
    total = buckets[-1][1]
    level = math.log(1.0 / alpha)
    for bound, count in buckets:
        if total > 0 and count / total > q and bernoulli_log_e(count, total, q) >= level:
            return bound
    return math.inf


def quantile_lower_bound(buckets: Sequence[tuple[float, float]], q: float, alpha: float) -> float:
    """The largest histogram bucket bound b with evidence that P(X <= b) < q, hence quantile_q > b.

    Returns 0 when no bound qualifies yet.
    """
    if not buckets:
        return 0.0
    total = buckets[-1][1]
    level = math.log(1.0 / alpha)
    found = 0.0
    for bound, count in buckets:
        if math.isinf(bound):
            break
        if total > 0 and count / total < q and bernoulli_log_e(count, total, q) >= level:
            found = bound
    return found


def histogram_quantile(buckets: Sequence[tuple[float, float]], q: float) -> float | None:
    """The q-quantile of a cumulative histogram, interpolated linearly inside the bucket, as
    Prometheus' `histogram_quantile` does. None when the histogram is empty.

    >>> histogram_quantile([(0.1, 50), (0.2, 100), (math.inf, 100)], 0.75)
    0.15
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # as Prometheus does: the highest finite bound
            if count == lower_count:
                return bound
            return round(lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count), 12)
        lower_bound, lower_count = bound, count
    return lower_bound


def tail_boundary(buckets: Sequence[tuple[float, float]], q: float, minimum: float = 20) -> float | None:
    """The finite bucket bound whose cumulative share is closest to q, with some mass on both
    sides: where "slower than the baseline's q-quantile" is counted. None with too little data."""
    if not buckets or buckets[-1][1] < minimum:
        return None
    total = buckets[-1][1]
    best: tuple[float, float] | None = None
    for bound, count in buckets:
        share = count / total
        if math.isinf(bound) or share <= 0.0 or share >= 1.0:
            continue
        distance = abs(share - q)
        if best is None or distance < best[0]:
            best = (distance, bound)
    return None if best is None else best[1]
