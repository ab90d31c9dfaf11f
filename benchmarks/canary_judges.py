#!/usr/bin/env python3
"""Canary judges side by side, on the same simulated request streams, in virtual time.

A seeded simulator produces traffic the way production has it: pods, seconds and scrapes. The
canary is 1 pod taking 10 % of the requests (the usual first step of Flagger and Argo Rollouts),
the baseline 3 pods taking the rest; every pod-second draws its requests, its 5xx and its latency
histogram (prometheus-client's default buckets). Healthy: 0.5 % errors, log-normal latency with
median 50 ms and sigma 0.5 (p95 114 ms). Errors and slowness cluster as they do in production:

  error bursts      1 % of pod-seconds have 30 % errors (on every pod, canary and baseline)
  latency blips     1 % of pod-seconds are 4x slower (every pod)
  pod heterogeneity every pod has its own error rate (x e^N(0, 0.3)) and latency (x e^N(0, 0.05))
  slow node         one pod, any of the four, runs 1.3x slower (inside the +50 % tolerance)
  shared outage     every pod has 20 % errors for one minute, at a random time
  stopped traffic   the canary serves for the first minute, then nothing
  scrape gaps       10 % of scrapes are missing
  counter resets    every pod restarts once (its counters go to 0) at a random time

Scrapes come every 15 s, at each pod's own offset. Our judge reads what Prometheus would hold,
through the same arithmetic as the provider: both sides cut at one time a scrape behind the look,
each pod's counters interpolated between its samples (`providers.prometheus.increase_between`,
vectorised here); the peers get the exact per-minute counts, which only flatters them.

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

Traffic levels are the canary's requests per second (1, 10, 100).

    python benchmarks/canary_judges.py                 # 500 seeds per scenario and traffic level
    python benchmarks/canary_judges.py --seeds 2000 --json results.json

Printed per row: for A/A rows (the canary exactly as good as the baseline) the false-rollback
rate with its 95 % upper bound; for rows inside the tolerance the rollback rate (it should be at
most alpha too); for regressions the detection rate and the median time to detect (over all
streams: a miss counts as never, so it is "never" below 50 % detection); for no data what each
judge decides.
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

from deploy_actions.verify.canary.decision import AnalysisConfig, CanaryAnalysis, Conclusion  # noqa: E402
from deploy_actions.verify.canary.providers import ArmCounts, LookData  # noqa: E402

TICK = 10.0  # seconds between our looks (and the peers' 10 s ticks)
WINDOW = 600.0  # every judge gets 10 minutes
TICKS = int(WINDOW / TICK)
SECONDS = int(WINDOW)
SCRAPE = 15  # seconds between a pod's scrapes
PROM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, math.inf)
BASE_ERROR = 0.005
LATENCY_MEDIAN = 0.050
LATENCY_SIGMA = 0.5
CANARY_WEIGHT = 0.10
BASELINE_PODS = 3
TRAFFIC = (1, 10, 100)
ALPHA = 0.01
CHUNK = 100  # streams simulated at once (memory)


# -- scenarios and streams ---------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # aa | inside | regression | nodata
    error_increase: float = 0.0  # the canary's, in rate
    latency_factor: float = 1.0  # the canary's
    error_bursts: bool = False
    latency_blips: bool = False
    pods_differ: bool = False
    slow_node: bool = False
    shared_outage: bool = False
    stopped: bool = False
    scrape_gaps: bool = False
    resets: bool = False


SCENARIOS = (
    Scenario("healthy", "aa"),
    Scenario("error bursts", "aa", error_bursts=True),
    Scenario("latency blips", "aa", latency_blips=True),
    Scenario("pod heterogeneity", "aa", pods_differ=True),
    Scenario("slow node", "aa", slow_node=True),
    Scenario("shared outage", "aa", shared_outage=True),
    Scenario("scrape gaps", "aa", scrape_gaps=True),
    Scenario("counter resets", "aa", resets=True),
    Scenario("all of them", "aa", error_bursts=True, latency_blips=True, pods_differ=True, scrape_gaps=True,
             resets=True),
    Scenario("errors +0.25 pts", "inside", error_increase=0.0025),
    Scenario("errors +0.5 pts (at the tolerance)", "inside", error_increase=0.005),
    Scenario("p95 +10 %", "inside", latency_factor=1.1),
    Scenario("p95 +30 %, bursty", "inside", latency_factor=1.3, latency_blips=True, error_bursts=True),
    Scenario("errors +1 pts", "regression", error_increase=0.01),
    Scenario("errors +2 pts", "regression", error_increase=0.02),
    Scenario("errors +2 pts, bursty", "regression", error_increase=0.02, error_bursts=True),
    Scenario("errors +5 pts", "regression", error_increase=0.05),
    Scenario("p95 +100 %", "regression", latency_factor=2.0),
    Scenario("p95 +100 %, blips", "regression", latency_factor=2.0, latency_blips=True),
    Scenario("stopped traffic", "nodata", stopped=True),
    Scenario("no data", "nodata"),
)
BURST_SHARE, BURST_ERRORS = 0.01, 0.30
BLIP_SHARE, BLIP_FACTOR = 0.01, 4.0
OUTAGE_ERRORS, OUTAGE_SECONDS = 0.20, 60
POD_ERROR_SIGMA, POD_LATENCY_SIGMA = 0.3, 0.05
SLOW_NODE = 1.3
GAP_SHARE = 0.10


def _bucket_probs(factor: np.ndarray) -> np.ndarray:
    """Per-bucket probabilities (last axis) of a log-normal latency scaled by `factor`."""
    from statistics import NormalDist

    z = NormalDist()
    bounds = np.array([math.log(b) if math.isfinite(b) else math.inf for b in PROM_BUCKETS])
    x = (bounds[None, :] - np.log(LATENCY_MEDIAN * factor.reshape(-1))[:, None]) / LATENCY_SIGMA
    cdf = np.vectorize(z.cdf)(np.where(np.isinf(x), 50.0, x))
    probs = np.diff(np.concatenate([np.zeros((cdf.shape[0], 1)), cdf], axis=1), axis=1)
    return probs.reshape(*factor.shape, len(PROM_BUCKETS))


@dataclass
class Streams:
    """Per 10 s tick (seeds x ticks): the exact requests, errors and per-bucket counts of each side
    (for the peers), and our provider's aligned cumulative counts at each look (for ours)."""

    canary_n: np.ndarray
    canary_e: np.ndarray
    canary_h: np.ndarray
    baseline_n: np.ndarray
    baseline_e: np.ndarray
    baseline_h: np.ndarray
    aligned: tuple[np.ndarray, ...] = ()  # cumulative canary n, e, h, baseline n, e, h at each look
    canary_missing: bool = False

    def cumulative(self) -> tuple[np.ndarray, ...]:
        if self.aligned:
            return self.aligned
        return tuple(np.cumsum(a, axis=1) for a in (self.canary_n, self.canary_e, self.canary_h,
                                                    self.baseline_n, self.baseline_e, self.baseline_h))


