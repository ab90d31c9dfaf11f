"""Fuzzing: whatever a spec file, an input or a response body holds, smoke-test answers with a
value or one clear line (FileError / InputError), never a traceback."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy_actions.errors import DeployActionsError, FileError, InputError
from deploy_actions.verify.smoke.checks import (
    AttemptState,
    Capture,
    Check,
    JsonAssertion,
    Observation,
    Response,
    StatusExpectation,
    Template,
    evaluate,
    json_equal,
)
from deploy_actions.verify.smoke.inputs import SimpleForm, checks_from_inputs
from deploy_actions.verify.smoke.jsonpath import JsonPath, JsonPathError, Missing
from deploy_actions.verify.smoke.spec_file import CHECK_FIELDS, SmokeSpec, parse_spec

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
field_values = json_values | st.sampled_from([
    "http://app/health", "unix:///run/a.sock:/h", "${token}", "${env.HOME}", "$.version", "2xx", "200,204",
    "$.status = ok", "true", "POST", [200, 204], {"token": "$.t"}, {"$.a": 1}, ["$.a = 1"], 0, -1, 1.5,
])


def check_like() -> st.SearchStrategy[dict[str, object]]:
    return st.dictionaries(st.sampled_from(CHECK_FIELDS), field_values, max_size=8).map(
        lambda d: {"name": "c", "url": "http://app/", **d})


def one_line(err: DeployActionsError) -> bool:
    return bool(err.message) and "\n" not in str(err) and "Traceback" not in str(err)


def parses_or_says_why(text: str) -> None:
    try:
        spec = parse_spec(text, source="smoke.yml", expect_version="1.2.3", env={"HOME": "/root"})
    except FileError as err:
        assert one_line(err), str(err)
        assert err.file == "smoke.yml"
    else:
        assert isinstance(spec, SmokeSpec) and spec.checks


@FUZZ
@given(st.text(max_size=300))
def test_any_text_as_a_spec_file(text):
    parses_or_says_why(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(check_like(), min_size=1, max_size=4), st.booleans())
def test_near_valid_specs(checks, wrapped):
    document = {"checks": checks} if wrapped else checks
    parses_or_says_why(json.dumps(document))


@FUZZ
@given(json_values)
def test_any_json_document_as_a_spec_file(document):
    parses_or_says_why(json.dumps(document))


@FUZZ
@given(st.lists(st.sampled_from(["- ", "name: ", "url: ", "checks:", "  ", "\n", "&a ", "*a", "{", "}", "[", "]",
                                 ",", "'", '"', "!!binary ", "? ", ": ", "#", "http://x/", "${t}", "journey: j",
                                 "capture: {t: $.t}", "expect-json: ", "<<: *a", "---\n", "\t"]), max_size=40))
def test_yaml_shaped_noise(pieces):
    parses_or_says_why("".join(pieces))


FULL_CHECK = Check(
    name="fuzz", url=Template.literal("http://app/"),
    expect_status=StatusExpectation.parse("2xx"),
    expect_body_contains=("ok",),
    expect_json=(JsonAssertion.parse_line("$.status = ok"), JsonAssertion.parse_line("$.items[0].id = 7"),
                 JsonAssertion.parse_line('$["a b"][-1] = [1, {"c": null}]')),
    expect_version="1.2.3", version_field=JsonPath.parse("$.build.version"),
    captures=(Capture("token", JsonPath.parse("$.access_token")), Capture("id", JsonPath.parse("$.items[0].id"))),
    max_latency_ms=100.0,
)


def judged(observation: Observation) -> None:
    assert isinstance(observation, Observation)
    assert "\n" not in observation.detail
    if observation.state is AttemptState.PASSED:
        assert observation.detail == ""


@FUZZ
@given(json_values, st.integers(100, 599), st.floats(0, 1000), st.booleans())
def test_any_json_body(document, status, latency, passed_before):
    response = Response(status, json.dumps(document).encode(), latency)
    judged(evaluate(FULL_CHECK, response, passed_before=passed_before))


@FUZZ
@given(st.binary(max_size=300), st.integers(100, 599))
def test_any_bytes_as_a_body(body, status):
    judged(evaluate(FULL_CHECK, Response(status, body, 1.0), passed_before=False))


@FUZZ
@given(st.fixed_dictionaries({"status": st.just("ok"), "build": st.fixed_dictionaries({"version": json_values}),
                              "items": st.lists(st.fixed_dictionaries({"id": json_values}), max_size=2),
                              "a b": json_values, "access_token": json_values}))
def test_bodies_shaped_like_the_assertions(document):
    observation = evaluate(FULL_CHECK, Response(200, json.dumps(document).encode() + b" ok", 1.0),
                           passed_before=True)
    judged(observation)
    if observation.state is AttemptState.PASSED:
        assert json_equal(document["items"][0]["id"], 7) and document["build"]["version"] in ("1.2.3", "v1.2.3")


@FUZZ
@given(st.text(max_size=40), json_values)
def test_any_jsonpath_on_any_document(text, document):
    try:
        path = JsonPath.parse(text)
    except JsonPathError:
        return
    try:
        path.find(document)
    except Missing as missing:
        assert str(missing)


@FUZZ
@given(st.lists(st.text(max_size=30), max_size=3), st.lists(st.text(max_size=30), max_size=3),
       st.text(max_size=10), st.text(max_size=15), st.lists(st.text(max_size=30), min_size=1, max_size=2))
def test_any_simple_form_inputs(expect_json, headers, expect_status, version_field, urls):
    form = SimpleForm(url=tuple(urls), headers=tuple(headers), expect_json=tuple(expect_json),
                      expect_status=expect_status, version_field=version_field or "$.version",
                      expect_version="1.2.3")
    try:
        checks = checks_from_inputs(form, {"HOME": "/root"}, set())
    except InputError as err:
        assert one_line(err), str(err)
    else:
        assert len(checks) == len(urls)
