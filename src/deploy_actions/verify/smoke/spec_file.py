"""The spec form: `smoke.yml`, a list of named checks (or `checks:` plus `defaults:`), parsed safely.

```yaml
defaults:
  headers: {Accept: application/json}
checks:
  - name: health
    url: https://app.example.com/health
    expect-version: true            # the expect-version input; or a version of its own
  - name: login
    journey: order
    url: https://app.example.com/auth/token
    method: POST
    json: {user: smoke, password: "${env.SMOKE_PASSWORD}"}
    capture: {token: $.access_token}
  - name: orders
    journey: order
    url: https://app.example.com/orders
    headers: {Authorization: "Bearer ${token}"}
    expect-json: {$.items[0].status: paid}
```

Round-trip loading (for line numbers) constructs no Python objects from tags; anchors and
aliases are walked under a budget so an alias bomb is an error, not an hour of CPU. Every
problem is a `FileError` naming the file, the line and the check.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from deploy_actions import files
from deploy_actions.errors import FileError
from deploy_actions.verify.smoke.checks import (
    DEFAULT_VERSION_FIELD,
    Capture,
    Check,
    JsonAssertion,
    StatusExpectation,
    Template,
    TemplateError,
    header_secrets,
    looks_secret,
    parse_target,
    valid_header,
    valid_method,
)
from deploy_actions.verify.smoke.jsonpath import JsonPath, JsonPathError

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
CHECK_FIELDS = (
    "name", "url", "method", "headers", "body", "json", "expect-status", "expect-body-contains",
    "expect-json", "max-latency-ms", "expect-version", "version-field", "capture", "journey",
    "consecutive-successes",
)
DEFAULT_FIELDS = tuple(f for f in CHECK_FIELDS if f not in ("name", "url", "capture", "journey"))


@dataclass(frozen=True)
class SmokeSpec:
    checks: tuple[Check, ...]
    secrets: frozenset[str]  # values to mask before anything prints


class _Where:
    """Line numbers of a loaded document, for messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def line(self, node: object, key: object = None) -> int | None:
        lc = getattr(node, "lc", None)
        if lc is None:
            return None
        try:
            if key is None:
                return int(lc.line) + 1
            if isinstance(key, int) and isinstance(node, list):
                return int(lc.item(key)[0]) + 1
            return int(lc.key(key)[0]) + 1
        except (KeyError, IndexError, TypeError, AttributeError):
            return int(lc.line) + 1 if getattr(lc, "line", None) is not None else None

    def error(self, message: str, node: object = None, key: object = None) -> FileError:
        return FileError(message, file=self.source, line=self.line(node, key))


