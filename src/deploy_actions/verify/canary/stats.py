"""Anytime-valid sequential tests for canary analysis: pure functions over per-look counts.

**The unit of evidence is the look, not the request.** Errors and slowness cluster (a pod has a
bad second, one pod sits on a slow node), so a test that treats requests as independent finds
"evidence" in noise, and more of it the more traffic there is. `ExcessTest` sums one statistic per
look (an aligned window of both sides) and measures how much those per-look sums vary beyond what
independent requests would give: the Pearson dispersion phi of the canary's and the reference's
per-look counts around their own means. Clustered counts (a burst of size m) behave like counts of
independent clusters, so dividing the evidence by phi puts them back on the scale of independent
events; with independent requests phi stays near 1 and nothing is lost.

**The null hypothesis is the tolerance.** For a rule "the canary's rate may exceed the reference by
at most `margin`", H0 is E[canary rate] <= E[reference rate] + margin, over each look. The
reference is the baseline's rate in the same window (a relative guard) or a fixed bound (an
absolute guard). A canary inside its tolerance is rolled back at most alpha of the time.

**The boundary.** With D = sum over looks of (canary bad - canary requests x (reference + margin))
and V its variance under H0 (binomial at the null rate times the canary's phi, plus the
reference's own variance times the reference's phi), exp(lambda D/phi - psi(lambda) V/phi)
with psi(lambda) = e^lambda - 1 - lambda is a non-negative supermartingale under H0 for every
lambda > 0 when events are independent within clusters of size phi (Bennett's inequality: the
centred count of a look is bounded above by its cluster size; Howard, Ramdas, McAuliffe &
Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist. 2021,
the sub-Poisson case). A finite mixture over lambda is
still one, so by Ville's inequality P(it ever reaches 1/alpha) <= alpha: rejecting the first time
it does is valid however often and whenever one looks. phi is estimated from the looks (with a
prior of `PRIOR_LOOKS` looks at phi = 1, never below 1), which makes the guarantee asymptotic in
the number of looks as in Waudby-Smith et al., "Time-uniform central limit theory" (2024). The
baseline serves as an A/A control: its dispersion, scaled to the canary's traffic, is the least
the canary's is taken to be, and no evidence counts before `MIN_LOOKS` looks. The
seeded simulations in tests/verify/canary/test_simulated.py and benchmarks/canary_judges.py count
how close it holds on clustered and heterogeneous streams.

The same sums give the other direction: `ExcessTest.upper_bound` is the largest excess the data
still allows (an anytime-valid upper confidence bound), which the report quotes on promote.

Libraries considered (issue 11): `confseq` (Howard's uniform boundaries) ships only a C++ source
distribution that needs CMake and pybind11 to build and pulls numpy, scipy, pandas, matplotlib and
pytest at run time; `savvi` needs numpy, scipy and cvxpy and offers multinomial and regression
tests, not a per-look excess test with estimated dispersion; `expectation` needs Python >= 3.12.
Each would add tens of megabytes (or a compiler) to every composite action's first run for a
dozen lines of arithmetic, so the boundary is written here with the standard library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

# The mixture's lambdas: log-spaced, from a regression barely beyond the tolerance (lambda is about
# log(rate / null rate)) to an outage. Equal prior weights.
LAMBDAS: tuple[float, ...] = (0.15, 0.4, 0.9, 2.0, 4.0)
PRIOR_LOOKS = 2.0  # phi's prior: as if that many looks had shown no extra variance
# One look cannot tell a burst from an outage, and phi needs looks to be estimated: no evidence
# before this many looks with canary traffic (with the seeded clustered streams of the tests, a
# burst in the first look or two is otherwise a false rollback several times in a hundred).
MIN_LOOKS = 4
_TINY = 1e-9


def _psi(lam: float) -> float:
    """The sub-Poisson (Bennett) cumulant bound, upper tail."""
    return math.expm1(lam) - lam


def _psi_lower(lam: float) -> float:
    """The same for the lower tail of a count (bounded below): never more than lambda^2 / 2."""
    return math.expm1(-lam) + lam


def _logmeanexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values) / len(values))


def _dispersion(looks: int, n: float, k: float, k2_over_n: float) -> float:
    """Pearson's dispersion of per-look counts around their pooled rate, shrunk towards 1."""
    p = k / n if n > 0 else 0.0
    if looks < 2 or p * (1 - p) < 1e-12:
        return 1.0
    pearson = max(0.0, k2_over_n - 2 * p * k + p * p * n) / (p * (1 - p))
    return max(1.0, (PRIOR_LOOKS + pearson) / (PRIOR_LOOKS + looks - 1))


