"""The simple form: checks built from the action's inputs (`url` lines, `headers`, `expect-json`…).

Every problem is an `InputError` naming the input, the value and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from deploy_actions.errors import InputError
from deploy_actions.verify.smoke.checks import (
    DEFAULT_VERSION_FIELD,
    Check,
    JsonAssertion,
    StatusExpectation,
    Template,
    TemplateError,
    display_url,
    header_secrets,
    parse_target,
    valid_header,
    valid_method,
)
from deploy_actions.verify.smoke.jsonpath import JsonPath, JsonPathError


@dataclass(frozen=True)
class SimpleForm:
    """The inputs of the simple form, as the command received them."""

    url: tuple[str, ...] = ()
    method: str = "GET"
    headers: tuple[str, ...] = ()
    body: str = ""
    expect_status: str = "200"
    expect_body_contains: tuple[str, ...] = ()
    expect_json: tuple[str, ...] = ()
    max_latency_ms: int | None = None
    expect_version: str = ""
    version_field: str = DEFAULT_VERSION_FIELD


def version_path(text: str) -> JsonPath:
    try:
        return JsonPath.parse(text or DEFAULT_VERSION_FIELD)
    except JsonPathError as exc:
        raise InputError("version-field", text, f"a JSONPath such as $.version or $.build.version ({exc})") from None


def checks_from_inputs(form: SimpleForm, env: Mapping[str, str], secrets: set[str]) -> tuple[Check, ...]:
    """One check per `url` line, each with the same method, headers, body and expectations."""
    if not form.url:
        return ()
    method = form.method.strip().upper() or "GET"
    if not valid_method(method):
        raise InputError("method", form.method, "an HTTP method such as GET, HEAD or POST")
    headers = tuple(_header(line, env, secrets) for line in form.headers)
    body: Template | None = None
    content_type: str | None = None
    if form.body:
        body = _template("body", form.body, env, secrets)
        if form.body.lstrip()[:1] in "{[" and _is_json(form.body):
            content_type = "application/json"
    try:
        expect_status = StatusExpectation.parse(form.expect_status or "200")
    except ValueError as exc:
        raise InputError("expect-status", form.expect_status, str(exc)) from None
    assertions: list[JsonAssertion] = []
    for line in form.expect_json:
        try:
            assertions.append(JsonAssertion.parse_line(line))
        except ValueError as exc:
            raise InputError("expect-json", line, f"lines of `JSONPath = value`, e.g. $.status = ok ({exc})") from None
    if form.max_latency_ms is not None and form.max_latency_ms <= 0:
        raise InputError("max-latency-ms", form.max_latency_ms, "a number of milliseconds, more than 0")
    path = version_path(form.version_field)
    checks: list[Check] = []
    names: dict[str, int] = {}
    for number, line in enumerate(form.url, start=1):
        url = _template("url", line, env, secrets)
        if url.names:
            raise InputError("url", display_url(line), "a URL without ${...} captures (journeys need a spec file)")
        try:
            parse_target(url.render({}))
        except ValueError as exc:
            raise InputError("url", display_url(line), str(exc)) from None
        name = display_url(line)
        names[name] = names.get(name, 0) + 1
        if names[name] > 1:
            name = f"{name} #{names[name]}"
        checks.append(Check(
            name=name, url=url, method=method, headers=headers, body=body, content_type=content_type,
            expect_status=expect_status, expect_body_contains=tuple(form.expect_body_contains),
            expect_json=tuple(assertions),
            max_latency_ms=float(form.max_latency_ms) if form.max_latency_ms is not None else None,
            expect_version=form.expect_version.strip() or None, version_field=path,
            where=f"input url, line {number}",
        ))
    return tuple(checks)


def _template(name: str, text: str, env: Mapping[str, str], secrets: set[str]) -> Template:
    try:
        template = Template.parse(text, env, secrets)
    except TemplateError as exc:
        raise InputError(name, text, str(exc)) from None
    return template


def _header(line: str, env: Mapping[str, str], secrets: set[str]) -> tuple[str, Template]:
    name, sep, value = line.partition(":")
    name, value = name.strip(), value.strip()
    # The value is never echoed: it is often a credential.
    shown = f"{name}: ***" if sep else "<a line without ':'>"
    if not sep or not name:
        raise InputError("headers", shown, "lines of `Name: value`, e.g. Accept: application/json")
    template = _template("headers", value, env, secrets)
    if template.names:
        raise InputError("headers", shown, "a header without ${...} captures (journeys need a spec file)")
    rendered = template.render({})
    problem = valid_header(name, rendered)
    if problem:
        raise InputError("headers", shown, f"a valid header ({problem})")
    secrets |= header_secrets(name, rendered)
    return name, template


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True
