"""promote, rollback or hold: the analysis as a state machine fed one look at a time.

- **rollback** as soon as any guard or custom metric fails (see `rules`);
- **promote** only once `min-duration` has passed and the canary has served `min-requests`, the
  latest look has data for both sides, the canary served requests recently (within `max-idle` of
  the analysis), no guard is breached, watching or shared, every guard's estimate is within its
  threshold and every custom metric passes: no evidence of a regression beyond the tolerance;
- **hold** otherwise; when `duration` runs out it is the answer, with the reason (too little
  traffic, inconclusive, an unhealthy environment, or no data). "No data" (the canary was never
  seen serving, its traffic stopped, or the latest look had no data) is never promote:
  `on-no-data` turns it into hold, a failed step (hold, exit 1) or rollback.

Time is whatever the caller says it is, so the same code runs live, over a range query's
history, and in the benchmark's virtual time.
"""

from __future__ import annotations

import enum
import functools
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from deploy_actions.verify.canary import rules
from deploy_actions.verify.canary.providers import ArmCounts, LookData

OnNoData = Literal["hold", "fail", "rollback"]
IDLE_LOOKS = 2  # looks in a row without canary requests before max-idle may call its traffic stopped
RECENT_WINDOW = 60.0  # seconds: what "the latest numbers" of a guard with `for` are, like rate(...[1m])


class Decision(str, enum.Enum):
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    HOLD = "hold"


@dataclass(frozen=True)
class AnalysisConfig:
    alpha: float = 0.01
    min_requests: int = 300
    min_duration: float = 300.0
    duration: float = 600.0
    guards: tuple[rules.Guard, ...] = field(default_factory=rules.default_guards)
    custom: tuple[rules.CustomMetric, ...] = ()
    counting: rules.Counting = "consecutive"
    on_no_data: OnNoData = "hold"
    max_idle: float = 0.2  # share of the analysis the canary may go without requests (stopped traffic)

    def alpha_of(self, guard: rules.Guard) -> float:
        """A guard's share of alpha (weighted Bonferroni, `rules.ALPHA_WEIGHTS` over the enabled
        guards): together they stay at or below alpha."""
        total = sum(rules.ALPHA_WEIGHTS[g.name] for g in self.guards)
        return self.alpha * rules.ALPHA_WEIGHTS[guard.name] / total if total else self.alpha


@dataclass(frozen=True)
class Verdict:
    """One metric's standing: the outputs' `verdicts` entries and the summary table's rows."""

    metric: str
    rule: str
    verdict: str
    canary: float | None
    baseline: float | None
    unit: str  # "ratio" (error rates) or "seconds"
    p_value: float | None = None
    e_value: float | None = None
    largest_regression: float | None = None  # what the data still allows, in the rule's unit (see rules)
    breached_seconds: float = 0.0  # how long the rule has been breached, as failure-counting counts it

    def as_json(self) -> dict[str, object]:
        return {"metric": self.metric, "rule": self.rule, "verdict": self.verdict, "canary": _finite(self.canary),
                "baseline": _finite(self.baseline), "unit": self.unit,
                "p_value": _finite(self.p_value), "e_value": _finite(self.e_value),
                "largest_regression": _finite(self.largest_regression), "breached_seconds": self.breached_seconds}