@dataclass(frozen=True)
class ExcessState:
    """Sums over looks of one guard's test (all on the count scale of the canary).

    `canary_*`: looks, requests, bad events and sum of bad^2/requests (for phi); `reference` the
    sum of canary requests x the look's reference rate; `reference_var` the variance of that sum
    from the reference's own sampling (0 for a fixed bound), with the reference's counts for its
    phi; `max_log_e` the running maximum of the evidence at `margin` (rejection is sticky).
    """

    margin: float
    looks: int = 0
    canary_n: float = 0.0
    canary_k: float = 0.0
    canary_k2n: float = 0.0
    reference: float = 0.0
    reference_var: float = 0.0
    ref_looks: int = 0
    ref_n: float = 0.0
    ref_k: float = 0.0
    ref_k2n: float = 0.0
    max_log_e: float = 0.0

    @property
    def phi(self) -> float:
        """The estimated extra variance of the canary's per-look counts (1: as independent
        requests); it is also the scale of the jumps a cluster makes in the excess.

        The baseline is a free A/A control: its own per-look dispersion, scaled to the canary's
        share of the traffic (a burst's size grows with the traffic it hits), is the least the
        canary's is taken to be. With a few looks, the canary's own estimate alone cannot tell a
        burst in every look from a higher rate."""
        own = _dispersion(self.looks, self.canary_n, self.canary_k, self.canary_k2n)
        if self.ref_n <= 0:
            return own
        return max(own, 1.0 + (self.reference_phi - 1.0) * self.canary_n / self.ref_n)

    @property
    def reference_phi(self) -> float:
        """The same for the reference's per-look counts (scales only the reference's variance)."""
        return _dispersion(self.ref_looks, self.ref_n, self.ref_k, self.ref_k2n)

    @property
    def canary_rate(self) -> float | None:
        return self.canary_k / self.canary_n if self.canary_n > 0 else None

    @property
    def reference_rate(self) -> float | None:
        """The reference rate over the looks, weighted by the canary's requests."""
        return self.reference / self.canary_n if self.canary_n > 0 else None

    def _sums(self, margin: float) -> tuple[float, float, float]:
        """(excess D, variance V, phi) of H0 "canary <= reference + margin"."""
        n = self.canary_n
        null = min(1 - _TINY, max(_TINY, self.reference / n + margin))
        phi = self.phi
        variance = n * null * (1 - null) * phi + self.reference_var * self.reference_phi
        return self.canary_k - self.reference - margin * n, variance, phi

    def log_e(self, margin: float | None = None) -> float:
        """log of the mixture e-value against H0 "canary <= reference + margin" now."""
        if self.looks < MIN_LOOKS:
            return 0.0
        excess, variance, phi = self._sums(self.margin if margin is None else margin)
        return _logmeanexp([lam * excess / phi - _psi(lam) * variance / phi for lam in LAMBDAS])

    def _log_e_below(self, margin: float) -> float:
        """log of the mixture e-value against H0' "canary >= reference + margin" (the other tail)."""
        excess, variance, phi = self._sums(margin)
        return _logmeanexp([-lam * excess / phi - _psi_lower(lam) * variance / phi for lam in LAMBDAS])

    @property
    def e_value(self) -> float:
        return math.exp(min(self.log_e(), 700.0))

    @property
    def p_value(self) -> float:
        """The always-valid p-value: P_H0(ever seeing evidence this strong) <= p_value."""
        return min(1.0, math.exp(-self.max_log_e))

    def rejects(self, alpha: float) -> bool:
        """True once the evidence has ever reached 1/alpha (sticky, as Ville's inequality allows)."""
        return self.max_log_e >= math.log(1.0 / alpha)

    def upper_bound(self, alpha: float) -> float | None:
        """The largest excess (canary rate minus reference rate) not ruled out at level alpha:
        every larger excess has evidence >= 1/alpha against it. None before the test has
        MIN_LOOKS looks (nothing is ruled out yet)."""
        if self.looks < MIN_LOOKS:
            return None
        level = math.log(1.0 / alpha)
        reference = self.reference / self.canary_n
        low, high = -reference, 1.0 - reference  # the excess of a rate lies in between
        if self._log_e_below(high) < level:
            return high
        for _ in range(50):
            mid = (low + high) / 2
            if self._log_e_below(mid) >= level:
                high = mid
            else:
                low = mid
        return high


