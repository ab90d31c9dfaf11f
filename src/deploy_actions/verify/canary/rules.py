"""The runbook's guards (absolute and relative), how they are written, and how each is judged at
a look: evidence from an anytime-valid test, the tolerance, and failure counting.

Defaults (each an input; `off` disables a guard):

| guard | input | default |
| --- | --- | --- |
| canary error rate, absolute | `max-error-rate` | `5 for 2m` (percent; `5% for 2m` is the same) |
| error rate above the baseline's | `max-error-increase` | `0.5` (percentage points) |
| p95 latency above the baseline's | `max-p95-increase` | `50` (percent) |
| p99 latency as a multiple of the baseline's | `max-p99-ratio` | `5x for 5m` |

Each guard's null hypothesis is its tolerance, tested look by look (`stats.ExcessTest`):

- `max-error-rate` p0: H0 "the canary's error rate <= p0";
- `max-error-increase` delta: H0 "canary error rate <= baseline error rate + delta", both counted
  over the same window;
- `max-p95-increase` tau (and `max-p99-ratio` r, with r = 1 + tau): "slow" is a bucket bound L
  near the baseline's p95 (p99), chosen from the baseline's first 200 observations and then kept
  (fixed before the data it judges); H0 "the canary's share of
  requests above L <= the baseline's share above L / (1 + tau)", which holds whenever the canary
  is at most (1 + tau) times slower than the baseline (a shift by that factor gives exactly that
  share). The baseline's share at L / (1 + tau) is read from its histogram with log-linear
  interpolation inside the bucket, so ordinary buckets can meet the rule.

A guard is *breached* at a look when its test has rejected H0 at the guard's share of alpha
(sticky: once the evidence has crossed, it stays crossed) and, for guards with `for`, the numbers
of the last minute are beyond the threshold (as `rate(...[1m])` shows them). A guard rolls back
once it has been breached for its `for` duration (at once when there is none). The absolute guard
never rolls back for a breach the baseline shares over the same minute: the verdict is `shared`
(hold: the environment is unhealthy, the canary is not shown to be the cause).

Failure counting (`failure-counting`) applies to that duration. **consecutive** (the default,
like Prometheus' `for:`): a look that is not breached resets the count. **cumulative** (like
Flagger's failed-checks counter): breached looks add up and are never reset. Looks without data
neither count nor reset.

Only the tests can make a canary inside its tolerances fail, and alpha is split over the enabled
guards by `ALPHA_WEIGHTS` (weighted Bonferroni), so the false-rollback probability of all guards
together stays at or below alpha (over every stage of a rollout, when each stage resumes the
evidence of the one before: see `evidence`). Custom metrics (PromQL with a threshold) are plain threshold
checks: counted the same way, but not covered by that bound.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from deploy_actions.errors import InputError
from deploy_actions.verify.canary import stats
from deploy_actions.verify.canary.providers import ArmCounts

GuardKind = Literal["rate", "increase", "latency"]
Counting = Literal["consecutive", "cumulative"]
VerdictLabel = Literal["pass", "watch", "fail", "shared", "nodata"]

DEFAULT_MAX_ERROR_RATE = "5 for 2m"  # percent ("5% for 2m" reads the same)
DEFAULT_MAX_ERROR_INCREASE = "0.5"
DEFAULT_MAX_P95_INCREASE = "50"  # percent
DEFAULT_MAX_P99_RATIO = "5x for 5m"

BOUNDARY_MINIMUM = 200  # baseline observations before a latency guard picks its "slow" bound

# How alpha is split over the enabled guards (weighted Bonferroni: the shares add up to alpha).
# The relative guards are the ones that must find small regressions; the absolute error rate and
# the p99 ratio guard against large ones, which need little evidence.
ALPHA_WEIGHTS = {"error-rate": 1.0, "error-increase": 3.0, "p95-increase": 2.0, "p99-ratio": 1.0}

_GUARD_TEXT = re.compile(
    r"^\s*(?P<number>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>%|pp|points?|x|×)?\s*(?:for\s+(?P<for>\S.*?))?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Guard:
    """One rule. `threshold` is a fraction for rates and increases (0.05, 0.005) and a factor
    for latency (1.5 for +50 %, 5 for 5x)."""

    name: str
    kind: GuardKind
    threshold: float
    for_seconds: float = 0.0
    quantile: float = 0.0  # latency guards

    @property
    def label(self) -> str:
        if self.kind == "rate":
            text = f"error rate > {_pct(self.threshold)}"
        elif self.kind == "increase":
            text = f"error rate > baseline + {self.threshold * 100:g} points"
        elif self.name == "p95-increase":
            text = f"p95 > baseline + {(self.threshold - 1) * 100:g}%"
        else:
            text = f"p{round(self.quantile * 100)} > {self.threshold:g}x baseline"
        if self.for_seconds:
            text += f" for {_duration(self.for_seconds)}"
        return text


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def parse_guard(input_name: str, text: str, guard: str) -> Guard | None:
    """Read a guard input: a number in the guard's unit, optionally `for <duration>`; `off` disables.

    >>> parse_guard("max-error-rate", "5% for 2m", "error-rate")
    Guard(name='error-rate', kind='rate', threshold=0.05, for_seconds=120.0, quantile=0.0)
    >>> parse_guard("max-p95-increase", "off", "p95-increase") is None
    True
    """
    from deploy_actions.untrusted import duration as parse_duration

    raw = text.strip()
    if raw.lower() in ("off", "none", "false", "disabled"):
        return None
    expected = {
        "error-rate": "a percentage such as 5% (optionally 'for 2m'), or off",
        "error-increase": "percentage points such as 0.5 (optionally 'for 1m'), or off",
        "p95-increase": "a percentage such as 50% (optionally 'for 1m'), or off",
        "p99-ratio": "a factor such as 5x (optionally 'for 5m'), or off",
    }[guard]
    match = _GUARD_TEXT.match(raw)
    if not match:
        raise InputError(input_name, text, expected)
    number = float(match["number"])
    unit = (match["unit"] or "").lower()
    for_seconds = parse_duration(input_name, match["for"]) if match["for"] else 0.0
    if guard == "error-rate":
        if unit not in ("", "%") or not 0 < number < 100:
            raise InputError(input_name, text, expected + " (between 0 and 100 %)")
        return Guard("error-rate", "rate", number / 100, for_seconds)
    if guard == "error-increase":
        if unit not in ("", "pp", "point", "points") or not 0 < number < 100:
            raise InputError(input_name, text, expected + " (between 0 and 100)")
        return Guard("error-increase", "increase", number / 100, for_seconds)
    if guard == "p95-increase":
        if unit not in ("", "%") or number <= 0:
            raise InputError(input_name, text, expected + " (above 0 %)")
        return Guard("p95-increase", "latency", 1 + number / 100, for_seconds, quantile=0.95)
    if unit not in ("", "x", "×") or number <= 1:
        raise InputError(input_name, text, expected + " (above 1)")
    return Guard("p99-ratio", "latency", number, for_seconds, quantile=0.99)


def default_guards() -> tuple[Guard, ...]:
    parsed = (
        parse_guard("max-error-rate", DEFAULT_MAX_ERROR_RATE, "error-rate"),
        parse_guard("max-error-increase", DEFAULT_MAX_ERROR_INCREASE, "error-increase"),
        parse_guard("max-p95-increase", DEFAULT_MAX_P95_INCREASE, "p95-increase"),
        parse_guard("max-p99-ratio", DEFAULT_MAX_P99_RATIO, "p99-ratio"),
    )
    return tuple(g for g in parsed if g is not None)


@dataclass(frozen=True)
class GuardState:
    """Where one guard stands after the latest look."""

    guard: Guard
    test: stats.ExcessState
    verdict: VerdictLabel = "nodata"
    canary: float | None = None  # the compared statistic, cumulative: error rate or quantile (s)
    baseline: float | None = None
    breached_seconds: float = 0.0
    boundary: float | None = None  # latency: the bucket bound counted as "slow" (near the baseline's quantile)
    rolled_back: bool = False
    shared: bool = False  # absolute guard: the baseline breaks the rule too (the environment, not the canary)

    @property
    def exceeds(self) -> bool:
        """The point estimate of what the test compares is beyond the threshold (blocks a
        promotion): the error rates, or for latency the canary's share above the "slow" bound
        against the baseline's share above bound / threshold (quantiles read from a few buckets
        are too coarse to compare)."""
        g = self.guard
        if g.kind == "latency":
            canary, reference = self.test.canary_rate, self.test.reference_rate
            return canary is not None and reference is not None and canary > reference
        if self.canary is None:
            return False
        if g.kind == "rate":
            return self.canary > g.threshold
        return self.baseline is not None and self.canary - self.baseline > g.threshold

    def largest_regression(self, alpha: float, baseline: ArmCounts) -> float | None:
        """The largest regression the data still allows at level alpha, in the rule's unit: the
        canary's error rate (absolute), points above the baseline (increase), or the factor of a
        latency shift (from the cumulative `baseline` histogram). None before the test has looks
        enough to bound it."""
        bound = self.test.upper_bound(alpha)
        if bound is None:
            return None
        reference = self.test.reference_rate or 0.0
        if self.guard.kind == "rate":
            return min(1.0, reference + bound)
        if self.guard.kind == "increase":
            return bound
        if self.boundary is None or not baseline.buckets:
            return None
        return stats.shift_for_share(baseline.buckets, self.boundary, min(1.0, reference + bound))


def start(guard: Guard) -> GuardState:
    return GuardState(guard, stats.ExcessTest.start(guard.threshold if guard.kind == "increase" else 0.0))


def resume(guard: Guard, test: stats.ExcessState, boundary: float | None) -> GuardState:
    """A guard that continues an earlier analysis' test (and its "slow" bound): the evidence carries
    over, the `for` count and the verdict start afresh with this analysis' looks."""
    return GuardState(guard, test, boundary=boundary)


