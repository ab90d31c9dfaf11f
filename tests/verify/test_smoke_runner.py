"""The runner's rules, with a scripted sender (no network): deadline, backoff, streaks, journeys."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence

import pytest

from deploy_actions.verify.smoke.checks import (
    Capture,
    Check,
    Ending,
    Request,
    Response,
    Result,
    Template,
    TransportFailure,
)
from deploy_actions.verify.smoke.jsonpath import JsonPath
from deploy_actions.verify.smoke.runner import RunSettings, backoff, run_checks, units_of

QUICK = RunSettings(timeout=30, max_backoff=0.01, initial_backoff=0.005)
OK = Response(200, b'{"version": "1.2.3", "token": "abcdef-123"}', 1.0)


class Scripted:
    """Answers each URL from a list of replies; the last one repeats."""

    def __init__(self, replies: dict[str, Sequence[Response | TransportFailure]]) -> None:
        self.replies = {url: list(r) for url, r in replies.items()}
        self.sent: list[Request] = []
        self.lock = threading.Lock()

    def send(self, request: Request, timeout: float) -> Response | TransportFailure:
        with self.lock:
            self.sent.append(request)
            script = self.replies[request.target.url]
            return script.pop(0) if len(script) > 1 else script[0]


def check(path: str, **fields: object) -> Check:
    return Check(name=path, url=Template.literal(f"http://app{path}"), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("step", range(12))
def test_backoff_is_exponential_with_jitter_between_half_and_all_of_the_ceiling(step):
    rng = random.Random(step)
    ceiling = min(1.0, 0.1 * 2**step)
    waits = [backoff(step, 0.1, 1.0, rng) for _ in range(200)]
    assert all(ceiling / 2 <= w <= ceiling for w in waits)
    assert len(set(waits)) > 100  # jittered, so many checks do not retry in lockstep


def test_timeout_zero_means_one_attempt_per_check():
    sender = Scripted({"http://app/a": [Response(503, b"", 1.0)], "http://app/b": [OK]})

    a, b = run_checks([check("/a"), check("/b")], sender, RunSettings(timeout=0)).results

    assert (a.result, a.ending, a.attempts, a.detail) == (Result.FAILED, Ending.DEADLINE, 1, "HTTP 503")
    assert (b.result, b.attempts) == (Result.PASSED, 1)


def test_results_keep_the_order_of_the_checks_whatever_finishes_first():
    sender = Scripted({f"http://app/{i}": [Response(503, b"", 1.0)] * (5 - i) + [OK] for i in range(5)})
    checks = [check(f"/{i}") for i in range(5)]

    result = run_checks(checks, sender, QUICK)

    assert [r.name for r in result.results] == [c.name for c in checks]
    assert [r.attempts for r in result.results] == [6, 5, 4, 3, 2]


def test_journeys_are_units_in_written_order():
    a, b, c, d = check("/a", journey="j"), check("/b"), check("/c", journey="j"), check("/d", journey="k")
    assert units_of([a, b, c, d]) == [[a, c], [b], [d]]


def test_captures_flow_to_later_steps_and_secret_ones_are_masked_first():
    login = check("/login", journey="j", captures=(Capture("token", JsonPath.parse("$.token")),
                                                     Capture("version", JsonPath.parse("$.version"), secret=False)))
    use = Check(name="use", url=Template.parse("http://app/use/${version}", {}), journey="j",
                headers=(("Authorization", Template.parse("Bearer ${token}", {})),))
    sender = Scripted({"http://app/login": [OK], "http://app/use/1.2.3": [OK]})
    masked: list[str] = []
    seen_unmasked: list[str] = []

    def on_attempt(attempt):
        if attempt.check.name == "/login":
            seen_unmasked.append("abcdef-123" if "abcdef-123" not in masked else "")

    result = run_checks([login, use], sender, QUICK, on_secret=masked.append, on_attempt=on_attempt)

    assert result.ok
    assert masked == ["abcdef-123"] and seen_unmasked == [""]
    assert sender.sent[-1].headers == (("Authorization", "Bearer abcdef-123"),)


def test_a_captured_value_that_breaks_the_request_fails_that_step():
    login = check("/login", journey="j", captures=(Capture("token", JsonPath.parse("$.token")),))
    use = Check(name="use", url=Template.literal("http://app/use"), journey="j",
                headers=(("X-Token", Template.parse("${token}", {})),))
    sender = Scripted({"http://app/login": [Response(200, b'{"token": "a\\nb"}', 1.0)]})

    first, second = run_checks([login, use], sender, QUICK).results

    assert first.passed and (second.result, second.ending) == (Result.FAILED, Ending.DEFINITE)
    assert "line break" in second.detail


def test_consecutive_successes_can_be_set_per_check():
    sender = Scripted({"http://app/a": [OK]})

    (result,) = run_checks([check("/a", consecutive_successes=4)], sender, QUICK).results

    assert (result.attempts, result.streak, result.needed) == (4, 4, 4)


def test_without_fail_fast_the_other_checks_carry_on():
    sender = Scripted({"http://app/bad": [TransportFailure("tls", "TLS: certificate verify failed")],
                       "http://app/slow": [Response(503, b"", 1.0)] * 3 + [OK]})
    settings = RunSettings(timeout=30, max_backoff=0.01, initial_backoff=0.005, fail_fast=False, concurrency=2)

    bad, slow = run_checks([check("/bad"), check("/slow")], sender, settings).results

    assert (bad.ending, slow.result, slow.attempts) == (Ending.DEFINITE, Result.PASSED, 4)


class OldThenHung:
    """The old version answers once; then the service hangs for as long as it is given."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, request: Request, timeout: float) -> Response | TransportFailure:
        self.calls += 1
        if self.calls == 1:
            return Response(200, b'{"version": "1.2.2"}', 1.0)
        threading.Event().wait(timeout)
        return TransportFailure("timeout", f"the response was not complete within {timeout:.3g} s")


def test_an_attempt_the_deadline_cut_short_does_not_hide_what_was_running():
    settings = RunSettings(timeout=0.3, request_timeout=10, max_backoff=0.01, initial_backoff=0.005)

    (result,) = run_checks([check("/health", expect_version="1.2.3")], OldThenHung(), settings).results

    assert (result.result, result.ending) == (Result.FAILED, Ending.DEADLINE)
    assert result.detail == "running 1.2.2, expected 1.2.3"


def test_a_full_request_timeout_is_reported_as_it_is():
    settings = RunSettings(timeout=0.3, request_timeout=0.05, max_backoff=0.01, initial_backoff=0.005)

    (result,) = run_checks([check("/health", expect_version="1.2.3")], OldThenHung(), settings).results

    assert (result.result, result.ending) == (Result.FAILED, Ending.DEADLINE)
    assert result.detail.startswith("the response was not complete within")
