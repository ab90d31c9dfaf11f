"""smoke-test against real local services whose behaviour changes as a rollout would: each reaches
the right verdict, the right way (not ready vs definite), after the right number of attempts.

Phases advance by request count, and a refusing service opens when the runner reports its
second attempt, so attempt counts are exact; deadlines are generous, and nothing here asserts
how long anything took.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from deploy_actions import actions_runtime
from deploy_actions.errors import InputError
from deploy_actions.verify.smoke.checks import (
    AttemptState,
    Check,
    CheckResult,
    Ending,
    JsonAssertion,
    Result,
    StatusExpectation,
    Template,
)
from deploy_actions.verify.smoke.runner import Attempt, RunResult, RunSettings, run_checks
from deploy_actions.verify.smoke.smoke_test import SmokeTestOptions, smoke_test
from deploy_actions.verify.smoke.transport import Transport
from tests.plugins.http_services import Phase, Reply, SeenRequest, Service, short_socket_dir

OLD = {"status": "ok", "version": "1.2.2"}
NEW = {"status": "ok", "version": "1.2.3"}
FAST = dict(max_backoff=0.02, initial_backoff=0.01)  # quick retries; the deadline stays generous


def rollout() -> list[Phase]:
    """A pod coming up: 503 twice, the old version twice, then the new version."""
    return [Phase(Reply(503), requests=2), Phase(Reply(json=OLD), requests=2), Phase(Reply(json=NEW))]


def check(url: str, name: str = "health", **fields: object) -> Check:
    return Check(name=name, url=Template.literal(url), **fields)  # type: ignore[arg-type]


def run(checks: Sequence[Check], *, timeout: float = 60, verify: bool | str = True,
        on_attempt: Callable[[Attempt], None] | None = None, **settings: object) -> RunResult:
    with Transport(verify=verify) as transport:
        return run_checks(checks, transport, RunSettings(timeout=timeout, **{**FAST, **settings}),  # type: ignore[arg-type]
                          on_attempt=on_attempt)


def open_after(service: Service, attempts: int, log: list[Attempt] | None = None) -> Callable[[Attempt], None]:
    """An observer that opens `service` once the runner has made `attempts` attempts."""
    def observe(attempt: Attempt) -> None:
        if log is not None:
            log.append(attempt)
        if attempt.number == attempts:
            service.open()
    return observe


def only(result: RunResult) -> CheckResult:
    (one,) = result.results
    return one


# -- 1. refused, then 503, then the old version, then the new one ----------------------------------

@pytest.mark.parametrize("unix", [False, True], ids=["tcp", "unix-socket"])
def test_rollout_is_waited_out_until_the_new_version_answers(http_service, unix):
    service = http_service({"/health": rollout()}, unix=unix, listening=False)
    seen: list[Attempt] = []

    result = only(run([check(service.url("/health"), expect_version="1.2.3")],
                      on_attempt=open_after(service, 2, seen)))

    assert (result.result, result.ending, result.attempts) == (Result.PASSED, Ending.PASSED, 7)
    assert result.version == "1.2.3" and result.last_status == 200
    assert [a.observation.detail for a in seen] == [
        "connection refused", "connection refused",
        "HTTP 503 Service Unavailable", "HTTP 503 Service Unavailable",
        "running 1.2.2, expected 1.2.3", "running 1.2.2, expected 1.2.3", ""]
    assert all(a.observation.state is AttemptState.NOT_READY for a in seen[:-1])
    assert service.count("/health") == 5


def test_a_socket_that_does_not_exist_yet_is_not_ready(http_service):
    folder = short_socket_dir()
    path = os.path.join(folder, "daemon.sock")
    started: list[Service] = []

    def observe(attempt: Attempt) -> None:
        if attempt.number == 2:
            started.append(Service.start({"/health": Reply(json=NEW)}, unix_path=path))

    try:
        result = only(run([check(f"unix://{path}:/health", expect_version="v1.2.3")], on_attempt=observe))
    finally:
        for service in started:
            service.stop()
        os.rmdir(folder)
    assert (result.result, result.attempts) == (Result.PASSED, 3)


def test_the_old_version_until_the_deadline_fails_naming_both_versions(http_service):
    service = http_service({"/health": Reply(json=OLD)})

    result = only(run([check(service.url("/health"), expect_version="1.2.3")], timeout=2.0))

    assert (result.result, result.ending) == (Result.FAILED, Ending.DEADLINE)
    assert result.detail == "running 1.2.2, expected 1.2.3"
    assert result.attempts >= 2 and result.version == "1.2.2"


def test_a_json_assertion_failing_on_the_new_version_fails_fast(http_service):
    degraded = {"status": "degraded", "version": "1.2.3"}
    service = http_service({"/health": [Phase(Reply(503), requests=1), Phase(Reply(json=degraded))]})

    result = only(run([check(service.url("/health"), expect_version="1.2.3",
                             expect_json=(JsonAssertion.parse_line("$.status = ok"),))], timeout=60))

    assert (result.result, result.ending, result.attempts) == (Result.FAILED, Ending.DEFINITE, 2)
    assert result.detail == '$.status: expected "ok", got "degraded" (on the new version 1.2.3)'


def test_the_old_version_failing_an_assertion_is_only_not_ready(http_service):
    # The old version may lack what the new one adds: that is a rollout in progress, not a failure.
    old_without_field = {"version": "1.2.2"}
    service = http_service({"/health": [Phase(Reply(json=old_without_field), requests=2), Phase(Reply(json=NEW))]})

    result = only(run([check(service.url("/health"), expect_version="1.2.3",
                             expect_json=(JsonAssertion.parse_line("$.status = ok"),))]))

    assert (result.result, result.attempts) == (Result.PASSED, 3)


def test_a_500_on_a_check_that_passed_before_fails_fast(http_service):
    service = http_service({"/orders": [Phase(Reply(json={"items": []}), requests=1),
                                        Phase(Reply(500, body="boom"))]})

    result = only(run([check(service.url("/orders"), name="orders")], consecutive_successes=3))

    assert (result.result, result.ending, result.attempts) == (Result.FAILED, Ending.DEFINITE, 2)
    assert result.detail == "expected status 200, got 500 Internal Server Error: boom (it passed before)"


def test_a_500_from_a_service_that_never_passed_is_retried_until_the_deadline(http_service):
    service = http_service({"/orders": Reply(500, body="starting")})

    result = only(run([check(service.url("/orders"), name="orders")], timeout=2.0))

    assert (result.result, result.ending) == (Result.FAILED, Ending.DEADLINE)
    assert result.attempts >= 2 and result.last_status == 500


def test_a_definite_failure_stops_the_other_checks(http_service):
    broken = http_service({"/health": Reply(json={"status": "down", "version": "1.2.3"})})
    starting = http_service({"/health": Reply(503)})
    checks = [check(broken.url("/health"), "broken", expect_version="1.2.3",
                    expect_json=(JsonAssertion.parse_line("$.status = ok"),)),
              check(starting.url("/health"), "starting")]

    first, second = run(checks, timeout=120).results

    assert (first.result, first.ending, first.attempts) == (Result.FAILED, Ending.DEFINITE, 1)
    assert (second.result, second.ending) == (Result.SKIPPED, Ending.STOPPED)
    assert second.detail.startswith("stopped: 'broken' failed")


# -- 2. a flapping endpoint ----------------------------------------------------------------------

def test_flapping_endpoint_passes_only_after_n_successes_in_a_row(http_service):
    flaps = [Phase(Reply(json=NEW), requests=1), Phase(Reply(503), requests=1)] * 2
    service = http_service({"/health": [*flaps, Phase(Reply(json=NEW))]})  # 200 503 200 503 200 200 200 …
    seen: list[Attempt] = []

    result = only(run([check(service.url("/health"))], consecutive_successes=3, on_attempt=seen.append))

    assert (result.result, result.attempts, result.streak) == (Result.PASSED, 7, 3)
    assert [a.streak for a in seen] == [1, 0, 1, 0, 1, 2, 3]


def test_endpoint_that_keeps_flapping_never_passes(http_service):
    def flap(_: SeenRequest, n: int) -> Reply:
        return Reply(json=NEW) if n % 2 else Reply(503)

    service = http_service({"/health": Phase(flap)})

    result = only(run([check(service.url("/health"))], timeout=3.0, consecutive_successes=2))

    assert (result.result, result.ending) == (Result.FAILED, Ending.DEADLINE)
    assert "passed at most 1 time in a row of the 2 needed" in result.detail


# -- 3. a slow endpoint ----------------------------------------------------------------------------

def test_slow_answers_time_out_and_are_retried_until_fast(http_service):
    service = http_service({"/health": [Phase(Reply(json=NEW, delay=30.0), requests=2), Phase(Reply(json=NEW))]})

    result = only(run([check(service.url("/health"), expect_version="1.2.3")], request_timeout=1.0))

    assert (result.result, result.attempts) == (Result.PASSED, 3)
    assert service.count("/health") == 3


def test_answers_slower_than_max_latency_are_not_ready_yet(http_service):
    service = http_service({"/health": [Phase(Reply(json=NEW, delay=1.2), requests=2), Phase(Reply(json=NEW))]})
    seen: list[Attempt] = []

    result = only(run([check(service.url("/health"), max_latency_ms=1000.0)], on_attempt=seen.append))

    assert (result.result, result.attempts) == (Result.PASSED, 3)
    assert "over max-latency-ms 1000" in seen[0].observation.detail


def test_an_endpoint_that_never_answers_in_time_fails_at_the_deadline(http_service):
    service = http_service({"/health": Reply(json=NEW, delay=10.0)})

    result = only(run([check(service.url("/health"))], timeout=1.0, request_timeout=0.2))

    assert (result.result, result.ending) == (Result.FAILED, Ending.DEADLINE)
    assert result.detail.startswith("no response within") and result.attempts >= 1


# -- 4. TLS with a CA the test generated ----------------------------------------------------------

def test_https_with_the_ca_bundle_waits_out_a_503(http_service, tls_ca):
    service = http_service({"/health": [Phase(Reply(503), requests=1), Phase(Reply(json=NEW))]}, tls=True)

    result = only(run([check(service.url("/health"), expect_version="1.2.3")], verify=str(tls_ca.ca_path)))

    assert (result.result, result.attempts, result.version) == (Result.PASSED, 2, "1.2.3")


def test_https_without_the_ca_fails_fast_on_the_certificate(http_service):
    service = http_service({"/health": Reply(json=NEW)}, tls=True)

    result = only(run([check(service.url("/health"))], timeout=60))

    assert (result.result, result.ending, result.attempts) == (Result.FAILED, Ending.DEFINITE, 1)
    assert result.detail.startswith("TLS: certificate verify failed")
    assert service.count("/health") == 0


def test_insecure_must_be_asked_for_and_is_then_reported(http_service, tmp_path):
    service = http_service({"/health": Reply(json=NEW)}, tls=True)

    outcome = smoke_test(SmokeTestOptions(url=(service.url("/health"),), insecure=True, timeout=30,
                                          report=str(tmp_path / "report.json")))

    assert outcome.run.ok
    assert any(a.level == "warning" and "not verified" in a.message for a in outcome.annotations)


def test_insecure_and_a_ca_bundle_together_are_bad_input(tls_ca):
    with pytest.raises(InputError, match="input 'insecure'"):
        smoke_test(SmokeTestOptions(url=("https://localhost:1/health",), insecure=True,
                                    ca_bundle=str(tls_ca.ca_path)))


def test_a_missing_ca_bundle_is_bad_input(tmp_path):
    with pytest.raises(InputError, match="input 'ca-bundle'"):
        smoke_test(SmokeTestOptions(url=("https://localhost:1/health",), ca_bundle=str(tmp_path / "nope.pem")))


# -- 5. a journey with a captured token ---------------------------------------------------------

JOURNEY = """\
checks:
  - name: health
    url: {base}/health
    expect-version: true
  - name: login
    journey: order
    url: {base}/auth/token
    method: POST
    json: {{user: smoke, password: "${{env.SMOKE_PASSWORD}}"}}
    capture: {{session: $.access_token}}
  - name: orders
    journey: order
    url: {base}/orders?limit=1
    headers: {{Authorization: "Bearer ${{session}}"}}
    expect-json:
      $.items[0].status: paid
