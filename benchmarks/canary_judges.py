#!/usr/bin/env python3
"""Canary judges side by side, on the same simulated request streams, in virtual time.

A seeded simulator produces what Prometheus would hold for a canary and its baseline every
10 s: request counts, 5xx counts and latency histograms (prometheus-client's default buckets).
Four judges read the same streams:

  ours     deploy_actions.verify.canary with its defaults (alpha 0.01, look every 10 s,
           min-duration 5m, min-requests 300, duration 10m)
  flagger  every 60 s: request-success-rate >= 99 % and request-duration p99 <= 500 ms over the
           interval; a failed check (no data included) adds 1 to a cumulative counter; rollback at
           5 failed checks, promote after 10 passing intervals
  kayenta  at the end of the 10 minutes: NetflixACAJudge's Mann-Whitney classifier (confidence
           0.98, tolerance 0.25, direction increase) on the 10 per-minute error rates and p95s of
           each side; score = pass / classified x 100, 0 when half the metrics have no data;
           promote at >= 95, otherwise roll back
  argo     an AnalysisRun measuring every 60 s `success rate over [5m] >= 0.95` (the example in
           Argo Rollouts' documentation), failureLimit 0, consecutiveErrorLimit 4 (an empty
           result is an error), count 10

Traffic levels are the canary's requests per second; the baseline is the stable version taking
the other 90 % (canary weight 10 %, the usual first step of Flagger and Argo Rollouts). Healthy:
0.5 % errors, log-normal latency with median 50 ms and sigma 0.5 (p95 114 ms). Scenarios change
the canary only, except "bursty, both sides" (shared 20 s bursts of 10 % errors every 2 min, a
healthy canary in a noisy system) and "no data" (the canary's series never appear).

    python benchmarks/canary_judges.py                 # 500 seeds per scenario and traffic level
    python benchmarks/canary_judges.py --seeds 2000 --json results.json

The false-rollback rate is the share of healthy streams rolled back; detection is the share of
regressed streams rolled back within the 10 minutes, and the median time to detect is over all
streams (a miss counts as never, so it is "never" below 50 % detection).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from deploy_actions.verify.canary.decision import AnalysisConfig, CanaryAnalysis  # noqa: E402
from deploy_actions.verify.canary.providers import ArmCounts, LookData  # noqa: E402

TICK = 10.0  # seconds between simulated scrapes (and our looks)
WINDOW = 600.0  # every judge gets 10 minutes
TICKS = int(WINDOW / TICK)
PROM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, math.inf)
BASE_ERROR = 0.005
LATENCY_MEDIAN = 0.050
LATENCY_SIGMA = 0.5
CANARY_WEIGHT = 0.10
TRAFFIC = (1, 10, 100)
ALPHA = 0.01


# -- scenarios and streams ---------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # healthy | regression | nodata
    error_increase: float = 0.0
    latency_factor: float = 1.0
    bursts: str = ""  # "" | "canary" | "both"


SCENARIOS = (
    Scenario("healthy", "healthy"),
    Scenario("errors +0.5 pts", "regression", error_increase=0.005),
    Scenario("errors +1 pts", "regression", error_increase=0.01),
    Scenario("errors +2 pts", "regression", error_increase=0.02),
    Scenario("errors +5 pts", "regression", error_increase=0.05),
    Scenario("p95 +20 %", "regression", latency_factor=1.2),
    Scenario("p95 +50 %", "regression", latency_factor=1.5),
    Scenario("bursty, canary", "regression", bursts="canary"),
    Scenario("bursty, both sides", "healthy", bursts="both"),
    Scenario("no data", "nodata"),
)
BURST_EVERY, BURST_TICKS, BURST_RATE = 12, 2, 0.10  # 20 s of 10 % errors every 2 minutes


def _bucket_probs(factor: float) -> np.ndarray:
    from statistics import NormalDist

    z = NormalDist()
    cdf = [z.cdf((math.log(b) - math.log(LATENCY_MEDIAN * factor)) / LATENCY_SIGMA) if math.isfinite(b) else 1.0
           for b in PROM_BUCKETS]
    return np.diff(np.array([0.0, *cdf]))


@dataclass
class Streams:
    """Per tick (seeds x ticks): requests, errors and per-bucket counts (seeds x ticks x buckets)."""

    canary_n: np.ndarray
    canary_e: np.ndarray
    canary_h: np.ndarray
    baseline_n: np.ndarray
    baseline_e: np.ndarray
    baseline_h: np.ndarray
    canary_missing: bool = False

    def cumulative(self) -> tuple[np.ndarray, ...]:
        return tuple(np.cumsum(a, axis=1) for a in (self.canary_n, self.canary_e, self.canary_h,
                                                    self.baseline_n, self.baseline_e, self.baseline_h))


def simulate(scenario: Scenario, rps: float, seeds: int, seed: int = 0) -> Streams:
    """Seeded streams for `seeds` independent canaries; the same arguments give the same streams."""
    rng = np.random.default_rng([seed, SCENARIOS.index(scenario) if scenario in SCENARIOS else 99, int(rps * 10)])
    shape = (seeds, TICKS)
    canary_rate = rps * TICK
    baseline_rate = rps * TICK * (1 - CANARY_WEIGHT) / CANARY_WEIGHT
    canary_n = rng.poisson(canary_rate, shape)
    baseline_n = rng.poisson(baseline_rate, shape)
    p_canary = np.full(shape, BASE_ERROR + scenario.error_increase)
    p_baseline = np.full(shape, BASE_ERROR)
    if scenario.bursts:
        # Each stream's bursts start at its own random phase.
        phase = rng.integers(0, BURST_EVERY, size=(seeds, 1))
        in_burst = ((np.arange(TICKS)[None, :] + phase) % BURST_EVERY) < BURST_TICKS
        p_canary = np.where(in_burst, BURST_RATE, p_canary)
        if scenario.bursts == "both":
            p_baseline = np.where(in_burst, BURST_RATE, p_baseline)
    canary_e = rng.binomial(canary_n, p_canary)
    baseline_e = rng.binomial(baseline_n, p_baseline)
    canary_h = rng.multinomial(canary_n, _bucket_probs(scenario.latency_factor))
    baseline_h = rng.multinomial(baseline_n, _bucket_probs(1.0))
    missing = scenario.kind == "nodata"
    if missing:
        canary_n, canary_e, canary_h = np.zeros_like(canary_n), np.zeros_like(canary_e), np.zeros_like(canary_h)
    return Streams(canary_n, canary_e, canary_h, baseline_n, baseline_e, baseline_h, missing)


@dataclass(frozen=True)
class Outcome:
    decision: str  # promote | rollback | hold
    seconds: float  # when it was decided (WINDOW when it was still undecided)


# -- judges --------------------------------------------------------------------------------------

def judge_ours(streams: Streams, config: AnalysisConfig | None = None) -> list[Outcome]:
    config = config or AnalysisConfig(alpha=ALPHA)
    cn, ce, ch, bn, be, bh = streams.cumulative()
    outcomes = []
    for s in range(cn.shape[0]):
        analysis = CanaryAnalysis(config)
        zero = (ArmCounts(0.0, 0.0, tuple((b, 0.0) for b in PROM_BUCKETS)))
        first = LookData(None if streams.canary_missing else zero, zero)
        done = analysis.look(0.0, first)
        chc, bhc = np.cumsum(ch[s], axis=1).tolist(), np.cumsum(bh[s], axis=1).tolist()
        cn_s, ce_s, bn_s, be_s = cn[s].tolist(), ce[s].tolist(), bn[s].tolist(), be[s].tolist()
        for t in range(TICKS):
            canary = None if streams.canary_missing else ArmCounts(
                float(cn_s[t]), float(ce_s[t]), tuple(zip(PROM_BUCKETS, map(float, chc[t]), strict=True)))
            baseline = ArmCounts(float(bn_s[t]), float(be_s[t]), tuple(zip(PROM_BUCKETS, map(float, bhc[t]),
                                                                             strict=True)))
            done = analysis.look((t + 1) * TICK, LookData(canary, baseline))
            if done is not None:
                break
        conclusion = done or analysis.finish(WINDOW)
        outcomes.append(Outcome(conclusion.decision.value, conclusion.at))
    return outcomes


def _quantile_np(counts: np.ndarray, q: float) -> np.ndarray:
    """histogram_quantile over the last axis (per-bucket counts), NaN where there is no data."""
    cum = np.cumsum(counts, axis=-1).astype(float)
    total = cum[..., -1]
    rank = q * total
    idx = np.argmax(cum >= rank[..., None], axis=-1)
    bounds = np.array(PROM_BUCKETS)
    lower_bounds = np.concatenate([[0.0], bounds[:-1]])
    upper = bounds[idx]
    lower = lower_bounds[idx]
    cum_hi = np.take_along_axis(cum, idx[..., None], -1)[..., 0]
    cum_lo = np.where(idx > 0, np.take_along_axis(cum, np.maximum(idx - 1, 0)[..., None], -1)[..., 0], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = lower + (upper - lower) * (rank - cum_lo) / (cum_hi - cum_lo)
    value = np.where(np.isinf(upper), lower, value)  # Prometheus: the highest finite bound
    return np.where(total > 0, value, np.nan)


def _per_minute(a: np.ndarray) -> np.ndarray:
    per = int(60 / TICK)
    return a.reshape(a.shape[0], TICKS // per, per, *a.shape[2:]).sum(axis=2)


def judge_flagger(streams: Streams, threshold: int = 5, promote_after: int = 10) -> list[Outcome]:
    n, e, h = _per_minute(streams.canary_n), _per_minute(streams.canary_e), _per_minute(streams.canary_h)
    with np.errstate(invalid="ignore", divide="ignore"):
        success = np.where(n > 0, (n - e) / n * 100, np.nan)
    p99_ms = _quantile_np(h, 0.99) * 1000
    failed = (n == 0) | np.isnan(success) | (success < 99) | (p99_ms > 500)  # no data is a failed check
    outcomes = []
    for row in failed:
        fails = passes = 0
        outcome = Outcome("hold", WINDOW)
        for i, bad in enumerate(row):
            fails += int(bad)
            passes += int(not bad)
            if fails >= threshold:
                outcome = Outcome("rollback", (i + 1) * 60.0)
                break
            if passes >= promote_after:
                outcome = Outcome("promote", (i + 1) * 60.0)
                break
        outcomes.append(outcome)
    return outcomes


def judge_argo(streams: Streams, window_minutes: int = 5, success: float = 0.95, count: int = 10,
               consecutive_error_limit: int = 4) -> list[Outcome]:
    n, e = _per_minute(streams.canary_n), _per_minute(streams.canary_e)
    outcomes = []
    for s in range(n.shape[0]):
        errors_in_a_row = 0
        outcome = Outcome("promote", count * 60.0)
        for i in range(count):
            lo = max(0, i + 1 - window_minutes)
            total, bad = n[s, lo:i + 1].sum(), e[s, lo:i + 1].sum()
            if streams.canary_missing:  # no series: an empty result, which is an error
                errors_in_a_row += 1
                if errors_in_a_row > consecutive_error_limit:
                    outcome = Outcome("rollback", (i + 1) * 60.0)
                    break
                continue
            errors_in_a_row = 0
            value = (total - bad) / total if total > 0 else math.nan  # 0/0: NaN fails the condition
            if not value >= success:  # failureLimit 0: the first failed measurement fails the run
                outcome = Outcome("rollback", (i + 1) * 60.0)
                break
        outcomes.append(outcome)
    return outcomes


# -- Kayenta's Mann-Whitney classifier (NetflixACAJudge), ported for the benchmark -----------------
# From spinnaker/kayenta (Apache-2.0): kayenta-mannwhitney MannWhitney.scala and BrentSolver.java,
# kayenta-judge MannWhitneyClassifier.scala and EffectSizes.scala. The cases of its ClassifierSuite
# are vendored in tests/data/kayenta/ and reproduced by tests/verify/canary/test_kayenta.py.

def _ranks(values: Sequence[float]) -> list[float]:
    """Average ranks (1-based), NaN ranked highest, as commons-math NaturalRanking(MAXIMAL, AVERAGE)."""
    order = sorted(range(len(values)), key=lambda i: (math.isnan(values[i]), values[i]))
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and (values[order[j + 1]] == values[order[i]]
                                      or (math.isnan(values[order[j + 1]]) and math.isnan(values[order[i]]))):
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _wilcoxon_diff(mu: float, quantile: float, x: Sequence[float], y: Sequence[float]) -> float:
    nx, ny = float(len(x)), float(len(y))
    combined = [v - mu for v in x] + list(y)
    ranks = _ranks(combined)
    ties: dict[float, int] = {}
    for r in ranks:
        ties[r] = ties.get(r, 0) + 1
    dz = sum(ranks[: len(x)]) - nx * (nx + 1) / 2 - nx * ny / 2
    correction = (0.0 if dz == 0 else math.copysign(1.0, dz)) * 0.5
    sigma = math.sqrt((nx * ny / 12) * ((nx + ny + 1) - sum(t ** 3 - t for t in ties.values())
                                        / ((nx + ny) * (nx + ny - 1))))
    if sigma == 0:
        raise ValueError("cannot compute confidence interval when all observations are tied")
    return (dz - correction) / sigma - quantile


def _brent(ax: float, bx: float, fa: float, fb: float, func: Callable[[float], float]) -> float:
    """Kayenta's BrentSolver (R's zeroin): tolerance 1e-4, at most 1000 iterations."""
    tolerance, epsilon = 1e-4, 2.220446049250313e-16
    a, b, c, fc = ax, bx, ax, fa
    if fa == 0:
        return a
    if fb == 0:
        return b
    for _ in range(1001):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * epsilon * abs(b) + tolerance / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = func(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def mann_whitney(x: Sequence[float], y: Sequence[float], confidence: float) -> tuple[float, float, float]:
    """(lower, upper, estimate) of the location shift x - y: R's wilcox.test(conf.int = TRUE,
    exact = FALSE, correct = TRUE) as Kayenta computes it."""
    from statistics import NormalDist

    alpha = 1.0 - confidence
    mu_min, mu_max = min(x) - max(y), max(x) - min(y)

    def root(zq: float) -> float:
        f_lower, f_upper = _wilcoxon_diff(mu_min, zq, x, y), _wilcoxon_diff(mu_max, zq, x, y)
        if f_lower <= 0:
            return mu_min
        if f_upper >= 0:
            return mu_max
        return _brent(mu_min, mu_max, f_lower, f_upper, lambda m: _wilcoxon_diff(m, zq, x, y))

    z = NormalDist().inv_cdf(alpha / 2)
    lower, upper = root(-z), root(z)
    estimate = _brent(mu_min, mu_max, _wilcoxon_diff(mu_min, 0, x, y), _wilcoxon_diff(mu_max, 0, x, y),
                      lambda m: _wilcoxon_diff(m, 0, x, y))
    return lower, upper, estimate


def _mean_ratio(control: Sequence[float], experiment: Sequence[float]) -> float:
    c, e = statistics.fmean(control), statistics.fmean(experiment)
    return math.nan if c == 0 or e == 0 else e / c


def _cles(control: Sequence[float], experiment: Sequence[float]) -> float:
    m, n = len(experiment), len(control)
    ranks = _ranks(list(experiment) + list(control))
    return (2 * sum(ranks[:m]) - m * (m + 1)) / (2 * n * m)


@dataclass(frozen=True)
class Classification:
    label: str  # Pass | High | Low | Nodata | NodataFailMetric
    critical: bool = False
    deviation: float = 1.0
    reason: str = ""


@dataclass(frozen=True)
class MannWhitneyClassifier:
    """Kayenta's MannWhitneyClassifier with its defaults (NetflixACAJudge passes 0.25 and 0.98)."""

    tolerance: float = 0.25
    confidence: float = 0.95
    effect_size_thresholds: tuple[float, float] = (1.0, 1.0)
    critical_thresholds: tuple[float, float] = (1.0, 1.0)
    effect_size_measure: str = "meanRatio"
    rng: random.Random = field(default_factory=lambda: random.Random(0), compare=False)

    def classify(self, control: Sequence[float], experiment: Sequence[float], direction: str = "either",
                 nan_strategy: str = "remove", critical: bool = False, data_required: bool = False,
                 name: str = "metric") -> Classification:
        if not experiment or not control:
            if nan_strategy == "remove":
                reason = f"Missing data for {name}"
                if data_required and not critical:
                    return Classification("NodataFailMetric", False, 1.0, reason)
                return Classification("Nodata", critical, 1.0, reason)
            return Classification("Pass", False, 1.0)
        if sorted(experiment) == sorted(control):
            return Classification("Pass", False, 1.0, "The canary and baseline data are identical")
        if len(set(experiment) | set(control)) == 1:
            return Classification("Pass", False, 1.0)
        label, deviation, effect = self._compare(control, experiment, direction)
        if critical and label == "High" and (math.isnan(effect) or effect >= self.critical_thresholds[1]):
            return Classification("High", True, deviation, f"The metric {name} was classified as High (Critical)")
        if critical and label == "Low" and (math.isnan(effect) or effect <= self.critical_thresholds[0]):
            return Classification("Low", True, deviation, f"The metric {name} was classified as Low (Critical)")
        return Classification(label, False, deviation, "" if label == "Pass" else f"{name} was classified as {label}")

    def _compare(self, control: Sequence[float], experiment: Sequence[float], direction: str,
                 ) -> tuple[str, float, float]:
        x, y = list(experiment), list(control)
        if len(set(x)) == 1 and len(set(y)) == 1:  # tied ranks: Kayenta adds Gaussian noise
            x = [v + self.rng.gauss(0.0, x[0] * 1e-5) for v in x]
            y = [v + self.rng.gauss(0.0, y[0] * 1e-5) for v in y]
        lower, upper, estimate = mann_whitney(x, y, self.confidence)
        deviation = _mean_ratio(y, x)
        effect = _cles(y, x) if self.effect_size_measure == "cles" else _mean_ratio(y, x)
        critical_value = self.tolerance * abs(estimate)
        high = direction in ("increase", "either") and lower > critical_value and (
            math.isnan(effect) or effect >= self.effect_size_thresholds[1])
        low = direction in ("decrease", "either") and upper < -critical_value and (
            math.isnan(effect) or effect <= self.effect_size_thresholds[0])
        return ("High" if high else "Low" if low else "Pass"), deviation, effect