def _finite(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return round(value, 9) if math.isfinite(value) else (1e308 if value > 0 else -1e308)


@dataclass(frozen=True)
class Point:
    """One look, for the chart and the JSON report: the requests since the start, and the error
    rates and p95s of this look's own window (None: no data in it)."""

    t: float
    canary_requests: float
    baseline_requests: float
    canary_error_rate: float | None
    baseline_error_rate: float | None
    canary_p95: float | None
    baseline_p95: float | None
    missing: bool


@dataclass(frozen=True)
class Conclusion:
    decision: Decision
    reason: str
    at: float  # seconds since the start of the analysis
    verdicts: tuple[Verdict, ...]
    no_data: bool = False
    failed: bool = False  # on-no-data: fail
    rule: str = ""  # the guard or metric that decided a rollback


class CanaryAnalysis:
    """Feed `look(t, data)` in time order; it returns a `Conclusion` once decided, and `finish(t)`
    gives the answer when time is up."""

    def __init__(self, config: AnalysisConfig, resumed: Sequence[rules.GuardState] = ()) -> None:
        """`resumed`: the guards' states an earlier analysis ended with (evidence.read), to
        continue their e-processes; empty: every test starts at e = 1."""
        self.config = config
        if resumed and [g.guard for g in resumed] != list(config.guards):
            raise ValueError("resumed guards must be the configured guards, in order")
        self.guards = list(resumed) if resumed else [rules.start(g) for g in config.guards]
        self.resumed_looks = max((g.test.looks for g in resumed), default=0)
        self.customs = [rules.CustomState(m) for m in config.custom]
        self.canary = ArmCounts()
        self.baseline = ArmCounts()
        self.last_t: float | None = None
        self.last_missing = True
        self.last_canary_traffic: float | None = None  # when the canary last served requests
        self.spacing = 0.0  # the longest time between two looks
        self.looks = 0
        self.missing_looks = 0
        self.problems: list[str] = []
        self.timeline: list[Point] = []
        self.recent: deque[tuple[float, ArmCounts, ArmCounts]] = deque()
        self.conclusion: Conclusion | None = None

    # -- feeding -------------------------------------------------------------------------------

    def look(self, t: float, data: LookData) -> Conclusion | None:
        if self.conclusion is not None:
            return self.conclusion
        seconds = 0.0 if self.last_t is None else max(0.0, t - self.last_t)
        self.spacing = max(self.spacing, seconds)
        self.last_t = t
        self.looks += 1
        for problem in data.problems:
            if problem not in self.problems:
                self.problems.append(problem)
        cfg = self.config
        missing = data.canary is None or data.baseline is None
        self.last_missing = missing
        canary_delta = baseline_delta = ArmCounts()
        if missing:
            self.missing_looks += 1
        else:
            assert data.canary is not None and data.baseline is not None
            previous_baseline = self.baseline
            (self.canary, canary_delta), (self.baseline, baseline_delta) = (
                _grow(self.canary, data.canary), _grow(self.baseline, data.baseline))
            if canary_delta.requests > 0 or self.last_canary_traffic is None:
                self.last_canary_traffic = t
            recent = self._recent(t, canary_delta, baseline_delta)
            self.guards = [
                rules.step(state, canary=self.canary, baseline=self.baseline, canary_delta=canary_delta,
                           baseline_delta=baseline_delta, previous_baseline=previous_baseline, seconds=seconds,
                           alpha=cfg.alpha_of(state.guard), counting=cfg.counting, recent=recent)
                for state in self.guards
            ]
        for i, state in enumerate(self.customs):
            canary_value, baseline_value = data.custom.get(state.metric.name, (None, None))
            self.customs[i] = rules.step_custom(state, canary_value, baseline_value, seconds, cfg.counting)
        self.timeline.append(self._point(t, missing, canary_delta, baseline_delta))
        self.conclusion = self._decide(t)
        return self.conclusion

    def _recent(self, t: float, canary_delta: ArmCounts, baseline_delta: ArmCounts,
                ) -> Callable[[], tuple[ArmCounts, ArmCounts]]:
        """The counts of the last RECENT_WINDOW seconds (at least this look), summed on demand."""
        self.recent.append((t, canary_delta, baseline_delta))
        while len(self.recent) > 1 and self.recent[0][0] <= t - RECENT_WINDOW:
            self.recent.popleft()
        window = tuple(self.recent)

        @functools.cache
        def counts() -> tuple[ArmCounts, ArmCounts]:
            canary, baseline = ArmCounts(), ArmCounts()
            for _, c, b in window:
                canary, baseline = canary.plus(c), baseline.plus(b)
            return canary, baseline

        return counts

    def _point(self, t: float, missing: bool, canary: ArmCounts, baseline: ArmCounts) -> Point:
        from deploy_actions.verify.canary.stats import histogram_quantile

        return Point(t, self.canary.requests, self.baseline.requests, canary.error_rate, baseline.error_rate,
                     histogram_quantile(canary.buckets, 0.95), histogram_quantile(baseline.buckets, 0.95), missing)

    def stopped(self, t: float) -> str | None:
        """Why the canary's traffic counts as stopped at `t` (no requests for more than `max-idle`
        of the analysis, and for more than IDLE_LOOKS looks: a late scrape can leave one look
        without new requests), or None."""
        if self.last_canary_traffic is None or self.canary.requests <= 0:
            return None
        idle = t - self.last_canary_traffic
        if idle > 0 and idle > self.config.max_idle * t and idle > IDLE_LOOKS * self.spacing:
            return (f"the canary's traffic stopped: no new requests for the last {idle:g}s "
                    f"(more than max-idle {self.config.max_idle:.0%} of {t:g}s)")
        return None

    # -- deciding ------------------------------------------------------------------------------

    def _decide(self, t: float) -> Conclusion | None:
        for g in self.guards:
            if g.rolled_back:
                return Conclusion(Decision.ROLLBACK, self._rollback_reason(g, t), t, self.verdicts(),
                                  rule=g.guard.name)
        for c in self.customs:
            if c.rolled_back:
                reason = (f"metric {c.metric.name} = {c.canary:g} on the canary, outside "
                          f"{c.metric.label} (at {t:g}s)")
                return Conclusion(Decision.ROLLBACK, reason, t, self.verdicts(), rule=c.metric.name)
        if not self._blockers(t):
            return Conclusion(Decision.PROMOTE, self._promote_reason(t), t, self.verdicts())
        return None

    def _blockers(self, t: float) -> list[str]:
        """Why we cannot promote yet (empty: we can)."""
        cfg = self.config
        blockers = []
        min_duration = min(cfg.min_duration, cfg.duration)
        if t < min_duration:
            blockers.append(f"min-duration not reached ({t:g}s of {min_duration:g}s)")
        if self.canary.requests < cfg.min_requests:
            blockers.append(f"too little canary traffic ({self.canary.requests:.0f} of min-requests "
                            f"{cfg.min_requests} requests)")
        if self.baseline.requests <= 0:
            blockers.append("no baseline traffic")
        if self.last_missing:
            blockers.append("no data at the latest look")
        stopped = self.stopped(t)
        if stopped:
            blockers.append(stopped)
        for g in self.guards:
            if g.verdict == "nodata":
                blockers.append(f"no data for {g.guard.name}")
            elif g.verdict == "shared":
                blockers.append(f"{g.guard.name}: the baseline breaks {g.guard.label} too: the environment is "
                                "unhealthy, which is no evidence against the canary")
            elif g.verdict == "watch":
                blockers.append(f"{g.guard.name} breached ({g.guard.label}), waiting out its 'for'")
            elif g.exceeds:
                blockers.append(f"{g.guard.name}: the canary's estimate is beyond {g.guard.label} (not yet conclusive)")
        for c in self.customs:
            if c.verdict != "pass":
                blockers.append(f"metric {c.metric.name}: {c.verdict}")
        return blockers

    def finish(self, t: float) -> Conclusion:
        """The answer when `duration` is up (or the data stops coming)."""
        if self.conclusion is not None:
            return self.conclusion
        cfg = self.config
        no_data = None
        if self.canary.requests <= 0:
            no_data = "no data for the canary: it served no requests that we could see"
        elif self.last_missing:
            no_data = "no data at the latest look"
        elif self.stopped(t):
            no_data = f"no data: {self.stopped(t)}"
        elif self.baseline.requests <= 0:
            no_data = "no data for the baseline"
        if no_data is not None:
            if self.problems:
                no_data += f" ({'; '.join(self.problems[-3:])})"
            no_data += f"; {self.missing_looks} of {self.looks} looks had missing data"
            if cfg.on_no_data == "rollback":
                self.conclusion = Conclusion(Decision.ROLLBACK, f"no data (on-no-data: rollback): {no_data}", t,
                                             self.verdicts(), no_data=True, rule="no-data")
            else:
                self.conclusion = Conclusion(Decision.HOLD, f"no data (on-no-data: {cfg.on_no_data}): {no_data}", t,
                                             self.verdicts(), no_data=True, failed=cfg.on_no_data == "fail")
            return self.conclusion
        blockers = self._blockers(t)
        shared = [g for g in self.guards if g.verdict == "shared"]
        if self.canary.requests < cfg.min_requests:
            reason = (f"too little traffic to decide: {self.canary.requests:.0f} canary requests in "
                      f"{t:g}s, min-requests is {cfg.min_requests}")
        elif shared:
            reason = (f"the environment is unhealthy: the baseline breaks {shared[0].guard.label} as the "
                      f"canary does, so this is no evidence against the canary ({'; '.join(blockers)})")
        else:
            reason = "inconclusive after {:g}s: {}".format(t, "; ".join(blockers) or "no decision")
        self.conclusion = Conclusion(Decision.HOLD, reason, t, self.verdicts())
        return self.conclusion

    # -- reporting -----------------------------------------------------------------------------

    def verdicts(self) -> tuple[Verdict, ...]:
        out = []
        for g in self.guards:
            unit = "ratio" if g.guard.kind in ("rate", "increase") else "seconds"
            metric = "error-rate" if g.guard.kind in ("rate", "increase") else f"p{round(g.guard.quantile * 100)}"
            out.append(Verdict(metric, g.guard.label, g.verdict, g.canary, g.baseline, unit, g.test.p_value,
                               g.test.e_value, g.largest_regression(self.config.alpha_of(g.guard), self.baseline),
                               g.breached_seconds))
        for c in self.customs:
            out.append(Verdict(c.metric.name, c.metric.label, c.verdict, c.canary, c.baseline, "value",
                               breached_seconds=c.breached_seconds))
        return tuple(out)

    def _rollback_reason(self, g: rules.GuardState, t: float) -> str:
        guard = g.guard
        if guard.kind in ("rate", "increase"):
            numbers = (f"canary error rate {_pct(g.canary)} ({self.canary.errors:.0f}/{self.canary.requests:.0f}) "
                       f"vs baseline {_pct(g.baseline)} ({self.baseline.errors:.0f}/{self.baseline.requests:.0f})")
        else:
            numbers = f"canary p{round(guard.quantile * 100)} {_ms(g.canary)} vs baseline {_ms(g.baseline)}"
        return (f"{guard.name} ({guard.label}): {numbers} after {t:g}s; evidence e = {g.test.e_value:.3g} "
                f">= {1 / self.config.alpha_of(guard):g} (always-valid p = {g.test.p_value:.2g}, alpha share "
                f"{self.config.alpha_of(guard):g})")

    def _promote_reason(self, t: float) -> str:
        parts = [f"{self.canary.requests:.0f} canary and {self.baseline.requests:.0f} baseline requests in {t:g}s",
                 f"error rate {_pct(self.canary.error_rate)} vs {_pct(self.baseline.error_rate)}"]
        for g in self.guards:
            if g.guard.kind == "latency":
                parts.append(f"p{round(g.guard.quantile * 100)} {_ms(g.canary)} vs {_ms(g.baseline)}")
        return "no evidence of a regression; " + ", ".join(parts)


def _grow(before: ArmCounts, now: ArmCounts) -> tuple[ArmCounts, ArmCounts]:
    """The new cumulative counts and this look's increments. Providers report counts since their
    start; one that lost track (a restart) may report less than before: never go backwards. A look
    without a histogram (its query failed) keeps the histogram it had, so the next one with a
    histogram counts only what is new, never the whole history again."""
    if now.requests < before.requests:
        return before, ArmCounts()
    if not now.buckets and before.buckets:
        now = ArmCounts(now.requests, now.errors, before.buckets)
    return now, now.minus(before)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.3g}%"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 1000:.4g} ms"


def summarize(verdicts: Sequence[Verdict]) -> list[dict[str, object]]:
    return [v.as_json() for v in verdicts]