def _window_beyond(guard: Guard, canary: ArmCounts, baseline: ArmCounts) -> bool | None:
    """Is this look's own window beyond the threshold? None when the window has no data."""
    if guard.kind == "rate":
        rate = canary.error_rate
        return None if rate is None else rate > guard.threshold
    if guard.kind == "increase":
        c, b = canary.error_rate, baseline.error_rate
        return None if c is None or b is None else c - b > guard.threshold
    qc = stats.histogram_quantile(canary.buckets, guard.quantile)
    qb = stats.histogram_quantile(baseline.buckets, guard.quantile)
    if qc is None or qb is None or qb <= 0:
        return None
    return qc > guard.threshold * qb


def _update_test(state: GuardState, canary_delta: ArmCounts, baseline_delta: ArmCounts,
                 previous_baseline: ArmCounts) -> tuple[stats.ExcessState, float | None]:
    """Add this look's window to the guard's test; returns the test and the latency boundary."""
    guard, test, boundary = state.guard, state.test, state.boundary
    if guard.kind == "rate":
        return stats.ExcessTest.update(test, canary_delta.requests, canary_delta.errors,
                                       reference_rate=guard.threshold), boundary
    if guard.kind == "increase":
        if canary_delta.requests <= 0 or baseline_delta.requests <= 0:
            return test, boundary
        return stats.ExcessTest.update(test, canary_delta.requests, canary_delta.errors,
                                       reference_rate=baseline_delta.errors / baseline_delta.requests,
                                       reference_requests=baseline_delta.requests), boundary
    # Latency: "slow" is a bucket bound L near the baseline's quantile, chosen from the data *before*
    # the first look it counts and then kept: a bound that moved between two buckets would mix two
    # different rates and read as dispersion. A canary at most `threshold` times slower than the
    # baseline has at most the share of its requests above L that the baseline has above
    # L / threshold: that is H0.
    if boundary is None:
        boundary = stats.tail_boundary(previous_baseline.buckets, guard.quantile, minimum=BOUNDARY_MINIMUM)
    if boundary is None or not canary_delta.buckets or not baseline_delta.buckets:
        return test, boundary
    reference = stats.share_above(baseline_delta.buckets, boundary / guard.threshold)
    if reference is None or canary_delta.observed <= 0:
        return test, boundary
    slow = canary_delta.observed - _at(canary_delta.buckets, boundary)
    return stats.ExcessTest.update(test, canary_delta.observed, slow, reference_rate=reference,
                                   reference_requests=baseline_delta.observed), boundary


