"""probe mode: our own requests to the canary and the baseline, against the same test service
instances Prometheus scrapes (tests.plugins.prometheus), and unit checks of the recorder."""

from __future__ import annotations

import json
import math
import socket
import threading
import time

import pytest

from deploy_actions.cli import main
from deploy_actions.verify.canary.providers import probe

FAST = ["--rate", "40", "--duration", "15s", "--interval", "500ms", "--min-duration", "2s", "--min-requests", "50",
        "--alpha", "0.001", "--json"]


def _probe(capsys, canary: str, baseline: str, *extra: str):
    code = main(["canary-monitor", "--provider", "probe", "--canary-url", canary, "--baseline-url", baseline,
                 *FAST, *extra])
    out = capsys.readouterr()
    return code, json.loads(out.out)


def test_probing_a_healthy_canary_promotes(canary_lab, capsys):
    code, result = _probe(capsys, canary_lab.url_of("healthy", "canary"), canary_lab.url_of("healthy", "baseline"))
    assert code == 0 and result["decision"] == "promote", result["reason"]
    assert set(result) == {"decision", "reason", "verdicts", "report", "elapsed"}
    assert float(result["elapsed"]) >= 2


def test_probing_a_bad_canary_rolls_back(canary_lab, capsys):
    code, result = _probe(capsys, canary_lab.url_of("bad", "canary"), canary_lab.url_of("bad", "baseline"),
                          "--fail-on-rollback", "true")
    assert code == 1 and result["decision"] == "rollback"
    assert float(result["elapsed"]) < 15


def test_a_canary_that_refuses_connections_is_failing_not_missing(canary_lab, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    code, result = _probe(capsys, closed, canary_lab.url_of("healthy", "baseline"))
    assert result["decision"] == "rollback"
    assert "canary error rate 100%" in result["reason"]


def test_latency_lands_in_its_bucket():
    assert probe.BUCKETS[probe._bucket(0.0005)] >= 0.0005
    for seconds in (0.0011, 0.02, 0.3, 7.5, 59.0):
        index = probe._bucket(seconds)
        assert probe.BUCKETS[index] >= seconds > (probe.BUCKETS[index - 1] if index else 0)
    assert probe._bucket(1e6) == len(probe.BUCKETS)


def test_the_probe_records_status_latency_and_errors_at_its_rate():
    calls: list[str] = []
    lock = threading.Lock()

    def sender(url: str, timeout: float):
        with lock:
            calls.append(url)
            n = len(calls)
        status = 0 if url.endswith("down") else (503 if n % 4 == 0 else 200)
        return probe.Response(status, 0.02), "refused" if status == 0 else ""

    provider = probe.ProbeProvider("http://canary/down", "http://baseline/", rate=50, sender=sender)
    provider.start()
    time.sleep(0.5)
    provider.close()
    time.sleep(0.05)
    data = provider.look(0)
    assert data.canary is not None and data.baseline is not None
    assert data.canary.requests == data.canary.errors > 10  # no answer at all is an error
    assert 0 < data.baseline.errors < data.baseline.requests
    assert data.canary.buckets[-1] == (math.inf, data.canary.requests)
    assert any("refused" in p for p in data.problems)


def test_a_hung_target_is_not_flooded():
    release = threading.Event()

    def sender(url: str, timeout: float):
        release.wait(15)  # hung until the test lets go
        return probe.Response(200, 2.0), ""

    provider = probe.ProbeProvider("http://a/", "http://b/", rate=200, max_in_flight=5, sender=sender)
    provider.start()
    canary = provider.arms["canary"]
    deadline = time.monotonic() + 10  # on a busy machine the scheduler may take a while to get going
    while canary.skipped == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert canary.in_flight == 5 and canary.skipped > 0
    release.set()
    provider.close()


@pytest.mark.parametrize("url", ["ftp://x/", "canary", "http://"])
def test_probe_urls_must_be_http(url):
    from deploy_actions.errors import InputError

    with pytest.raises(InputError, match="input 'canary-url'"):
        probe.validate_url("canary-url", url)