def mean_inequality(control: Sequence[float], experiment: Sequence[float], direction: str = "either") -> str:
    """Kayenta's MeanInequalityClassifier (used by its ClassifierSuite)."""
    if not experiment or not control:
        return "Nodata"
    e, c = statistics.fmean(experiment), statistics.fmean(control)
    if direction in ("increase", "either") and e > c:
        return "High"
    if direction in ("decrease", "either") and e < c:
        return "Low"
    return "Pass"


def judge_kayenta(streams: Streams, pass_score: float = 95.0) -> list[Outcome]:
    n, e = _per_minute(streams.canary_n), _per_minute(streams.canary_e)
    bn, be = _per_minute(streams.baseline_n), _per_minute(streams.baseline_e)
    with np.errstate(invalid="ignore", divide="ignore"):
        canary_errors = np.where(n > 0, e / n, np.nan)
        baseline_errors = np.where(bn > 0, be / bn, np.nan)
    canary_p95 = _quantile_np(_per_minute(streams.canary_h), 0.95)
    baseline_p95 = _quantile_np(_per_minute(streams.baseline_h), 0.95)
    classifier = MannWhitneyClassifier(tolerance=0.25, confidence=0.98)
    outcomes = []
    for s in range(n.shape[0]):
        labels = []
        for canary, baseline in ((canary_errors[s], baseline_errors[s]), (canary_p95[s], baseline_p95[s])):
            if streams.canary_missing:
                labels.append("Nodata")
                continue
            c = [float(v) for v in canary if not math.isnan(v)]  # NaN strategy: remove
            b = [float(v) for v in baseline if not math.isnan(v)]
            labels.append(classifier.classify(b, c, "increase").label)
        nodata = sum(1 for label in labels if label == "Nodata")
        counted = [label for label in labels if label != "Nodata"]
        if nodata * 2 >= len(labels) or not counted:
            score = 0.0
        else:
            score = 100.0 * sum(1 for label in counted if label == "Pass") / len(counted)
        outcomes.append(Outcome("promote" if score >= pass_score else "rollback", WINDOW))
    return outcomes