def step(state: GuardState, *, canary: ArmCounts, baseline: ArmCounts, canary_delta: ArmCounts,
         baseline_delta: ArmCounts, previous_baseline: ArmCounts, seconds: float, alpha: float,
         counting: Counting, recent: Callable[[], tuple[ArmCounts, ArmCounts]] | None = None) -> GuardState:
    """Judge one look. `canary`/`baseline` are cumulative, the deltas this look's aligned window,
    `recent()` the canary's and baseline's counts of the last minute (default: this look's; only
    called once the test has rejected), `seconds` the time since the previous look, `alpha` this
    guard's share."""
    guard = state.guard
    test, boundary = _update_test(state, canary_delta, baseline_delta, previous_baseline)
    if guard.kind in ("rate", "increase"):
        now_c, now_b = canary.error_rate, baseline.error_rate
        has_data = canary.requests > 0 and (guard.kind == "rate" or baseline.requests > 0)
    else:
        now_c = stats.histogram_quantile(canary.buckets, guard.quantile)
        now_b = stats.histogram_quantile(baseline.buckets, guard.quantile)
        has_data = canary.observed > 0 and baseline.observed > 0

    breach = test.rejects(alpha)
    shared = False
    breached_seconds = state.breached_seconds
    if breach and (guard.for_seconds > 0 or guard.kind == "rate"):
        canary_recent, baseline_recent = (canary_delta, baseline_delta) if recent is None else recent()
        beyond = _window_beyond(guard, canary_recent, baseline_recent)
        if beyond is None:  # no data in this look: neither counts nor resets
            return replace(state, test=test, canary=now_c, baseline=now_b, boundary=boundary,
                           verdict="watch" if breached_seconds > 0 else state.verdict)
        if guard.kind == "rate":
            # The baseline breaks the same absolute rule over the same window: the environment is
            # unhealthy and this is no evidence against the canary. Hold, never roll back for it.
            base_rate = baseline_recent.error_rate
            shared = beyond and base_rate is not None and base_rate > guard.threshold
            beyond = beyond and not shared
        breach = beyond if guard.for_seconds > 0 or shared else breach
    if breach:
        breached_seconds += seconds
    elif counting == "consecutive" and has_data:
        breached_seconds = 0.0
    rolled_back = breach and breached_seconds >= guard.for_seconds
    verdict: VerdictLabel
    if not has_data:
        verdict = "nodata"
    elif rolled_back:
        verdict = "fail"
    elif shared:
        verdict = "shared"
    elif breach or breached_seconds > 0:
        verdict = "watch"
    else:
        verdict = "pass"
    return GuardState(guard, test, verdict, now_c, now_b, breached_seconds, boundary, rolled_back, shared)


