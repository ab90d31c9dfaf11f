"""Prometheus over its HTTP API: a small client (instant and range queries, bearer or basic auth,
timeouts, retries) and the provider that turns counters and histograms into per-side counts.

Counters are read as raw samples with their own timestamps (a range selector, `metric{...}[w]`,
in an instant query), never as the value "now" of each side: each side's series are scraped at
their own moments, so "now" ends the canary's and the baseline's windows at different times, and
a change both see (an outage starting) looks like a canary regression. Instead every look is cut
at one time T for both sides, a scrape interval behind the look (so every live series has a
sample after it), and each series is read at T by linear interpolation between its two samples
around it. Counter resets are undone the way `increase()` does (a value that goes down is a
restart: the new value is the increase). A series first seen after the start is counted from its
first sample, never with its whole lifetime; a series whose last sample is older than T stays at
its last value (a pod that went away serves nothing). Each look recomputes the counts from the
start of the analysis from the raw samples, so a failed query loses nothing and counts nothing
twice: the next good look covers the gap.

Empty results and NaN values are ordinary answers: they mean "no data" for that side at that
look, never zero. Only a query Prometheus rejects as malformed (HTTP 400, `bad_data`) is the
user's error; down, overloaded, timing out or answering nonsense is missing data.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deploy_actions import untrusted
from deploy_actions.errors import InputError, OperationError
from deploy_actions.verify.canary import rules
from deploy_actions.verify.canary.providers import ArmCounts, LookData, merge_buckets

USER_AGENT = "deploy-actions canary-monitor"
MAX_POINTS = 11_000  # Prometheus refuses range queries with more points per series
SAMPLE_MARGIN = 300.0  # seconds of samples read before the start: one before it, as Prometheus' lookback


class PrometheusUnavailable(Exception):
    """No usable answer (down, HTTP 5xx/429, timeout, an error status, not the API's JSON)."""


class PrometheusRejected(Exception):
    """Prometheus says the query itself is wrong (HTTP 400, errorType bad_data)."""


@dataclass(frozen=True)
class Series:
    labels: Mapping[str, str]
    samples: tuple[tuple[float, float], ...]  # (unix time, value); value may be NaN or ±Inf


@dataclass(frozen=True)
class QueryResult:
    result_type: str  # vector, matrix, scalar or string
    series: tuple[Series, ...] = field(default=())


def _number(text: object) -> float:
    if not isinstance(text, str):
        raise PrometheusUnavailable(f"a sample value is {type(text).__name__}, not a string")
    try:
        return float(text)  # accepts NaN, +Inf, -Inf as Prometheus writes them
    except ValueError:
        raise PrometheusUnavailable(f"a sample value is {text[:40]!r}, not a number") from None


def _sample(pair: object) -> tuple[float, float]:
    if not isinstance(pair, list) or len(pair) != 2 or isinstance(pair[0], bool) \
            or not isinstance(pair[0], (int, float)):
        raise PrometheusUnavailable("a sample is not [time, \"value\"]")
    return float(pair[0]), _number(pair[1])


def parse_response(body: bytes) -> QueryResult:
    """The `data` of a successful API answer; anything else raises PrometheusUnavailable or
    PrometheusRejected (bad_data). Never another exception, whatever the bytes."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise PrometheusUnavailable("the answer is not JSON (is prometheus-url the server's base URL?)") from None
    if not isinstance(doc, dict):
        raise PrometheusUnavailable("the answer is not a JSON object")
    status = doc.get("status")
    if status != "success":
        error_type, error = doc.get("errorType"), doc.get("error")
        message = f"{error_type}: {error}" if error_type or error else f"status {status!r}"
        if error_type == "bad_data":
            raise PrometheusRejected(str(message)[:300])
        raise PrometheusUnavailable(str(message)[:300])
    data = doc.get("data")
    if not isinstance(data, dict):
        raise PrometheusUnavailable("the answer has no data object")
    result_type, result = data.get("resultType"), data.get("result")
    if result_type in ("scalar", "string"):
        if result_type == "string":
            raise PrometheusUnavailable("the query returns a string, not a number")
        return QueryResult("scalar", (Series({}, (_sample(result),)),))
    if result_type not in ("vector", "matrix") or not isinstance(result, list):
        raise PrometheusUnavailable(f"unexpected resultType {str(result_type)[:40]!r}")
    series = []
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("metric", {}), dict):
            raise PrometheusUnavailable("a series is not an object with a metric")
        labels = {str(k): str(v) for k, v in item.get("metric", {}).items()}
        if result_type == "vector":
            samples: tuple[tuple[float, float], ...] = (_sample(item.get("value")),)
        else:
            values = item.get("values", [])
            if not isinstance(values, list):
                raise PrometheusUnavailable("a series' values are not a list")
            samples = tuple(_sample(v) for v in values)
        series.append(Series(labels, samples))
    return QueryResult(str(result_type), tuple(series))


class _CredentialsStayHome(urllib.request.HTTPRedirectHandler):
    """Follows redirects, but the Authorization header only to the origin it was configured for:
    urllib would otherwise carry it to whatever host a redirect names."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, f"redirect to a non-http URL refused: {msg}", headers, fp)
        if code in (307, 308) and req.get_method() == "POST":  # these keep the method and body (RFC 9110)
            new: urllib.request.Request | None = urllib.request.Request(  # noqa: S310 -- http(s), checked above
                newurl, data=req.data, headers=dict(req.header_items()), method="POST")
        else:
            new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(newurl) != _origin(req.full_url):
            for name in ("Authorization", "Cookie", "Proxy-Authorization"):
                new.remove_header(name)
                new.remove_header(name.capitalize())
        return new


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


class PrometheusClient:
    """`GET`-free, form-encoded `POST`s to /api/v1/query and /api/v1/query_range."""

    def __init__(self, url: str, *, token: str = "", username: str = "", password: str = "",
                 timeout: float = 10.0, retries: int = 2, backoff: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep, deadline: float | None = None) -> None:
        self.base = validate_url(url)
        self.deadline = deadline  # time.monotonic() by which every query and its retries must end
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self._opener = urllib.request.build_opener(_CredentialsStayHome())
        self.headers = {"User-Agent": USER_AGENT, "Accept": "application/json",
                        "Content-Type": "application/x-www-form-urlencoded"}
        if token and (username or password):
            raise InputError("prometheus-token", "***", "either a token or a username and password, not both")
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif username or password:
            pair = f"{username}:{password}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")

    def instant(self, query: str, at: float | None = None) -> QueryResult:
        params = {"query": query}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self._call("/api/v1/query", params)

    def range(self, query: str, start: float, end: float, step: float) -> QueryResult:
        if step <= 0 or (end - start) / step > MAX_POINTS:
            raise InputError("lookback", f"{end - start:g}s", f"at most {MAX_POINTS} looks of interval")
        params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        return self._call("/api/v1/query_range", params)

    def _call(self, path: str, params: Mapping[str, str]) -> QueryResult:
        body = urllib.parse.urlencode(params).encode()
        last = "no attempt"
        for attempt in range(self.retries + 1):
            left = math.inf if self.deadline is None else self.deadline - time.monotonic()
            if attempt:
                pause = min(self.backoff * 2 ** (attempt - 1), 5.0)
                if pause >= left:  # retries stay inside the analysis' deadline
                    break
                self.sleep(pause)
                left -= pause
            timeout = max(0.5, min(self.timeout, left))  # the first attempt always gets a fair try
            request = urllib.request.Request(self.base + path, data=body, headers=self.headers,  # noqa: S310
                                             method="POST")  # the base URL was checked to be http(s)
            try:
                with self._opener.open(request, timeout=timeout) as response:
                    return parse_response(response.read(16 * 1024 * 1024))
            except urllib.error.HTTPError as err:
                payload = _read(err)
                if err.code in (401, 403):
                    raise OperationError(f"Prometheus at {self.base} refused the credentials (HTTP {err.code}); "
                                         "check prometheus-token or prometheus-username/password") from None
                if err.code == 400:
                    try:
                        parse_response(payload)
                    except PrometheusRejected:
                        raise
                    except PrometheusUnavailable:
                        pass
                    raise PrometheusRejected(f"HTTP 400: {payload[:200].decode('utf-8', 'replace')}") from None
                try:
                    parse_response(payload)
                    last = f"HTTP {err.code}"
                except PrometheusRejected:
                    raise
                except PrometheusUnavailable as detail:
                    last = f"HTTP {err.code} ({detail})"
                if err.code == 404:
                    raise PrometheusUnavailable(f"HTTP 404 at {self.base}{path}: is prometheus-url the server's "
                                                "base URL?") from None
                if err.code not in (422, 429) and err.code < 500:
                    raise PrometheusUnavailable(last) from None
            except PrometheusUnavailable as err:
                last = str(err)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
                reason = getattr(err, "reason", err)
                last = f"cannot reach {self.base}: {reason}"
        raise PrometheusUnavailable(last)


