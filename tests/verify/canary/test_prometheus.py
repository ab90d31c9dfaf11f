"""The Prometheus client and provider against a scripted stand-in: auth, retries, timeouts, and every
way a query can fail (down, errors, NaN, empty, nonsense) ending in hold or an error, never promote.
Responses are fuzzed too."""

from __future__ import annotations

import base64
import json
import re
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy_actions.cli import main
from deploy_actions.errors import InputError, OperationError
from deploy_actions.verify.canary.monitor import CanaryMonitorOptions, canary_monitor
from deploy_actions.verify.canary.providers import prometheus as prom


class VirtualClock:
    """Wall-clock time that only moves when the monitor sleeps: a 30 s analysis takes no time."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def _monitor(url: str, **overrides):
    clock = VirtualClock()
    options = {"prometheus_url": url, "canary_selector": 'track="canary"', "baseline_selector": 'track="baseline"',
               "duration": 30.0, "interval": 10.0, "min_duration": 0.0, "min_requests": 0, "retries": 0,
               "timeout": 2.0, **overrides}
    return canary_monitor(CanaryMonitorOptions(**options), clock=clock, sleep=clock.sleep)


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_working_prometheus_can_promote(fake_prometheus):
    result = _monitor(fake_prometheus.url)
    assert result.conclusion.decision.value == "promote"


@pytest.mark.parametrize("mode", ["nan", "empty", "error-status", "http-500", "http-503", "garbage"])
def test_query_failures_hold_and_never_promote(fake_prometheus, mode):
    fake_prometheus.mode = mode
    result = _monitor(fake_prometheus.url)
    assert result.conclusion.decision.value == "hold" and result.conclusion.no_data
    assert result.exit_code == 0


def test_prometheus_down_holds(fake_prometheus):
    result = _monitor(_closed_port())
    assert result.conclusion.decision.value == "hold"
    assert "cannot reach" in result.conclusion.reason


@pytest.mark.parametrize(("on_no_data", "decision", "exit_code"), [("fail", "hold", 1), ("rollback", "rollback", 0)])
def test_on_no_data_says_what_no_data_means(fake_prometheus, on_no_data, decision, exit_code):
    fake_prometheus.mode = "empty"
    result = _monitor(fake_prometheus.url, on_no_data=on_no_data)
    assert (result.conclusion.decision.value, result.exit_code) == (decision, exit_code)


def test_data_that_goes_missing_after_a_good_start_is_not_promote(fake_prometheus):
    clock = VirtualClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        fake_prometheus.mode = "http-503"  # down after the first look

    options = CanaryMonitorOptions(prometheus_url=fake_prometheus.url, canary_selector='a="b"',
                                   baseline_selector='a="c"', duration=30.0, interval=10.0, min_duration=0.0,
                                   min_requests=0, retries=0)
    result = canary_monitor(options, clock=clock, sleep=sleep)
    assert result.conclusion.decision.value == "hold" and result.conclusion.no_data


def test_a_malformed_query_is_the_users_error(fake_prometheus):
    fake_prometheus.mode = "bad-data"
    with pytest.raises(InputError) as err:
        _monitor(fake_prometheus.url)
    assert str(err.value).startswith("input 'canary-selector': got 'track=\"canary\"'")
    assert "parse error" in str(err.value)


def test_refused_credentials_fail_at_once(fake_prometheus):
    fake_prometheus.mode = "unauthorized"
    with pytest.raises(OperationError) as err:
        _monitor(fake_prometheus.url, prometheus_token="s3cr3t")
    assert "HTTP 401" in str(err.value) and "s3cr3t" not in str(err.value)


def test_bearer_and_basic_auth_headers(fake_prometheus):
    prom.PrometheusClient(fake_prometheus.url, token="tok").instant("up")
    prom.PrometheusClient(fake_prometheus.url, username="ann", password="pw").instant("up")
    headers = [h for _, _, h in fake_prometheus.requests]
    assert headers[0]["Authorization"] == "Bearer tok"
    assert headers[1]["Authorization"] == "Basic " + base64.b64encode(b"ann:pw").decode()
    with pytest.raises(InputError):
        prom.PrometheusClient(fake_prometheus.url, token="tok", username="ann")


def test_errors_are_retried_then_reported(fake_prometheus):
    fake_prometheus.mode = "http-503"
    waits: list[float] = []
    client = prom.PrometheusClient(fake_prometheus.url, retries=2, backoff=0.5, sleep=waits.append)
    with pytest.raises(prom.PrometheusUnavailable, match="HTTP 503"):
        client.instant("up")
    assert fake_prometheus.calls == 3 and waits == [0.5, 1.0]


def test_retries_stay_inside_the_deadline(fake_prometheus, monkeypatch):
    fake_prometheus.mode = "http-503"
    clock = [1000.0]
    monkeypatch.setattr(prom.time, "monotonic", lambda: clock[0])
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    client = prom.PrometheusClient(fake_prometheus.url, retries=10, backoff=0.5, sleep=sleep, deadline=1002.0)
    with pytest.raises(prom.PrometheusUnavailable, match="HTTP 503"):
        client.instant("up")
    assert sum(waits) < 2.0 and waits == [0.5, 1.0] and fake_prometheus.calls == 3  # not 11 attempts


def test_a_hanging_server_times_out(fake_prometheus):
    fake_prometheus.mode = "hang"
    client = prom.PrometheusClient(fake_prometheus.url, retries=0, timeout=0.3)
    with pytest.raises(prom.PrometheusUnavailable, match=r"cannot reach|timed out"):
        client.instant("up")


def test_instant_and_range_queries_send_the_api_parameters(fake_prometheus):
    client = prom.PrometheusClient(fake_prometheus.url + "/")
    vector = client.instant("up", at=1_800_000_000.5)
    matrix = client.range("up", 1_800_000_000.0, 1_800_000_030.0, 10.0)
    assert vector.result_type == "vector" and len(vector.series[0].samples) == 1
    assert matrix.result_type == "matrix" and len(matrix.series[0].samples) == 4
    (path1, params1, _), (path2, params2, _) = fake_prometheus.requests
    assert path1 == "/api/v1/query" and params1["time"] == ["1800000000.500"]
    assert path2 == "/api/v1/query_range" and params2["step"] == ["10"]


def test_lookback_reads_history_from_raw_samples(fake_prometheus):
    result = _monitor(fake_prometheus.url, lookback=30.0, min_duration=20.0)
    assert result.conclusion.decision.value == "promote" and result.conclusion.at == 20
    # One instant query per metric and side with a range selector: the samples' own timestamps.
    queries = [params["query"][0] for path, params, _ in fake_prometheus.requests]
    assert all(path == "/api/v1/query" for path, _, _ in fake_prometheus.requests)
    assert len(queries) == 4 and all(q.endswith("s]") for q in queries)


@pytest.mark.parametrize(("url", "expected"), [
    ("ftp://prometheus:9090", "base URL"), ("http://user:pw@prometheus:9090", "without credentials"),
    ("prometheus:9090", "base URL"), ("http://prometheus:9090/?x=1", "without ?query"),
])
def test_bad_prometheus_urls(url, expected):
    with pytest.raises(InputError, match=re.escape(expected)):
        prom.validate_url(url)


@pytest.mark.parametrize(("text", "normal"), [
    ('job="app",track="canary"', 'job="app",track="canary"'),
    ('{job="app", track=~"can.*"}', 'job="app", track=~"can.*"'),
    ('app!="x",', 'app!="x"'),
])
def test_selectors_with_or_without_braces(text, normal):
    assert prom.normalize_selector("canary-selector", text) == normal


@pytest.mark.parametrize("text", ["", "canary", 'job="a"} or vector(1) {', "job=app", '{job="a"'])
def test_bad_selectors(text):
    with pytest.raises(InputError, match="input 'canary-selector'"):
        prom.normalize_selector("canary-selector", text)


def test_counters_count_increases_and_restarts_like_increase():
    samples = [(0.0, 100.0), (10.0, 130.0), (20.0, 5.0), (30.0, 9.0)]  # a restart between 10 and 20
    assert prom.increase_between(samples, 0.0, 30.0) == 39.0
    assert prom.increase_between(samples, 5.0, 10.0) == 15.0  # interpolated at 5 s
    assert prom.increase_between(samples, 30.0, 60.0) == 0.0  # no samples after 30: it stays
    assert prom.increase_between([(40.0, 60.0), (50.0, 61.0)], 0.0, 50.0) == 1.0  # from its first sample


def test_series_without_the_status_label_are_no_data_not_zero_errors():
    provider = prom.PrometheusProvider(prom.PrometheusClient("http://x"), canary_selector='a="b"',
                                       baseline_selector='a="c"')
    problems: list[str] = []
    series = [prom.Series({"job": "x"}, ((0.0, 1.0), (10.0, 11.0)))]
    assert provider._counts("canary", series, [], 0.0, 10.0, 10.0, problems) is None
    assert "have no 'code' label" in problems[0]


def test_parse_response_shapes():
    ok = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"code": "200"}, "value": [1.5, "NaN"]}, {"metric": {}, "value": [1.5, "+Inf"]}]}}).encode()
    result = prom.parse_response(ok)
    assert [s.samples[0][1] for s in result.series][1] == float("inf")
    scalar = json.dumps({"status": "success", "data": {"resultType": "scalar", "result": [1, "2"]}}).encode()
    assert prom.parse_response(scalar).series[0].samples == ((1.0, 2.0),)
    with pytest.raises(prom.PrometheusRejected):
        prom.parse_response(b'{"status": "error", "errorType": "bad_data", "error": "x"}')


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(lambda kind, result: json.dumps({"status": "success", "data": {"resultType": kind,
                                                                             "result": result}}).encode(),
              st.sampled_from(["vector", "matrix", "scalar", "string", "other"]), json_values),
    st.binary(max_size=64),
))
def test_any_answer_parses_or_is_missing_data(body):
    try:
        result = prom.parse_response(body)
    except (prom.PrometheusUnavailable, prom.PrometheusRejected):
        return
    for series in result.series:
        assert all(isinstance(v, float) for _, v in series.samples)


def test_the_cli_exits_2_with_one_line_for_a_malformed_query(fake_prometheus, capsys):
    fake_prometheus.mode = "bad-data"
    code = main(["canary-monitor", "--prometheus-url", fake_prometheus.url, "--canary-selector", 'a="b"',
                 "--baseline-selector", 'a="c"', "--duration", "1s", "--retries", "0"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