def _at(buckets: tuple[tuple[float, float], ...], bound: float) -> float:
    """The cumulative count at `bound` (the largest bucket at or below it)."""
    count = 0.0
    for le, value in buckets:
        if le > bound and not math.isclose(le, bound):
            break
        count = value
    return count


# -- custom metrics ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CustomMetric:
    """A PromQL template (`{{ selector }}`, `{{ interval }}`) whose canary value must stay within
    `max`/`min`; breached for `for` seconds → rollback."""

    name: str
    query: str
    max: float | None = None
    min: float | None = None
    for_seconds: float = 0.0

    @property
    def label(self) -> str:
        parts = []
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        text = " and ".join(parts)
        return text + (f" for {_duration(self.for_seconds)}" if self.for_seconds else "")


@dataclass(frozen=True)
class CustomState:
    metric: CustomMetric
    verdict: VerdictLabel = "nodata"
    canary: float | None = None
    baseline: float | None = None
    breached_seconds: float = 0.0
    rolled_back: bool = False


def step_custom(state: CustomState, canary: float | None, baseline: float | None, seconds: float,
                counting: Counting) -> CustomState:
    metric = state.metric
    if canary is None or math.isnan(canary):
        return replace(state, verdict="nodata", canary=None, baseline=baseline)
    beyond = (metric.max is not None and canary > metric.max) or (metric.min is not None and canary < metric.min)
    breached = state.breached_seconds
    if beyond:
        breached += seconds
    elif counting == "consecutive":
        breached = 0.0
    rolled_back = beyond and breached >= metric.for_seconds
    verdict: VerdictLabel = "fail" if rolled_back else ("watch" if beyond or breached > 0 else "pass")
    return CustomState(metric, verdict, canary, baseline, breached, rolled_back)