def judge_ours_full_window(streams: Streams) -> list[Outcome]:
    """Ours with min-duration 10m: the same 10-minute window as the peers before any promotion."""
    return judge_ours(streams, AnalysisConfig(alpha=ALPHA, min_duration=WINDOW, duration=WINDOW))


JUDGES: dict[str, Callable[[Streams], list[Outcome]]] = {
    "ours": judge_ours, "flagger": judge_flagger, "kayenta": judge_kayenta, "argo": judge_argo,
    "ours-10m": judge_ours_full_window,  # opt-in: --judges ours,flagger,kayenta,argo,ours-10m
}
DEFAULT_JUDGES = ("ours", "flagger", "kayenta", "argo")


# -- the table -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    rollback: float
    promote: float
    hold: float
    median_detect: float  # over all streams; inf when fewer than half were rolled back
    median_decided: float
    n: int

    @staticmethod
    def of(outcomes: Sequence[Outcome]) -> Cell:
        n = len(outcomes)
        rollback = [o for o in outcomes if o.decision == "rollback"]
        times = sorted(o.seconds if o.decision == "rollback" else math.inf for o in outcomes)
        median = times[(n - 1) // 2] if n else math.inf
        return Cell(len(rollback) / n, sum(o.decision == "promote" for o in outcomes) / n,
                    sum(o.decision == "hold" for o in outcomes) / n, median,
                    statistics.median(o.seconds for o in outcomes), n)

    def upper95(self) -> float:
        """Clopper-Pearson-free upper bound (Wilson, 95 %) of the rollback rate."""
        z, p, n = 1.959964, self.rollback, self.n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return centre + half


def _row(scenario: Scenario, rps: float, seeds: int, seed: int, judges: Sequence[str],
         ) -> tuple[dict[tuple[str, float, str], Cell], list[str]]:
    streams = simulate(scenario, rps, seeds, seed)
    cells, notes = {}, []
    for judge in judges:
        started = time.perf_counter()
        cells[(scenario.name, rps, judge)] = Cell.of(JUDGES[judge](streams))
        notes.append(f"{scenario.name} @ {rps:g} rps, {judge}: {time.perf_counter() - started:.1f}s")
    return cells, notes


def run(seeds: int, seed: int, traffic: Sequence[float], judges: Sequence[str], jobs: int = 1,
        progress: Callable[[str], None] = lambda _: None) -> dict[tuple[str, float, str], Cell]:
    """Every judge on every scenario and traffic level; rows in parallel over `jobs` processes
    (the streams depend only on the seeds, so the table is the same for any `jobs`)."""
    cells: dict[tuple[str, float, str], Cell] = {}
    rows = [(scenario, rps) for scenario in SCENARIOS for rps in traffic]
    if jobs <= 1:
        results = (_row(scenario, rps, seeds, seed, judges) for scenario, rps in rows)
        for row_cells, notes in results:
            cells.update(row_cells)
            for note in notes:
                progress(note)
        return cells
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_row, scenario, rps, seeds, seed, judges) for scenario, rps in rows]
        for future in futures:
            row_cells, notes = future.result()
            cells.update(row_cells)
            for note in notes:
                progress(note)
    return cells