def load_spec(path: str, *, expect_version: str | None = None, version_field: str = DEFAULT_VERSION_FIELD,
              env: Mapping[str, str] | None = None) -> SmokeSpec:
    """Read and parse the spec file at `path`."""
    try:
        data = files.read_regular_file(Path(path), MAX_BYTES)
    except OSError as exc:
        raise FileError(f"cannot be read: {exc.strerror or exc}", file=path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileError(f"is not UTF-8 text (byte {exc.start})", file=path) from None
    return parse_spec(text, source=path, expect_version=expect_version, version_field=version_field, env=env)


def parse_spec(text: str, *, source: str = "smoke.yml", expect_version: str | None = None,
               version_field: str = DEFAULT_VERSION_FIELD, env: Mapping[str, str] | None = None) -> SmokeSpec:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    where = _Where(source)
    try:
        with warnings.catch_warnings():
            # ruamel warns (on stderr, over several lines) about re-used anchors, which YAML allows.
            warnings.simplefilter("ignore")
            document = YAML(typ="rt", pure=True).load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
        line = mark.line + 1 if mark is not None else None
        raise FileError(f"is not valid YAML: {problem}", file=source, line=line) from None
    except (RecursionError, ValueError, TypeError, IndexError, AttributeError, KeyError) as exc:
        # The YAML library's own limits and rough edges on hostile input: still one clear line.
        raise FileError(f"is not valid YAML: {type(exc).__name__}", file=source) from None
    _within_budget(document, where)
    return _Parser(where, env if env is not None else {}, expect_version, version_field).document(document)


def _within_budget(document: object, where: _Where) -> None:
    """Refuse documents that expand beyond MAX_NODES (alias bombs, self-referencing aliases)."""
    stack = [document]
    seen = 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise where.error(f"expands to more than {MAX_NODES} values (too many aliases?)")
        if isinstance(node, Mapping):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


class _Parser:
    def __init__(self, where: _Where, env: Mapping[str, str], expect_version: str | None,
                 version_field: str) -> None:
        self.where = where
        self.env = env
        self.expect_version = expect_version
        self.version_field = version_field
        self.secrets: set[str] = set()

    def document(self, document: object) -> SmokeSpec:
        defaults: Mapping[Any, Any] = {}
        if isinstance(document, Mapping):
            self._known_keys(document, ("checks", "defaults"), "the spec")
            if "checks" not in document:
                raise self.where.error("needs a `checks:` list (or the file can be just the list)", document)
            if "defaults" in document:
                defaults = document["defaults"]
                if not isinstance(defaults, Mapping):
                    raise self.where.error("`defaults:` must be a mapping of check fields", document, "defaults")
                self._known_keys(defaults, DEFAULT_FIELDS, "defaults")
            items = document["checks"]
            holder: object = document
        else:
            items, holder = document, None
        if not isinstance(items, list) or not items:
            raise self.where.error("must be a list of checks, each with a name and a url", holder,
                                   "checks" if holder is not None else None)
        checks: list[Check] = []
        names: dict[str, int | None] = {}
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise self.where.error(f"check #{index + 1} must be a mapping with name and url", items, index)
            check = self.check(item, defaults, index)
            if check.name in names:
                raise self.where.error(f"two checks are named {check.name!r} (the first on line {names[check.name]})",
                                       item, "name")
            names[check.name] = self.where.line(item, "name")
            checks.append(check)
        checks = self._resolve_journeys(checks, items)
        return SmokeSpec(tuple(checks), frozenset(self.secrets))

    def _known_keys(self, node: Mapping[Any, Any], allowed: tuple[str, ...], what: str) -> None:
        for key in node:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; known keys: {', '.join(allowed)}"
                raise self.where.error(f"{what}: unknown key {str(key)[:40]!r}{hint}", node, key)

    def check(self, item: Mapping[Any, Any], defaults: Mapping[Any, Any], index: int) -> Check:
        self._known_keys(item, CHECK_FIELDS, f"check #{index + 1}")
        name_value = item.get("name")
        if not isinstance(name_value, str) or not name_value.strip():
            raise self.where.error(f"check #{index + 1} needs a name (text)", item, "name" if "name" in item else None)
        name = name_value.strip()
        label = f"check {name!r}"
        fields: dict[Any, Any] = {**defaults, **item}

        def node_of(key: str) -> Mapping[Any, Any]:
            return item if key in item else defaults

        def fail(key: str, message: str) -> FileError:
            return self.where.error(f"{label}: {key}: {message}", node_of(key), key)

        def text(key: str, default: str | None = None) -> str | None:
            value = fields.get(key, default)
            if value is None:
                return default
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise fail(key, "must be text")
            return str(value)

        def template(key: str, value: str) -> Template:
            try:
                # In a json: body every ${...} is inside a JSON string (YAML made it text), so fill it escaped.
                return Template.parse(value, self.env, self.secrets, json_string=key == "json")
            except TemplateError as exc:
                raise fail(key, str(exc)) from None

        url_text = text("url")
        if not url_text or not url_text.strip():
            raise self.where.error(f"{label} needs a url", item, "name")
        url = template("url", url_text.strip())
        if not url.names:
            try:
                parse_target(url.text)
            except ValueError as exc:
                raise fail("url", f"expected {exc}") from None
        elif not url.prefix().lower().startswith(("http://", "https://", "unix://")):
            raise fail("url", "must start with http://, https:// or unix:// before any ${capture}")

        method = (text("method", "GET") or "GET").strip().upper()
        if not valid_method(method):
            raise fail("method", f"{method[:20]!r} is not an HTTP method")

        headers: list[tuple[str, Template]] = []
        raw_headers = fields.get("headers") or {}
        if not isinstance(raw_headers, Mapping):
            raise fail("headers", "must be a mapping of header name to value")
        for header, value in raw_headers.items():
            if not isinstance(header, str) or isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise fail("headers", f"{str(header)[:40]!r} must map a header name to text")
            tpl = template("headers", str(value))
            problem = valid_header(header, tpl.text if tpl.names else tpl.render({}))
            if problem:
                raise fail("headers", problem)
            if not tpl.names:
                self.secrets |= header_secrets(header, tpl.render({}))
            headers.append((header, tpl))

        body: Template | None = None
        content_type: str | None = None
        if "body" in fields and "json" in fields:
            raise fail("json", "use either body or json, not both")
        if "json" in fields:
            try:
                encoded = json.dumps(_plain(fields["json"]), ensure_ascii=False)
            except (TypeError, ValueError, RecursionError):
                raise fail("json", "must be plain JSON data (mappings, lists, text, numbers, booleans, null)") from None
            body, content_type = template("json", encoded), "application/json"
        elif fields.get("body") is not None:
            body_text = fields["body"]
            if not isinstance(body_text, str):
                raise fail("body", "must be text (use json: for structured data)")
            body = template("body", body_text)

        status_value = fields.get("expect-status", 200)
        if isinstance(status_value, list):
            status_value = ",".join(str(s) for s in status_value)
        if isinstance(status_value, bool) or not isinstance(status_value, (str, int)):
            raise fail("expect-status", "expected status codes like 200 or [200, 204], or a class like 2xx")
        try:
            expect_status = StatusExpectation.parse(str(status_value))
        except ValueError as exc:
            raise fail("expect-status", f"expected {exc}") from None

        contains_value = fields.get("expect-body-contains", [])
        contains = [contains_value] if isinstance(contains_value, str) else contains_value
        if not isinstance(contains, list) or not all(isinstance(c, str) and c for c in contains):
            raise fail("expect-body-contains", "must be text or a list of text")

        expect_json = self._expect_json(fields.get("expect-json"), fail)

        max_latency: float | None = None
        if fields.get("max-latency-ms") is not None:
            latency = fields["max-latency-ms"]
            if isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency != latency or latency <= 0:
                raise fail("max-latency-ms", "must be a number of milliseconds, more than 0")
            max_latency = float(latency)

        version_field = text("version-field", self.version_field) or DEFAULT_VERSION_FIELD
        try:
            version_path = JsonPath.parse(version_field)
        except JsonPathError as exc:
            raise fail("version-field", str(exc)) from None
        expect_version: str | None = None
        version_value = fields.get("expect-version", False)
        if version_value is True:
            if not self.expect_version:
                raise fail("expect-version", "is true, but the expect-version input is empty")
            expect_version = self.expect_version
        elif isinstance(version_value, (str, int, float)) and not isinstance(version_value, bool):
            expect_version = str(version_value).strip() or None
        elif version_value not in (False, None):
            raise fail("expect-version", "must be true (the expect-version input) or a version")

        captures = self._captures(fields.get("capture"), fail)
        journey = fields.get("journey")
        if journey is not None and (not isinstance(journey, str) or not journey.strip()):
            raise fail("journey", "must be a name")
        needed = fields.get("consecutive-successes")
        if needed is not None and (isinstance(needed, bool) or not isinstance(needed, int) or not 1 <= needed <= 1000):
            raise fail("consecutive-successes", "must be a whole number from 1 to 1000")

        return Check(
            name=name, url=url, method=method, headers=tuple(headers), body=body, content_type=content_type,
            expect_status=expect_status, expect_body_contains=tuple(contains), expect_json=expect_json,
            max_latency_ms=max_latency, expect_version=expect_version, version_field=version_path,
            captures=captures, journey=journey.strip() if isinstance(journey, str) else None,
            consecutive_successes=needed, where=f"{self.where.source}:{self.where.line(item)}",
        )

    def _expect_json(self, value: object, fail: Any) -> tuple[JsonAssertion, ...]:
        if value is None:
            return ()
        assertions: list[JsonAssertion] = []
        if isinstance(value, Mapping):
            for path, expected in value.items():
                if not isinstance(path, str):
                    raise fail("expect-json", "keys must be JSONPaths such as $.status")
                try:
                    assertions.append(JsonAssertion(JsonPath.parse(path), _plain(expected)))
                except JsonPathError as exc:
                    raise fail("expect-json", str(exc)) from None
                except (TypeError, ValueError, RecursionError):
                    raise fail("expect-json", f"the value for {path[:40]} must be plain JSON data") from None
        elif isinstance(value, (list, str)):
            for line in [value] if isinstance(value, str) else value:
                if not isinstance(line, str):
                    raise fail("expect-json", "each item must be a line `JSONPath = value`")
                try:
                    assertions.append(JsonAssertion.parse_line(line))
                except ValueError as exc:
                    raise fail("expect-json", f"{line[:40]!r}: {exc}") from None
        else:
            raise fail("expect-json", "must map JSONPaths to values, or list lines `JSONPath = value`")
        return tuple(assertions)

    def _captures(self, value: object, fail: Any) -> tuple[Capture, ...]:
        if value is None:
            return ()
        if not isinstance(value, Mapping):
            raise fail("capture", "must map names to JSONPaths, e.g. {token: $.access_token}")
        captures: list[Capture] = []
        for name, spec in value.items():
            if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
                raise fail("capture", f"{str(name)[:40]!r} is not a name (letters, digits, _)")
            secret = looks_secret(name)
            path_text = spec
            if isinstance(spec, Mapping):
                unknown = [k for k in spec if k not in ("path", "secret")]
                if unknown:
                    raise fail("capture", f"{name}: unknown key {str(unknown[0])[:40]!r} (path, secret)")
                path_text = spec.get("path")
                flag = spec.get("secret", secret)
                if not isinstance(flag, bool):
                    raise fail("capture", f"{name}: secret must be true or false")
                secret = flag
            if not isinstance(path_text, str):
                raise fail("capture", f"{name}: expected a JSONPath such as $.access_token")
            try:
                captures.append(Capture(name, JsonPath.parse(path_text), secret))
            except JsonPathError as exc:
                raise fail("capture", f"{name}: {exc}") from None
        return tuple(captures)

    def _resolve_journeys(self, checks: list[Check], items: list[Any]) -> list[Check]:
        """A check may only use values captured earlier in its own journey. Captures that reach a
        secret-looking header are secret even when their name does not look it."""
        captured: dict[str, dict[str, str]] = {}  # journey -> capture name -> check that captures it
        sensitive: set[str] = set()
        for check, item in zip(checks, items, strict=True):
            available = captured.get(check.journey or "", {}) if check.journey else {}
            for name in sorted(check.uses):
                if name in available:
                    continue
                owner = next((c.name for c in checks if any(cap.name == name for cap in c.captures)), None)
                if owner is None:
                    hint = "no check captures it"
                elif check.journey is None:
                    hint = f"it is captured by {owner!r}: put both in one journey (journey: <name>), in order"
                else:
                    hint = f"it is captured by {owner!r}, which is not earlier in journey {check.journey!r}"
                raise self.where.error(f"check {check.name!r} uses ${{{name}}}, but {hint}", item, "name")
            for header, template in check.headers:
                if looks_secret(header):
                    sensitive |= template.names
            if check.journey:
                for capture in check.captures:
                    captured.setdefault(check.journey, {})[capture.name] = check.name
        resolved: list[Check] = []
        for check in checks:
            if any(c.name in sensitive and not c.secret for c in check.captures):
                caps = tuple(replace(c, secret=True) if c.name in sensitive else c for c in check.captures)
                check = replace(check, captures=caps)
            resolved.append(check)
        return resolved


def _plain(value: object) -> object:
    """YAML data as plain JSON data; raises TypeError for anything JSON cannot hold."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TypeError("not a JSON number")
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        out: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, (str, int, float)) or isinstance(key, bool):
                raise TypeError("JSON object keys are text")
            out[str(key)] = _plain(item)
        return out
    if isinstance(value, list):
        return [_plain(item) for item in value]
    raise TypeError(f"{type(value).__name__} is not JSON data")