def _read(err: urllib.error.HTTPError) -> bytes:
    try:
        return err.read(64 * 1024) or b""
    except (OSError, ValueError):
        return b""
    finally:
        err.close()


def validate_url(url: str) -> str:
    if "@" in url.split("://", 1)[-1].split("/", 1)[0]:
        raise InputError("prometheus-url", "<a URL with credentials>",
                         "a URL without credentials; use prometheus-username/password or prometheus-token")
    try:
        text = untrusted.url("prometheus-url", url).rstrip("/")
    except InputError:
        raise InputError("prometheus-url", url, "the server's base URL, e.g. http://prometheus:9090") from None
    parts = urllib.parse.urlsplit(text)
    if parts.query or parts.fragment:
        raise InputError("prometheus-url", url, "a base URL without ?query or #fragment")
    return text


_MATCHER = r"""[A-Za-z_][A-Za-z0-9_]*\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*,?\s*"""
_SELECTOR = re.compile(r"^\s*\{?\s*(?P<body>(?:" + _MATCHER + r")*)\}?\s*$")
_METRIC_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")


def normalize_selector(name: str, text: str) -> str:
    """`job="app",track="canary"` (braces optional) → the label matchers without braces.

    >>> normalize_selector("canary-selector", '{job="app", track="canary"}')
    'job="app", track="canary"'
    """
    match = _SELECTOR.match(text)
    braces = text.strip().startswith("{"), text.strip().endswith("}")
    if not text.strip() or not match or not match["body"].strip() or braces[0] != braces[1]:
        raise InputError(name, text, 'PromQL label matchers such as job="app",track="canary"')
    return match["body"].strip().rstrip(",").strip()


