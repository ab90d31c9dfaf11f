"""smoke.yml: named checks with the simple form's fields, defaults, journeys and captures; every
mistake is one line naming the file, the line and the check."""

from __future__ import annotations

import textwrap

import pytest

from deploy_actions.errors import FileError
from deploy_actions.verify.smoke.checks import StatusExpectation
from deploy_actions.verify.smoke.spec_file import load_spec, parse_spec

FULL = """\
# Checks after each deploy of the shop.
defaults:
  headers:
    Accept: application/json
  max-latency-ms: 800
checks:
  - name: health
    url: https://shop.example.com/health
    expect-version: true
    version-field: $.build.version
  - name: daemon
    url: unix:///run/shop/daemon.sock:/health
    expect-status: [200, 204]
    expect-body-contains: ok
  - name: login
    journey: order
    url: https://shop.example.com/auth/token
    method: post
    json: {user: smoke, password: "${env.SMOKE_PASSWORD}"}
    capture:
      bearer: $.access_token
      order_hint: {path: $.hint, secret: false}
  - name: orders
    journey: order
    url: https://shop.example.com/orders/${order_hint}
    headers:
      Authorization: Bearer ${bearer}
    expect-json:
      $.items[0].status: paid
      $.count: 1
    consecutive-successes: 2
"""


def parse(text: str, **kwargs):
    kwargs.setdefault("env", {"SMOKE_PASSWORD": "hunter22"})
    return parse_spec(textwrap.dedent(text), source="smoke.yml", **kwargs)


def error(text: str, **kwargs) -> FileError:
    with pytest.raises(FileError) as info:
        parse(text, **kwargs)
    return info.value


def test_a_full_spec_reads_into_checks():
    spec = parse(FULL, expect_version="1.2.3")
    health, daemon, login, orders = spec.checks

    assert (health.expect_version, str(health.version_field)) == ("1.2.3", "$.build.version")
    assert health.headers[0][0] == "Accept" and health.max_latency_ms == 800
    assert daemon.expect_status == StatusExpectation(frozenset({200, 204}))
    assert daemon.expect_body_contains == ("ok",)
    assert (login.method, login.journey, login.content_type) == ("POST", "order", "application/json")
    assert login.body is not None and login.body.render({}) == '{"user": "smoke", "password": "hunter22"}'
    assert [(c.name, c.secret) for c in login.captures] == [("bearer", True), ("order_hint", False)]
    assert orders.uses == {"order_hint", "bearer"} and orders.consecutive_successes == 2
    assert [(str(a.path), a.expected) for a in orders.expect_json] == [("$.items[0].status", "paid"), ("$.count", 1)]
    assert orders.where == "smoke.yml:23"
    assert spec.secrets == {"hunter22"}


def test_a_plain_list_is_a_spec_too():
    spec = parse("""
        - name: health
          url: http://app/health
          expect-json: ["$.status = ok"]
    """)
    assert [c.name for c in spec.checks] == ["health"]


def test_a_capture_used_in_an_authorization_header_is_secret_whatever_its_name():
    spec = parse("""
        - {name: a, journey: j, url: "http://app/a", capture: {value: $.v}}
        - {name: b, journey: j, url: "http://app/b", headers: {Authorization: "Bearer ${value}"}}
    """)
    assert spec.checks[0].captures[0].secret is True


def test_literal_authorization_headers_are_secrets():
    spec = parse("""
        - name: a
          url: http://app/a
          headers: {Authorization: Basic dXNlcjpwYXNz, Accept: text/plain}
    """)
    assert spec.secrets == {"Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"}


@pytest.mark.parametrize(("text", "line", "message"), [
    ("- name: a\n  url: http://app/\n  expect_status: 200\n", 3, "unknown key 'expect_status' (did you mean 'expect-status'?)"),
    ("- name: a\n", 1, "check 'a' needs a url"),
    ("- url: http://app/\n", 1, "check #1 needs a name"),
    ("- name: a\n  url: ftp://app/\n", 2, "check 'a': url: expected an http://, https://"),
    ("- name: a\n  url: http://app/\n- name: a\n  url: http://app/b\n", 3, "two checks are named 'a' (the first on line 1)"),
    ("- name: a\n  url: http://app/\n  expect-status: teapot\n", 3, "expect-status: expected status codes"),
    ("- name: a\n  url: http://app/\n  expect-json: {status: ok}\n", 3, "a JSONPath starts with $"),
    ("- name: a\n  url: http://app/\n  expect-json: ['$.status ok']\n", 3, "lines of `JSONPath = value`"),
    ("- name: a\n  url: http://app/\n  method: 'GET /x'\n", 3, "is not an HTTP method"),
    ("- name: a\n  url: http://app/\n  max-latency-ms: fast\n", 3, "max-latency-ms: must be a number"),
    ("- name: a\n  url: http://app/\n  headers: {'Bad Header': x}\n", 3, "is not a valid header name"),
    ("- name: a\n  url: http://app/\n  body: x\n  json: {}\n", 4, "use either body or json"),
    ("- name: a\n  url: http://app/\n  expect-version: true\n", 3, "the expect-version input is empty"),
    ("- name: a\n  url: http://app/\n  consecutive-successes: 0\n", 3, "from 1 to 1000"),
    ("- name: a\n  url: http://app/${token}\n", 1, "uses ${token}, but no check captures it"),
    ("- name: a\n  url: http://app/\n  headers: {X: '${env.NOPE}'}\n", 3, "NOPE is not set"),
    ("- {name: a, url: 'http://app/', capture: {t: $.t}}\n- {name: b, url: 'http://app/${t}'}\n", 2,
     "put both in one journey"),
    ("checks: []\n", 1, "must be a list of checks"),
    ("defaults: {}\n", 1, "needs a `checks:` list"),
    ("checks:\n  - name: a\n    url: http://app/\nextras: 1\n", 4, "unknown key 'extras'"),
    ("- name: a\n  url: http://app/\n  name: b\n", 3, "is not valid YAML"),
    ("- [unclosed\n", 2, "is not valid YAML"),
    ("just text\n", None, "must be a list of checks"),
])
def test_mistakes_are_one_line_with_file_and_line(text, line, message):
    err = error(text)
    assert message in err.message, err.message
    assert (err.file, err.line) == ("smoke.yml", line)
    assert "\n" not in str(err)


def test_an_alias_bomb_is_refused_quickly():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in range(1, 9):
        prev = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        bomb += f"{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    bomb += "checks: [{name: x, url: 'http://app/', json: *i}]\n"
    assert "too many aliases" in error(bomb).message


def test_python_tags_construct_nothing():
    err = error("- name: a\n  url: !!python/object/apply:os.system ['echo hacked']\n")
    assert "url: must be text" in err.message


def test_load_spec_reports_unreadable_files(tmp_path):
    with pytest.raises(FileError, match="cannot be read"):
        load_spec(str(tmp_path / "missing.yml"))
    binary = tmp_path / "smoke.yml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(FileError, match="not UTF-8"):
        load_spec(str(binary))