def parse_custom_metrics(text: str) -> tuple[CustomMetric, ...]:
    """The `metrics` input: a YAML list of {name, query, max and/or min, for}.

    >>> parse_custom_metrics('- name: q\\n  query: sum(x{ {{ selector }} })\\n  max: 5')
    (CustomMetric(name='q', query='sum(x{ {{ selector }} })', max=5.0, min=None, for_seconds=0.0),)
    """
    from deploy_actions.untrusted import duration as parse_duration

    if not text.strip():
        return ()
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    expected = ("a YAML list of metrics, each with name, query (PromQL using {{ selector }}) "
                "and max or min, optionally for")
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "invalid YAML"
        raise InputError("metrics", text, f"{expected} ({first})") from None
    if not isinstance(data, list) or not data:
        raise InputError("metrics", text, expected)
    metrics: list[CustomMetric] = []
    for index, item in enumerate(data, 1):
        where = f"metric #{index}"
        if not isinstance(item, dict):
            raise InputError("metrics", text, f"{expected}; {where} is not a mapping")
        unknown = set(item) - {"name", "query", "max", "min", "for"}
        if unknown:
            keys = ", ".join(sorted(map(str, unknown)))
            raise InputError("metrics", text, f"{expected}; {where} has unknown key(s) {keys}")
        name, query = item.get("name"), item.get("query")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise InputError("metrics", text, f"{expected}; {where} needs a name of letters, digits, '.', '_', '-'")
        if not isinstance(query, str) or not query.strip():
            raise InputError("metrics", text, f"{expected}; {name} needs a query")
        if "{{" in query.replace("{{ selector }}", "").replace("{{selector}}", "").replace(
                "{{ interval }}", "").replace("{{interval}}", ""):
            raise InputError("metrics", text, f"{expected}; {name} uses a placeholder other than "
                             "{{ selector }} and {{ interval }}")
        bounds: dict[str, float | None] = {}
        for key in ("max", "min"):
            value = item.get(key)
            if value is None:
                bounds[key] = None
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(float(value)):
                raise InputError("metrics", text, f"{expected}; {name}.{key} must be a number")
            bounds[key] = float(value)
        if bounds["max"] is None and bounds["min"] is None:
            raise InputError("metrics", text, f"{expected}; {name} needs max or min")
        for_text = item.get("for")
        for_seconds = parse_duration("metrics", str(for_text)) if for_text is not None else 0.0
        metrics.append(CustomMetric(name, query.strip(), bounds["max"], bounds["min"], for_seconds))
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise InputError("metrics", text, f"{expected}; names must be unique")
    return tuple(metrics)


def render_query(template: str, selector: str, interval_seconds: float) -> str:
    """A custom metric's PromQL for one side.

    >>> render_query('sum(rate(x{ {{ selector }} }[{{ interval }}]))', 'track="canary"', 30)
    'sum(rate(x{ track="canary" }[30s]))'
    """
    interval = f"{max(1, round(interval_seconds))}s"
    return re.sub(r"\{\{\s*interval\s*\}\}", interval, re.sub(r"\{\{\s*selector\s*\}\}", lambda _: selector, template))