def validate_metric_name(name: str, text: str) -> str:
    if not _METRIC_NAME.match(text.strip()):
        raise InputError(name, text, "a Prometheus metric name such as http_requests_total")
    return text.strip()


Samples = Sequence[tuple[float, float]]


def _adjusted(samples: Samples) -> list[tuple[float, float]]:
    """A counter's samples with resets undone (a drop adds the value before it), in time order."""
    out: list[tuple[float, float]] = []
    offset = previous = 0.0
    for when, value in sorted(samples):
        if out and value < previous:
            offset += previous
        previous = value
        out.append((when, value + offset))
    return out


def _value_at(samples: Sequence[tuple[float, float]], t: float) -> float:
    """An adjusted counter at time t: interpolated between the samples around t, its first value
    before its first sample (counted from its first sample) and its last value after the last."""
    if t <= samples[0][0]:
        return samples[0][1]
    for (t0, v0), (t1, v1) in itertools.pairwise(samples):
        if t <= t1:
            return v0 + (v1 - v0) * (t - t0) / (t1 - t0) if t1 > t0 else v1
    return samples[-1][1]


def increase_between(samples: Samples, start: float, end: float) -> float:
    """How much a counter grew between `start` and `end`, from its raw samples (see the module).

    >>> increase_between([(0, 10), (10, 20), (20, 5)], 5, 20)  # 15 -> 20, then a restart to 5
    10.0
    >>> increase_between([(30, 7), (40, 9)], 0, 40)  # first seen at 30: counted from there
    2.0
    """
    adjusted = _adjusted(samples)
    if not adjusted or end <= start:
        return 0.0
    return max(0.0, _value_at(adjusted, end) - _value_at(adjusted, start))


