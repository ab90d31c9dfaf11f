"""The pure core of smoke-test: JSONPath, expectations, templates, targets and how one attempt is judged."""

from __future__ import annotations

import json

import pytest

from deploy_actions.verify.smoke.checks import (
    AttemptState,
    Capture,
    Check,
    JsonAssertion,
    Response,
    StatusExpectation,
    Template,
    TemplateError,
    TransportFailure,
    build_request,
    display_url,
    evaluate,
    header_secrets,
    json_equal,
    looks_secret,
    parse_target,
    same_version,
)
from deploy_actions.verify.smoke.jsonpath import JsonPath, JsonPathError, Missing

NEW = {"status": "ok", "version": "1.2.3"}


def health(**fields: object) -> Check:
    return Check(name="health", url=Template.literal("http://app/health"), **fields)  # type: ignore[arg-type]


def reply(status: int = 200, body: object = NEW, latency: float = 5.0) -> Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, data, latency)


def judge(check: Check, response: Response | TransportFailure, passed_before: bool = False):
    return evaluate(check, response, passed_before=passed_before)


# -- JSONPath -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "expected"), [
    ("$", {"a": {"b c": [1, {"d": "x"}]}}),
    ("$.a['b c'][1].d", "x"),
    ('$.a["b c"][-1].d', "x"),
    ("$.a['b c'][0]", 1),
])
def test_jsonpath_subset_picks_one_value(path, expected):
    document = {"a": {"b c": [1, {"d": "x"}]}}
    assert JsonPath.parse(path).find(document) == expected


@pytest.mark.parametrize(("path", "message"), [
    ("$.a.x", "$.a has no key 'x'"),
    ("$.a.list[5]", "$.a.list has 1 item(s), no [5]"),
    ("$.a.list.x", "$.a.list is an array, not an object"),
    ("$.a.n[0]", "$.a.n is a number, not an array"),
])
def test_jsonpath_says_where_it_stopped(path, message):
    with pytest.raises(Missing) as missing:
        JsonPath.parse(path).find({"a": {"list": [1], "n": 3}})
    assert str(missing.value) == message


@pytest.mark.parametrize("text", ["version", "$.", "$..a", "$[", "$['a", "$[*]", "$.a[?(@.b)]", "$[1:2]", "$ .a b"])
def test_jsonpath_outside_the_subset_is_refused(text):
    with pytest.raises(JsonPathError):
        JsonPath.parse(text)


# -- expectations ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "ok", "not_ok"), [
    ("200", [200], [201, 500]),
    ("200,204", [200, 204], [201]),
    ("200 301", [301], [302]),
    ("2xx", [200, 204, 299], [300, 199]),
    ("2xx, 404", [201, 404], [500]),
])
def test_expect_status_forms(text, ok, not_ok):
    expectation = StatusExpectation.parse(text)
    assert all(expectation.matches(s) for s in ok) and not any(expectation.matches(s) for s in not_ok)


@pytest.mark.parametrize("text", ["", "ok", "20", "2000", "600", "6xx", "2xx2"])
def test_bad_expect_status_is_refused(text):
    with pytest.raises(ValueError):
        StatusExpectation.parse(text)


@pytest.mark.parametrize(("line", "expected"), [
    ("$.status = ok", "ok"),
    ('$.status = "ok"', "ok"),
    ("$.ready = true", True),
    ("$.count=3", 3),
    ("$.version = 1.2.3", "1.2.3"),
    ("$['a = b'] = null", None),
    ('$.tags = ["a", "b"]', ["a", "b"]),
])
def test_expect_json_lines_take_json_values_or_text(line, expected):
    assert JsonAssertion.parse_line(line).expected == expected


def test_json_equality_keeps_booleans_apart_from_numbers():
    assert json_equal(1, 1.0) and json_equal([1, {"a": True}], [1.0, {"a": True}])
    assert not json_equal(True, 1) and not json_equal(0, False) and not json_equal("1", 1)


@pytest.mark.parametrize(("running", "expected", "same"), [
    ("1.2.3", "1.2.3", True), ("v1.2.3", "1.2.3", True), ("1.2.3", "V1.2.3", True),
    ("1.2.2", "1.2.3", False), ("1.2.3-rc.1", "1.2.3", False), ("version", "ersion", False),
])
def test_versions_compare_with_or_without_a_leading_v(running, expected, same):
    assert same_version(running, expected) is same


# -- templates, targets, secrets ------------------------------------------------------------------

def test_templates_fill_captures_and_read_the_environment_once():
    secrets: set[str] = set()
    template = Template.parse("Bearer ${token} for ${env.USER_NAME} at ${env.API_TOKEN} costs $$5",
                              {"USER_NAME": "smoke", "API_TOKEN": "t0ps3cret"}, secrets)
    assert template.names == {"token"}
    assert template.render({"token": "abc"}) == "Bearer abc for smoke at t0ps3cret costs $5"
    assert secrets == {"t0ps3cret"}  # API_TOKEN looks secret; USER_NAME does not


@pytest.mark.parametrize(("text", "message"), [
    ("${env.MISSING}", "MISSING is not set"), ("${1x}", "not a capture name"), ("${}", "not a capture name"),
])
def test_bad_templates_say_why(text, message):
    with pytest.raises(TemplateError, match=message):
        Template.parse(text, {})


def test_unix_socket_urls_name_the_socket_and_the_path():
    target = parse_target("unix:///run/app/daemon.sock:/health?full=1")
    assert (target.kind, target.socket_path) == ("unix", "/run/app/daemon.sock")
    assert target.url == "http+unix://%2Frun%2Fapp%2Fdaemon%2Esock/health?full=1"
    assert parse_target("unix:///run/app.sock").url.endswith("/")