class ExcessTest:
    """H0: in every look, E[canary bad / canary requests] <= E[reference rate] + margin.

    >>> state = ExcessTest.start(0.005)
    >>> for _ in range(6):  # 3 % errors against a 0.5 % baseline, 1000 canary requests a look
    ...     state = ExcessTest.update(state, 1000, 30, reference_rate=0.005, reference_requests=9000)
    >>> state.rejects(0.01)
    True
    >>> state = ExcessTest.start(0.005)
    >>> for _ in range(6):  # +0.3 points: inside the tolerance
    ...     state = ExcessTest.update(state, 1000, 8, reference_rate=0.005, reference_requests=9000)
    >>> state.rejects(0.01)
    False
    """

    @staticmethod
    def start(margin: float) -> ExcessState:
        if not -1.0 < margin < 1.0:
            raise ValueError("the margin of an excess test is a rate difference between -1 and 1")
        return ExcessState(margin)

    @staticmethod
    def update(state: ExcessState, requests: float, bad: float, *, reference_rate: float,
               reference_requests: float = 0.0) -> ExcessState:
        """Add one look: the canary's requests and bad events, and the reference's rate in the same
        window, from `reference_requests` requests (0: a fixed bound, no sampling variance).
        A look without canary requests carries no evidence."""
        n = max(0.0, requests)
        k = min(max(0.0, bad), n)
        if n <= 0:
            return state
        rate = min(1.0, max(0.0, reference_rate))
        out = replace(state, looks=state.looks + 1, canary_n=state.canary_n + n, canary_k=state.canary_k + k,
                      canary_k2n=state.canary_k2n + k * k / n, reference=state.reference + n * rate)
        if reference_requests > 0:
            m = reference_requests
            kb = rate * m
            out = replace(out, reference_var=out.reference_var + n * n * rate * (1 - rate) / m,
                          ref_looks=out.ref_looks + 1, ref_n=out.ref_n + m, ref_k=out.ref_k + kb,
                          ref_k2n=out.ref_k2n + kb * kb / m)
        return replace(out, max_log_e=max(out.max_log_e, out.log_e()))


def share_above(buckets: Sequence[tuple[float, float]], bound: float) -> float | None:
    """The share of a cumulative histogram's observations above `bound`, interpolating the
    cumulative count linearly in log(latency) inside the bucket that holds `bound` (linearly from
    0 in the first bucket). None when the histogram is empty.

    >>> share_above([(0.1, 50), (0.2, 100), (math.inf, 100)], math.sqrt(0.02))
    0.25
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for le, count in buckets:
        if bound <= le:
            if math.isinf(le):
                return round((total - lower_count) / total, 12)
            if lower_bound <= 0 or bound <= 0:
                fraction = bound / le
            else:
                fraction = math.log(bound / lower_bound) / math.log(le / lower_bound)
            return round(1.0 - (lower_count + fraction * (count - lower_count)) / total, 12)
        lower_bound, lower_count = le, count
    return 0.0


def shift_for_share(buckets: Sequence[tuple[float, float]], bound: float, share: float) -> float:
    """The factor f such that a canary f times slower than this histogram has `share` of its
    observations above `bound` (share_above(buckets, bound / f) == share): how the upper
    confidence bound of the share reads as a latency increase. Searched between 1/100 and 100."""
    low, high = math.log(0.01), math.log(100.0)
    for _ in range(60):
        mid = (low + high) / 2
        above = share_above(buckets, bound / math.exp(mid))
        if above is None:
            return math.nan
        if above < share:
            low = mid
        else:
            high = mid
    return math.exp(high)


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
    """The largest finite bucket bound at or below the histogram's q-quantile (at least 1 - q of
    the observations above it, some below): where "slower than the baseline's q-quantile" is
    counted, with as much data above it as the buckets allow. None with too little data.

    >>> tail_boundary([(0.05, 50), (0.1, 91), (0.25, 99.9), (math.inf, 100)], 0.95)
    0.1
    """
    if not buckets or buckets[-1][1] < minimum:
        return None
    total = buckets[-1][1]
    found: float | None = None
    for bound, count in buckets:
        share = count / total
        if math.isinf(bound) or share >= 1.0 or 1.0 - share < 1.0 - q - 1e-12:
            break
        if share > 0.0:
            found = bound
    return found