def _pods(scenario: Scenario, rps: float, seeds: int, rng: np.random.Generator,
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pod-second (seeds x pods x seconds): requests, errors and per-bucket counts; pod 0 is
    the canary."""
    pods = 1 + BASELINE_PODS
    shape = (seeds, pods, SECONDS)
    pod_rps = np.array([rps] + [rps * (1 - CANARY_WEIGHT) / CANARY_WEIGHT / BASELINE_PODS] * BASELINE_PODS)
    n = rng.poisson(np.broadcast_to(pod_rps[None, :, None], shape))
    if scenario.stopped:
        n[:, 0, 60:] = 0
    p = np.full(shape, BASE_ERROR)
    factor = np.ones(shape)
    if scenario.pods_differ:
        p = p * np.exp(rng.normal(0, POD_ERROR_SIGMA, (seeds, pods, 1)))
        factor = factor * np.exp(rng.normal(0, POD_LATENCY_SIGMA, (seeds, pods, 1)))
    p[:, 0, :] += scenario.error_increase
    factor[:, 0, :] *= scenario.latency_factor
    if scenario.slow_node:
        slow = rng.integers(0, pods, seeds)
        factor[np.arange(seeds), slow, :] *= SLOW_NODE
    if scenario.error_bursts:
        p = np.where(rng.random(shape) < BURST_SHARE, BURST_ERRORS, p)
    if scenario.latency_blips:
        factor = np.where(rng.random(shape) < BLIP_SHARE, factor * BLIP_FACTOR, factor)
    if scenario.shared_outage:
        begin = rng.integers(0, SECONDS - OUTAGE_SECONDS, (seeds, 1, 1))
        seconds = np.arange(SECONDS)[None, None, :]
        p = np.where((seconds >= begin) & (seconds < begin + OUTAGE_SECONDS), OUTAGE_ERRORS, p)
    e = rng.binomial(n, np.clip(p, 0, 1))
    # Latency factors take few distinct values: one multinomial draw per value.
    h = np.zeros((*shape, len(PROM_BUCKETS)), dtype=np.int64)
    levels, index = np.unique(np.round(factor, 6), return_inverse=True)
    index = index.reshape(shape)
    probs = _bucket_probs(levels)
    for i in range(len(levels)):
        where = index == i
        h[where] = rng.multinomial(n[where], probs[i])
    return n, e, h


def _scraped(cumulative: np.ndarray, rng: np.random.Generator, scenario: Scenario) -> np.ndarray:
    """What our provider counts at each look from `cumulative` per pod-second counters (seeds x
    pods x seconds x ...): each pod scraped every SCRAPE s at its own offset (some scrapes missing
    with scrape gaps; a restart loses what came after the last scrape before it), both sides cut
    at look time - SCRAPE and interpolated between the scrapes around the cut (seeds x pods x looks
    x ...), counted from the first cut."""
    seeds, pods = cumulative.shape[:2]
    offsets = rng.integers(0, SCRAPE, (seeds, pods))
    looks = np.arange(TICKS + 1) * TICK
    cuts = looks - SCRAPE
    out = np.zeros((seeds, pods, TICKS + 1, *cumulative.shape[3:]))
    restart = rng.integers(30, SECONDS - 30, (seeds, pods)) if scenario.resets else None
    padded = np.concatenate([np.zeros_like(cumulative[:, :, :1]), cumulative], axis=2)  # value at the end of second s

    for s in range(seeds):
        for q in range(pods):
            times = np.arange(offsets[s, q] - SCRAPE * 20, SECONDS + SCRAPE, SCRAPE)
            keep = np.ones(len(times), dtype=bool)
            if scenario.scrape_gaps:
                keep &= rng.random(len(times)) >= GAP_SHARE
            times = times[keep]
            values = padded[s, q, np.clip(times, 0, SECONDS)].astype(float)
            if restart is not None:
                r = restart[s, q]
                before = times[times < r]
                if len(before):
                    lost = padded[s, q, r] - padded[s, q, before[-1]]
                    values[times >= r] -= lost
            j = np.searchsorted(times, cuts, side="right") - 1
            nxt = np.minimum(j + 1, len(times) - 1)
            # Interpolate towards the next sample when Prometheus already has it at look time.
            has_next = (j >= 0) & (j + 1 < len(times)) & (times[nxt] <= looks)
            lo = values[np.maximum(j, 0)]
            span = np.where(has_next, times[nxt] - times[np.maximum(j, 0)], 1)
            w = np.where(has_next, (cuts - times[np.maximum(j, 0)]) / span, 0.0)
            w = w.reshape(-1, *([1] * (values.ndim - 1)))
            out[s, q] = np.where((j < 0).reshape(w.shape), values[0], lo + w * (values[nxt] - lo))
    return out - out[:, :, :1]


def simulate(scenario: Scenario, rps: float, seeds: int, seed: int = 0) -> Streams:
    """Seeded streams for `seeds` independent canaries; the same arguments give the same streams."""
    index = SCENARIOS.index(scenario) if scenario in SCENARIOS else 99
    parts = []
    for chunk, first in enumerate(range(0, seeds, CHUNK)):
        rng = np.random.default_rng([seed, index, int(rps * 10), chunk])
        parts.append(_simulate_chunk(scenario, rps, min(CHUNK, seeds - first), rng))
    joined = [np.concatenate(arrays, axis=0) for arrays in zip(*[p[0] for p in parts], strict=True)]
    aligned = tuple(np.concatenate(arrays, axis=0) for arrays in zip(*[p[1] for p in parts], strict=True))
    missing = scenario.kind == "nodata" and not scenario.stopped
    return Streams(*joined, aligned=aligned, canary_missing=missing)


def _simulate_chunk(scenario: Scenario, rps: float, seeds: int, rng: np.random.Generator,
                    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    n, e, h = _pods(scenario, rps, seeds, rng)
    if scenario.kind == "nodata" and not scenario.stopped:
        n[:, 0], e[:, 0], h[:, 0] = 0, 0, 0

    def ticks(a: np.ndarray) -> np.ndarray:  # seeds x pods x seconds x ... -> seeds x ticks x ... per side
        per = a.reshape(a.shape[0], a.shape[1], TICKS, int(TICK), *a.shape[3:]).sum(axis=3)
        return per[:, 0], per[:, 1:].sum(axis=1)

    (cn, bn), (ce, be), (ch, bh) = ticks(n), ticks(e), ticks(h)
    exact = [cn, ce, ch, bn, be, bh]
    scraped = []
    for a in (n, e, h):
        scraped.append(_scraped(np.cumsum(a, axis=2), rng, scenario))
    sn, se, sh = scraped
    hist = np.cumsum(sh, axis=-1)  # per-bucket -> cumulative "le" buckets
    aligned = [sn[:, 0, 1:], se[:, 0, 1:], hist[:, 0, 1:], sn[:, 1:, 1:].sum(axis=1), se[:, 1:, 1:].sum(axis=1),
               hist[:, 1:, 1:].sum(axis=1)]
    return exact, aligned


@dataclass(frozen=True)
class Outcome:
    decision: str  # promote | rollback | hold
    seconds: float  # when it was decided (WINDOW when it was still undecided)


# -- judges --------------------------------------------------------------------------------------

def judge_ours(streams: Streams, config: AnalysisConfig | None = None) -> list[Outcome]:
    config = config or AnalysisConfig(alpha=ALPHA)
    outcomes = []
    for s in range(streams.canary_n.shape[0]):
        conclusion = judge_stream(streams, s, CanaryAnalysis(config))
        outcomes.append(Outcome(conclusion.decision.value, conclusion.at))
    return outcomes


def judge_rollout(scenario: Scenario, rps: float, seeds: int, seed: int, config: AnalysisConfig, method: str,
                  stages: int = 4) -> float:
    """The share of `seeds` rollouts of `stages` stages (each its own 10-minute stream) rolled back
    at some stage. `carried`: every stage continues the previous stage's evidence (canary-monitor's
    resume-from) at the whole alpha; `bonferroni`: each starts afresh with alpha / stages; `reset`:
    each starts afresh with the whole alpha (what carrying prevents). Every stage is run, a hold
    does not end the rollout: that exposes the carried evidence the most."""
    from deploy_actions.verify.canary import rules

    streams = [simulate(scenario, rps, seeds, seed=seed * 10 + k) for k in range(stages)]
    split = AnalysisConfig(**{**config.__dict__, "alpha": config.alpha / stages})
    rolled_back = 0
    for s in range(seeds):
        resumed: tuple[rules.GuardState, ...] = ()
        for k in range(stages):
            analysis = CanaryAnalysis(split if method == "bonferroni" else config,
                                      resumed if method == "carried" else ())
            if judge_stream(streams[k], s, analysis).decision.value == "rollback":
                rolled_back += 1
                break
            resumed = tuple(rules.resume(g.guard, g.test, g.boundary) for g in analysis.guards)
    return rolled_back / seeds


def judge_stream(streams: Streams, s: int, analysis: CanaryAnalysis) -> Conclusion:
    """Feed stream `s` to `analysis` look by look until it decides or the window is over."""
    cn, ce, ch, bn, be, bh = streams.cumulative()
    aligned = bool(streams.aligned)
    zero = (ArmCounts(0.0, 0.0, tuple((b, 0.0) for b in PROM_BUCKETS)))
    first = LookData(None if streams.canary_missing else zero, zero)
    done = analysis.look(0.0, first)
    chc = ch[s].tolist() if aligned else np.cumsum(ch[s], axis=1).tolist()
    bhc = bh[s].tolist() if aligned else np.cumsum(bh[s], axis=1).tolist()
    cn_s, ce_s, bn_s, be_s = cn[s].tolist(), ce[s].tolist(), bn[s].tolist(), be[s].tolist()
    for t in range(TICKS):
        canary = None if streams.canary_missing else ArmCounts(
            float(cn_s[t]), float(ce_s[t]), tuple(zip(PROM_BUCKETS, map(float, chc[t]), strict=True)))
        baseline = ArmCounts(float(bn_s[t]), float(be_s[t]), tuple(zip(PROM_BUCKETS, map(float, bhc[t]),
                                                                         strict=True)))
        done = analysis.look((t + 1) * TICK, LookData(canary, baseline))
        if done is not None:
            break
    return done or analysis.finish(WINDOW)


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


def _cell(cell: Cell, kind: str) -> str:
    if kind in ("aa", "inside"):
        return f"{cell.rollback:.1%} (<= {cell.upper95():.1%})"
    if kind == "regression":
        return f"{cell.rollback:.0%} · {_fmt_time(cell.median_detect)}"
    decision = max(("rollback", cell.rollback), ("promote", cell.promote), ("hold", cell.hold), key=lambda kv: kv[1])[0]
    return f"{decision} {max(cell.rollback, cell.promote, cell.hold):.0%} @ {cell.median_decided:.0f}s"


def render(cells: dict[tuple[str, float, str], Cell], traffic: Sequence[float], judges: Sequence[str],
           seeds: int) -> str:
    lines = [f"Canary judges on the same seeded streams: {seeds} streams per row, 10 minutes each, canary 1 pod at "
             f"{CANARY_WEIGHT:.0%} beside {BASELINE_PODS} baseline pods, {SCRAPE} s scrapes, alpha {ALPHA}.",
             "A/A and inside-tolerance rows: rollback rate (95 % upper bound). Regressions: detection rate · median "
             "time to detect (never: under 50 % detected). No data: what each judge decides.", ""]
    header = f"| scenario | kind | canary rps | {' | '.join(judges)} |"
    lines += [header, "| --- | --- | ---: | " + " | ".join("---" for _ in judges) + " |"]
    for scenario in SCENARIOS:
        for rps in traffic:
            row = [_cell(cells[(scenario.name, rps, judge)], scenario.kind) for judge in judges]
            lines.append(f"| {scenario.name} | {scenario.kind} | {rps:g} | " + " | ".join(row) + " |")
    lines += ["", "Targets (issue 11):"]
    if "ours" not in judges:
        return "\n".join(lines)
    worst = max(((cells[(sc.name, rps, "ours")].upper95(), sc.name, rps) for sc in SCENARIOS if sc.kind == "aa"
                 for rps in traffic), default=(0.0, "", 0))
    ok = worst[0] <= 1.5 * ALPHA
    lines.append(f"- A/A false rollbacks, 95 % upper bound <= 1.5 x alpha in every scenario and traffic level: "
                 f"worst {worst[0]:.2%} ({worst[1]} @ {worst[2]:g} rps): {'met' if ok else 'MISSED'}")
    inside = max(((cells[(sc.name, rps, "ours")].rollback, sc.name, rps) for sc in SCENARIOS if sc.kind == "inside"
                  for rps in traffic), default=(0.0, "", 0))
    ok = inside[0] <= ALPHA
    lines.append(f"- canaries inside their tolerance rolled back <= alpha: worst {inside[0]:.2%} ({inside[1]} @ "
                 f"{inside[2]:g} rps): {'met' if ok else 'MISSED'}")
    detection = (("errors +2 pts", 0.95, 90.0), ("errors +1 pts", 0.90, WINDOW), ("p95 +100 %", 0.5, 120.0))
    for name, share, limit in detection:
        if 10 not in traffic:
            break
        cell = cells[(name, 10, "ours")]
        if name == "errors +2 pts":
            ok = cell.rollback >= share and cell.median_detect <= limit
            text = f"caught in {cell.rollback:.0%} (target >= 95 %), median {_fmt_time(cell.median_detect)} (<= 90s)"
        elif name == "errors +1 pts":
            ok = cell.rollback >= share
            text = f"caught within 10 minutes in {cell.rollback:.0%} (target >= 90 %)"
        else:
            ok = cell.median_detect <= limit
            text = f"median {_fmt_time(cell.median_detect)} (target within 2 minutes)"
        lines.append(f"- {name} at 10 rps: {text}: {'met' if ok else 'MISSED'}")
    promoted = max(((cells[(sc.name, rps, "ours")].promote, sc.name, rps) for sc in SCENARIOS if sc.kind == "nodata"
                    for rps in traffic), default=(0.0, "", 0))
    lines.append(f"- never promote without recent traffic: promoted {promoted[0]:.1%} at worst: "
                 f"{'met' if promoted[0] == 0 else 'MISSED'}")
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