@pytest.mark.parametrize("text", ["ftp://x/", "app:8080/health", "http://", "http://host:99999/", "unix://",
                                  "http://a b/", "https://host/\npath"])
def test_urls_we_cannot_check_are_refused(text):
    with pytest.raises(ValueError):
        parse_target(text)


def test_shown_urls_hide_credentials_and_secret_query_values():
    assert display_url("https://user:pw@app/x?token=abc&page=2") == "https://***@app/x?token=***&page=2"


def test_secret_looking_headers_mask_the_value_and_the_credential():
    assert header_secrets("Authorization", "Bearer abc.def") == {"Bearer abc.def", "abc.def"}
    assert header_secrets("X-Api-Key", "k-123") == {"k-123"}
    assert header_secrets("Accept", "application/json") == set()
    assert looks_secret("session_id") and looks_secret("X-Auth-Token") and not looks_secret("order_id")


def test_requests_fill_headers_and_default_the_json_content_type():
    check = health(headers=(("Authorization", Template.parse("Bearer ${t}", {})),),
                   body=Template.literal('{"a": 1}'), content_type="application/json", method="POST")
    request = build_request(check, {"t": "xyz"})
    assert request.headers == (("Authorization", "Bearer xyz"), ("Content-Type", "application/json"))
    assert request.body == b'{"a": 1}' and request.follow_redirects


# -- judging one attempt --------------------------------------------------------------------------

@pytest.mark.parametrize("failure", [
    TransportFailure("refused", "connection refused"), TransportFailure("timeout", "no response within 10 s"),
    TransportFailure("no-socket", "socket /x does not exist"), TransportFailure("dns", "cannot resolve app"),
    TransportFailure("reset", "closed"),
])
def test_no_answer_yet_is_not_ready(failure):
    assert judge(health(), failure).state is AttemptState.NOT_READY


def test_a_certificate_that_does_not_verify_is_definite():
    assert judge(health(), TransportFailure("tls", "TLS: certificate verify failed")).state is AttemptState.FAILED


@pytest.mark.parametrize("status", [408, 425, 429, 502, 503, 504])
def test_gateway_and_overload_statuses_are_not_ready_even_after_a_pass(status):
    observation = judge(health(expect_version="1.2.3"), reply(status, NEW), passed_before=True)
    assert observation.state is AttemptState.NOT_READY and observation.detail.startswith(f"HTTP {status}")


def test_a_retry_status_that_is_expected_passes():
    assert judge(health(expect_status=StatusExpectation.parse("503")), reply(503)).state is AttemptState.PASSED


def test_the_old_version_is_not_ready_with_both_versions_named():
    observation = judge(health(expect_version="1.2.3"), reply(200, {"version": "1.2.2"}))
    assert (observation.state, observation.detail, observation.version) == (
        AttemptState.NOT_READY, "running 1.2.2, expected 1.2.3", "1.2.2")


def test_the_old_version_answering_500_is_still_only_not_ready():
    observation = judge(health(expect_version="1.2.3"), reply(500, {"version": "1.2.2"}), passed_before=True)
    assert observation.state is AttemptState.NOT_READY


def test_a_500_from_the_new_version_is_definite():
    observation = judge(health(expect_version="1.2.3"), reply(500, NEW))
    assert observation.state is AttemptState.FAILED
    assert observation.detail.endswith("(on the new version 1.2.3)")


def test_the_version_is_read_from_the_version_field():
    check = health(expect_version="v2.0.0", version_field=JsonPath.parse("$.build.version"))
    assert judge(check, reply(200, {"build": {"version": "2.0.0"}})).state is AttemptState.PASSED


@pytest.mark.parametrize("body", [b"<html>starting</html>", {"status": "ok"}, {"version": {"v": 1}}, {"version": ""}])
def test_a_version_we_cannot_read_is_not_ready(body):
    observation = judge(health(expect_version="1.2.3"), reply(200, body))
    assert observation.state is AttemptState.NOT_READY and "cannot read the version" in observation.detail


def test_assertions_without_version_knowledge_are_not_ready_until_they_passed_once():
    check = health(expect_json=(JsonAssertion.parse_line("$.status = ok"),))
    down = reply(200, {"status": "down"})
    assert judge(check, down).state is AttemptState.NOT_READY
    assert judge(check, down, passed_before=True).state is AttemptState.FAILED


def test_body_contains_and_latency():
    check = health(expect_body_contains=("ok",), max_latency_ms=100.0)
    assert judge(check, reply(200, {"status": "ok"}, latency=50)).state is AttemptState.PASSED
    slow = judge(check, reply(200, {"status": "ok"}, latency=250))
    assert (slow.state, slow.detail) == (AttemptState.NOT_READY, "took 250 ms, over max-latency-ms 100")
    missing = judge(check, reply(200, {"status": "up"}))
    assert missing.detail == "the body does not contain 'ok'"


def test_captures_come_from_a_passing_response():
    check = health(captures=(Capture("token", JsonPath.parse("$.access_token")), Capture("n", JsonPath.parse("$.n"))))
    observation = judge(check, reply(200, {"access_token": "abc", "n": 3}))
    assert observation.captures == (("token", "abc"), ("n", "3"))
    missing = judge(check, reply(200, {"n": 3}))
    assert missing.state is AttemptState.NOT_READY and "capture token" in missing.detail


def test_a_status_mismatch_quotes_the_start_of_the_body():
    observation = judge(health(), reply(500, b"database   unavailable\n" + b"x" * 500))
    assert observation.detail.startswith("expected status 200, got 500: database unavailable xxx")
    assert len(observation.detail) < 200