"""


class Shop:
    """/auth/token hands out a fresh token for the right password; /orders wants it back."""

    password = 'correct "horse" \\ battery staple'  # quotes and a backslash: filled into JSON escaped

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def token(self, request: SeenRequest, n: int) -> Reply:
        if request.json() != {"user": "smoke", "password": self.password}:
            return Reply(401, json={"error": "bad credentials"})
        self.tokens.append(f"tok-{os.urandom(12).hex()}")
        return Reply(json={"access_token": self.tokens[-1], "token_type": "bearer"})

    def orders(self, request: SeenRequest, n: int) -> Reply:
        if not self.tokens or request.headers.get("Authorization") != f"Bearer {self.tokens[-1]}":
            return Reply(401, json={"error": "unauthorised"})
        return Reply(json={"items": [{"id": 7, "status": "paid"}]})


def journey_service(http_service, shop: Shop) -> Service:
    return http_service({
        "/health": [Phase(Reply(503), requests=1), Phase(Reply(json=NEW))],
        "POST /auth/token": [Phase(Reply(503), requests=2), Phase(shop.token)],
        "GET /orders": Phase(shop.orders),
    })


def test_journey_captures_a_token_and_uses_it_and_never_shows_it(http_service, tmp_path, monkeypatch):
    shop = Shop()
    service = journey_service(http_service, shop)
    spec = tmp_path / "smoke.yml"
    spec.write_text(JOURNEY.format(base=service.url("").rstrip("/")))
    logged: list[str] = []
    monkeypatch.setattr(actions_runtime, "log", lambda text: logged.append(actions_runtime.redact(text)))

    outcome = smoke_test(SmokeTestOptions(spec=str(spec), expect_version="1.2.3", timeout=60, max_backoff=0.02,
                                          report=str(tmp_path / "report.json"), junit=str(tmp_path / "junit.xml")),
                         env={"SMOKE_PASSWORD": Shop.password})

    health, login, orders = outcome.run.results
    assert [(r.name, r.result, r.attempts) for r in outcome.run.results] == [
        ("health", Result.PASSED, 2), ("login", Result.PASSED, 3), ("orders", Result.PASSED, 1)]
    (order_request,) = service.requests_to("/orders")
    assert order_request.headers["Authorization"] == f"Bearer {shop.tokens[-1]}"
    token = shop.tokens[-1]
    assert token in actions_runtime._secrets and Shop.password in actions_runtime._secrets
    shown = "\n".join([*logged, outcome.outcome().text, outcome.outcome().summary,
                       (tmp_path / "report.json").read_text(), (tmp_path / "junit.xml").read_text()])
    assert token not in shown and Shop.password not in shown


def test_a_failed_journey_step_skips_the_rest_of_the_journey(http_service, tmp_path):
    shop = Shop()
    service = journey_service(http_service, shop)
    spec = tmp_path / "smoke.yml"
    spec.write_text(JOURNEY.format(base=service.url("").rstrip("/")))

    outcome = smoke_test(SmokeTestOptions(spec=str(spec), expect_version="1.2.3", timeout=3, max_backoff=0.02,
                                          report=str(tmp_path / "r.json")),
                         env={"SMOKE_PASSWORD": "wrong"})

    health, login, orders = outcome.run.results
    assert health.result is Result.PASSED
    assert (login.result, login.ending, login.last_status) == (Result.FAILED, Ending.DEADLINE, 401)
    assert (orders.result, orders.attempts) == (Result.SKIPPED, 0)
    assert service.count("/orders") == 0
    assert (outcome.run.passed, outcome.run.failed, outcome.run.total) == (1, 2, 3)
    assert outcome.outcome().exit_code == 1


# -- concurrency -----------------------------------------------------------------------------------

def test_checks_run_concurrently_within_the_bound_and_journeys_in_order(http_service):
    bound = 3
    barrier = threading.Barrier(bound, timeout=20)
    lock = threading.Lock()
    in_flight = [0, 0]  # now, most

    def together(_: SeenRequest, n: int) -> Reply:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
        try:
            if n <= bound:  # the first `bound` requests only answer once all of them are in flight
                barrier.wait()
            return Reply(json=NEW)
        except threading.BrokenBarrierError:
            return Reply(500, body="the requests did not run concurrently")
        finally:
            with lock:
                in_flight[0] -= 1

    service = http_service({"/health": Phase(together), "/a": Reply(json={}), "/b": Reply(json={}),
                            "/c": Reply(json={})})
    standalone = [check(service.url(f"/health?i={i}"), f"health-{i}") for i in range(8)]
    journey = [check(service.url(p), f"step{p}", journey="j") for p in ("/a", "/b", "/c")]

    result = run([*standalone, *journey], concurrency=bound)

    assert result.ok and [r.attempts for r in result.results] == [1] * 11
    assert in_flight[1] <= bound
    order = [s.path for s in service.seen if s.path in ("/a", "/b", "/c")]
    assert order == ["/a", "/b", "/c"]


def test_expect_status_accepts_a_class_and_redirects_can_be_checked_as_such(http_service):
    service = http_service({"/old": Reply(301, headers={"Location": "/new"}), "/new": Reply(204)})

    moved, followed = run([
        check(service.url("/old"), "moved", expect_status=StatusExpectation.parse("301")),
        check(service.url("/old"), "followed", expect_status=StatusExpectation.parse("2xx")),
    ]).results

    assert (moved.result, moved.last_status) == (Result.PASSED, 301)
    assert (followed.result, followed.last_status) == (Result.PASSED, 204)


def test_cli_options_flow_into_the_run(http_service, tmp_path):
    service = http_service({"/health": rollout()})

    outcome = smoke_test(SmokeTestOptions(url=(service.url("/health"),), expect_version="v1.2.3", timeout=60,
                                          max_backoff=0.02, consecutive_successes=2,
                                          report=str(tmp_path / "r.json")))

    assert outcome.outputs() == {"passed": 1, "failed": 0, "total": 1, "ok": True, "version": "1.2.3",
                                 "report": str(Path(tmp_path / "r.json").resolve())}
    assert outcome.run.results[0].attempts == 6