def scrape_gap(series: Iterable[Samples]) -> float:
    """The longest of the series' typical (median) gaps between samples: how far behind the
    look a common cut must be for every live series to have a sample after it. 0 without gaps."""
    gaps = []
    for samples in series:
        times = sorted(when for when, _ in samples)
        steps = sorted(b - a for a, b in itertools.pairwise(times) if b > a)
        if steps:
            gaps.append(steps[len(steps) // 2])
    return max(gaps, default=0.0)


@dataclass(frozen=True)
class _Side:
    selector: str


class PrometheusProvider:
    """Canary and baseline counts from a request counter (with a status label) and a latency
    histogram, plus custom PromQL metrics."""

    def __init__(self, client: PrometheusClient, *, canary_selector: str, baseline_selector: str,
                 request_metric: str = "http_requests_total", status_label: str = "code",
                 error_status: str = "5..", latency_metric: str = "http_request_duration_seconds",
                 custom: Sequence[rules.CustomMetric] = (), interval: float = 10.0, latency: bool = True) -> None:
        self.client = client
        self.sides = {"canary": _Side(canary_selector), "baseline": _Side(baseline_selector)}
        self.request_metric = request_metric
        self.status_label = status_label
        try:
            self.error_status = re.compile(error_status)
        except re.error as err:
            raise InputError("error-status", error_status, f"a regular expression ({err})") from None
        self.latency_metric = latency_metric
        self.custom = tuple(custom)
        self.interval = interval
        self.with_latency = latency
        self.origin: float | None = None  # the first look's time: the counts start there
        self.gap = 0.0  # the longest scrape interval seen: how far behind a look its common cut is

    # -- queries ---------------------------------------------------------------------------------

    def _requests_query(self, side: str, window: int) -> str:
        return f"{self.request_metric}{{{self.sides[side].selector}}}[{window}s]"

    def _latency_query(self, side: str, window: int) -> str:
        return f"{self.latency_metric}_bucket{{{self.sides[side].selector}}}[{window}s]"

    def _custom_query(self, metric: rules.CustomMetric, side: str) -> str:
        return rules.render_query(metric.query, self.sides[side].selector, self.interval)

    def _input_for(self, query: str) -> tuple[str, str]:
        for metric in self.custom:
            if query in (self._custom_query(metric, "canary"), self._custom_query(metric, "baseline")):
                return "metrics", metric.query
        for side in ("canary", "baseline"):
            if self.sides[side].selector in query:
                return f"{side}-selector", self.sides[side].selector
        return "metrics", query

    def _run(self, query: str, runner: Callable[[str], QueryResult]) -> QueryResult:
        try:
            return runner(query)
        except PrometheusRejected as err:
            name, value = self._input_for(query)
            raise InputError(name, value, f"something Prometheus accepts in {query} ({err})") from None

    # -- looks ---------------------------------------------------------------------------------

    def look(self, now: float) -> LookData:
        return self._looks([now], now, lambda q: self.client.instant(q, now))[0][1]

    def history(self, start: float, end: float, step: float) -> list[tuple[float, LookData]]:
        """Looks at start, start + step, … end, from the raw samples up to `end`."""
        start = round(start, 3)  # the server's timestamps are start + k * step, to the millisecond
        count = math.floor((end - start) / step + 1e-9) + 1
        times = [start + i * step for i in range(count)]
        if count > MAX_POINTS:
            raise InputError("lookback", f"{end - start:g}s", f"at most {MAX_POINTS} looks of interval")
        return self._looks(times, times[-1], lambda q: self.client.range(q, start, times[-1], step))

    def _looks(self, times: Sequence[float], at: float, runner: Callable[[str], QueryResult],
               ) -> list[tuple[float, LookData]]:
        if self.origin is None:
            self.origin = times[0]
        window = max(1, math.ceil(at - self.origin + SAMPLE_MARGIN))
        problems: list[list[str]] = [[] for _ in times]  # per look time
        fetched: dict[str, tuple[Sequence[Series] | None, Sequence[Series] | None]] = {}
        for side in ("canary", "baseline"):
            requests = self._raw(self._requests_query(side, window), at, times, problems, side)
            latency = (self._raw(self._latency_query(side, window), at, times, problems, side)
                       if self.with_latency else None)
            fetched[side] = (requests, latency)
        self.gap = max(self.gap, scrape_gap(s.samples for pair in fetched.values() for part in pair
                                            for s in (part or ())))
        origin = self.origin - self.gap
        by_side: dict[str, list[ArmCounts | None]] = {"canary": [], "baseline": []}
        for t, at_problems in zip(times, problems, strict=True):
            cut = max(origin, t - self.gap)
            for side in ("canary", "baseline"):
                requests, latency = fetched[side]
                by_side[side].append(self._counts(side, requests, latency, origin, cut, t, at_problems))
        customs: list[dict[str, tuple[float | None, float | None]]] = [{} for _ in times]
        for metric in self.custom:
            values = {}
            for side in ("canary", "baseline"):
                values[side] = self._scalar(metric, side, runner, times, problems)
            for i in range(len(times)):
                customs[i][metric.name] = (values["canary"][i], values["baseline"][i])
        return [(t, LookData(by_side["canary"][i], by_side["baseline"][i], customs[i], tuple(problems[i])))
                for i, t in enumerate(times)]

    def _raw(self, query: str, at: float, times: Sequence[float], problems: list[list[str]], side: str,
             ) -> Sequence[Series] | None:
        """The raw samples of a range-selector query at `at` (None: the query failed)."""
        try:
            result = self._run(query, lambda q: self.client.instant(q, at))
        except PrometheusUnavailable as err:
            for where in problems:
                _note(where, f"{side}: {err}")
            return None
        return result.series

    def _counts(self, side: str, requests: Sequence[Series] | None, latency: Sequence[Series] | None,
                origin: float, cut: float, t: float, problems: list[str]) -> ArmCounts | None:
        """One side's counts between `origin` and `cut`, from the series that existed at look time t."""
        if requests is None:
            return None
        live = [s for s in requests if any(when <= t for when, _ in s.samples)]
        if not live:
            _note(problems, f"{side}: empty result for {self.request_metric}{{{self.sides[side].selector}}}")
            return None
        if any(not math.isfinite(v) for s in live for when, v in s.samples if when <= t):
            _note(problems, f"{side}: NaN in {self.request_metric}{{{self.sides[side].selector}}}")
            return None
        if not any(self.status_label in s.labels for s in live):
            _note(problems, f"{side}: the series of {self.request_metric} have no '{self.status_label}' label "
                  "(set status-label)")
            return None
        total = errors = 0.0
        for series in live:
            grown = increase_between([x for x in series.samples if x[0] <= t], origin, cut)
            total += grown
            if self.error_status.fullmatch(series.labels.get(self.status_label, "")):
                errors += grown
        buckets: dict[float, float] = {}
        for series in latency or ():  # a failed latency query: no histogram at this look
            samples = [x for x in series.samples if x[0] <= t and math.isfinite(x[1])]
            try:
                le = float(series.labels.get("le", "nan"))
            except ValueError:
                continue
            if samples and not math.isnan(le):
                buckets[le] = buckets.get(le, 0.0) + increase_between(samples, origin, cut)
        return ArmCounts(total, errors, merge_buckets(buckets))

    def _scalar(self, metric: rules.CustomMetric, side: str, runner: Callable[[str], QueryResult],
                times: Sequence[float], problems: list[list[str]]) -> list[float | None]:
        query = self._custom_query(metric, side)
        try:
            result = self._run(query, runner)
        except PrometheusUnavailable as err:
            for at in problems:
                _note(at, f"{metric.name} ({side}): {err}")
            return [None] * len(times)
        if len(result.series) > 1:
            raise InputError("metrics", metric.query, f"a query that returns one series ({metric.name} returns "
                             f"{len(result.series)} for the {side}; wrap it in sum())")
        out: list[float | None] = []
        index = _index(result.series[0].samples) if result.series else {}
        for t, at in zip(times, problems, strict=True):
            value = _sample_at(result.series[0].samples, index, t, len(times) == 1) if result.series else None
            if value is None or math.isnan(value):
                _note(at, f"{metric.name} ({side}): {'NaN' if value is not None else 'empty result'}")
                out.append(None)
            else:
                out.append(value)
        return out

    def close(self) -> None:
        return None


def _note(problems: list[str], text: str) -> None:
    if text not in problems:
        problems.append(text)


def _index(samples: Sequence[tuple[float, float]]) -> dict[int, float]:
    return {round(when * 1000): value for when, value in samples}


def _sample_at(samples: Sequence[tuple[float, float]], index: Mapping[int, float], t: float,
               instant: bool) -> float | None:
    if instant:
        return samples[-1][1] if samples else None
    return index.get(round(t * 1000))