def _fmt_time(seconds: float) -> str:
    return "never" if math.isinf(seconds) else f"{seconds:.0f}s"


def render(cells: dict[tuple[str, float, str], Cell], traffic: Sequence[float], judges: Sequence[str],
           seeds: int) -> str:
    lines = [f"Canary judges on the same seeded streams: {seeds} streams per row, 10 minutes each, canary weight "
             f"{CANARY_WEIGHT:.0%}, alpha {ALPHA}.",
             "Healthy rows: false-rollback rate. Regression rows: detection rate · median time to detect "
             "(never: under 50 % detected). No data: what each judge decides.", ""]
    header = f"| scenario | canary rps | {' | '.join(judges)} |"
    lines += [header, "| --- | ---: | " + " | ".join("---" for _ in judges) + " |"]
    for scenario in SCENARIOS:
        for rps in traffic:
            row = []
            for judge in judges:
                cell = cells[(scenario.name, rps, judge)]
                if scenario.kind == "healthy":
                    row.append(f"FR {cell.rollback:.1%}")
                elif scenario.kind == "regression":
                    row.append(f"{cell.rollback:.0%} · {_fmt_time(cell.median_detect)}")
                else:
                    decision = max(("rollback", cell.rollback), ("promote", cell.promote), ("hold", cell.hold),
                                   key=lambda kv: kv[1])[0]
                    row.append(f"{decision} @ {cell.median_decided:.0f}s")
            lines.append(f"| {scenario.name} | {rps:g} | " + " | ".join(row) + " |")
    lines += ["", "Targets:"]
    for rps in traffic:
        cell = cells[("healthy", rps, "ours")]
        ok = cell.rollback <= ALPHA
        lines.append(f"- ours' false-rollback rate at {rps:g} rps: {cell.rollback:.2%} (95 % upper bound "
                     f"{cell.upper95():.2%}) {'<=' if ok else '>'} alpha {ALPHA}: {'met' if ok else 'MISSED'}")
    if 10 in traffic:
        cell = cells[("errors +2 pts", 10, "ours")]
        ok = cell.median_detect <= 60
        lines.append(f"- ours' median time to detect +2 points at 10 rps: {_fmt_time(cell.median_detect)} "
                     f"(target <= 60s): {'met' if ok else 'MISSED'}")
    dominated, tied = [], []
    for scenario in SCENARIOS:
        if scenario.kind != "regression":
            continue
        for rps in traffic:
            ours = cells[(scenario.name, rps, "ours")]
            ours_fr = cells[("healthy", rps, "ours")].rollback
            for judge in judges:
                if judge.startswith("ours"):
                    continue
                peer = cells[(scenario.name, rps, judge)]
                peer_fr = cells[("healthy", rps, judge)].rollback
                if peer.median_detect < ours.median_detect and peer_fr < ours_fr:
                    dominated.append(f"{judge} on {scenario.name} @ {rps:g} rps")
                elif peer.median_detect < ours.median_detect and peer_fr == ours_fr:
                    tied.append(f"{judge} on {scenario.name} @ {rps:g} rps ({peer.rollback:.0%} by "
                                f"{_fmt_time(peer.median_detect)} vs {ours.rollback:.0%})")
    lines.append("- no peer both detects faster and false-alarms less: "
                 + ("met" if not dominated else "MISSED: " + "; ".join(dominated)))
    if tied:
        lines.append("  (faster at the same false-rollback rate: " + "; ".join(tied) + ")")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=500, help="streams per scenario and traffic level")
    parser.add_argument("--seed", type=int, default=2026, help="base seed")
    parser.add_argument("--traffic", default=",".join(map(str, TRAFFIC)), help="canary requests per second")
    parser.add_argument("--judges", default=",".join(DEFAULT_JUDGES),
                        help=f"judges to run, from {', '.join(JUDGES)}")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: one per CPU)")
    parser.add_argument("--json", help="also write the cells as JSON here")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    traffic = [float(t) for t in args.traffic.split(",")]
    judges = [j for j in args.judges.split(",") if j]
    started = time.perf_counter()
    cells = run(args.seeds, args.seed, traffic, judges, jobs=args.jobs,
                progress=(lambda _: None) if args.quiet else (lambda m: print(m, file=sys.stderr)))
    print(render(cells, traffic, judges, args.seeds))
    print(f"\n({time.perf_counter() - started:.0f}s)")
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{"scenario": k[0], "rps": k[1], "judge": k[2], **vars(v)} for k, v in cells.items()], indent=2,
            default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
