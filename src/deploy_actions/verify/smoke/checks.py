"""What a smoke check is, and how one response to it is judged: pure values and functions.

The judgement (`evaluate`) is where "not ready yet" and "definitely broken" part ways:

- not ready: the connection is refused or reset, a request times out, the socket is not there
  yet, 408/425/429/502/503/504, the service still reports another version, or it is slower
  than `max-latency-ms` (warming up). These are retried until the deadline.
- definitely broken: a TLS certificate that does not verify, or an assertion that fails on a
  response we know comes from the new version (its version field says so), or on a check that
  has already passed once (a regression, not a start-up). These end the check at once.
- anything else that fails (a 500 or a missing key from a service whose version we cannot see)
  is treated as not ready, and reported with its detail if it is still failing at the deadline.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

from deploy_actions.verify.smoke.jsonpath import JsonPath, Missing

RETRY_STATUSES = frozenset({408, 425, 429, 502, 503, 504})
DEFAULT_VERSION_FIELD = "$.version"
_VAR = re.compile(r"\$\$|\$\{([^}]*)\}")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_REF = re.compile(r"^env\.([A-Za-z_][A-Za-z0-9_]*)$")
_SECRET_WORDS = re.compile(r"auth|token|secret|passw|passwd|api[-_]?key|apikey|session|cookie|credential|jwt|"
                           r"private|signature|^key$|[-_]key$", re.IGNORECASE)
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_METHOD = re.compile(r"^[A-Z][A-Z-]{0,19}$")
_STATUS_CLASS = re.compile(r"^([1-5])xx$", re.IGNORECASE)
EXCERPT = 120


def looks_secret(name: str) -> bool:
    """Whether a header, capture or environment variable name suggests its value is a secret."""
    return bool(_SECRET_WORDS.search(name))


# -- templates -----------------------------------------------------------------------------------

class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class Template:
    """Text with `${name}` slots filled from earlier captures of the same journey.

    `${env.NAME}` is resolved when the template is parsed; `$$` is a literal `$`. `text` keeps
    what the user wrote, so showing a template never shows a captured or environment value.
    """

    text: str
    parts: tuple[str | Var, ...]
    json_string: bool = False  # every slot sits inside a JSON string: fill it JSON-escaped

    @classmethod
    def parse(cls, text: str, env: Mapping[str, str], secrets: set[str] | None = None, *,
              json_string: bool = False) -> Template:
        parts: list[str | Var] = []
        pos = 0
        for match in _VAR.finditer(text):
            parts.append(text[pos:match.start()])
            pos = match.end()
            if match.group() == "$$":
                parts.append("$")
                continue
            ref = (match.group(1) or "").strip()
            env_ref = _ENV_REF.match(ref)
            if env_ref:
                name = env_ref.group(1)
                if name not in env:
                    raise TemplateError(f"${{env.{name}}} is used but the environment variable {name} is not set")
                value = env[name]
                if secrets is not None and looks_secret(name) and value:
                    secrets.add(value)
                parts.append(_json_escape(value) if json_string else value)
            elif _VAR_NAME.match(ref):
                parts.append(Var(ref))
            else:
                raise TemplateError(f"${{{ref}}} is not a capture name or env.NAME (write $$ for a literal $)")
        parts.append(text[pos:])
        merged: list[str | Var] = []
        for part in parts:
            if isinstance(part, str) and merged and isinstance(merged[-1], str):
                merged[-1] += part
            elif part != "":
                merged.append(part)
        return cls(text, tuple(merged), json_string)

    @classmethod
    def literal(cls, text: str) -> Template:
        return cls(text, (text,) if text else ())

    @property
    def names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.parts if isinstance(p, Var))

    def render(self, values: Mapping[str, str]) -> str:
        if self.json_string:
            return "".join(p if isinstance(p, str) else _json_escape(values[p.name]) for p in self.parts)
        return "".join(p if isinstance(p, str) else values[p.name] for p in self.parts)

    def prefix(self) -> str:
        """The literal text before the first slot."""
        return self.parts[0] if self.parts and isinstance(self.parts[0], str) else ""


def _json_escape(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]


# -- targets ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """Where a request goes. `url` is what requests sends to (`http+unix://<socket>/path` for sockets)."""

    kind: Literal["http", "unix"]
    url: str
    socket_path: str = ""


def parse_target(text: str) -> Target:
    """`http(s)://host[:port]/path` or `unix:///run/app/daemon.sock:/health` → a Target.
    Raises ValueError with a message fit for a person."""
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise ValueError("a URL without spaces or control characters")
    lowered = text.lower()
    if lowered.startswith("unix://"):
        rest = text[len("unix://"):]
        cut = rest.find(":/")
        socket_path, path = (rest, "/") if cut < 0 else (rest[:cut], rest[cut + 1:])
        if not socket_path or "\x00" in socket_path:
            raise ValueError("unix://<socket path>:<http path>, e.g. unix:///run/app/daemon.sock:/health")
        # Every '.' encoded too: requests refuses a host that starts with one (./app.sock).
        host = quote(socket_path, safe="").replace(".", "%2E")
        return Target("unix", "http+unix://" + host + path, socket_path)
    if not lowered.startswith(("http://", "https://")):
        raise ValueError("an http://, https:// or unix:///path/to.sock:/path URL")
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a bad port
    except ValueError:
        raise ValueError("a valid URL (the host or port does not parse)") from None
    if not parts.hostname:
        raise ValueError("a URL with a host, e.g. https://app.example.com/health")
    del port
    return Target("http", text)


def display_url(text: str) -> str:
    """A URL as we may show it: no user:password, and secret-looking query values hidden."""
    if not text.lower().startswith(("http://", "https://")):
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "&".join(
        (f"{key}=***" if looks_secret(key) else pair) if "=" in pair else pair
        for pair in parts.query.split("&") if pair
        for key in [pair.split("=", 1)[0]]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# -- expectations --------------------------------------------------------------------------------

@dataclass(frozen=True)
class StatusExpectation:
    """Accepted status codes: exact codes and/or whole classes (2xx)."""

    codes: frozenset[int] = frozenset({200})
    classes: frozenset[int] = frozenset()

    @classmethod
    def parse(cls, text: str) -> StatusExpectation:
        """'200', '200,204', '200 301', '2xx' → the expectation. Raises ValueError."""
        codes: set[int] = set()
        classes: set[int] = set()
        for item in re.split(r"[\s,]+", text.strip()):
            if not item:
                continue
            klass = _STATUS_CLASS.match(item)
            if klass:
                classes.add(int(klass.group(1)))
            elif item.isdigit() and len(item) == 3 and 100 <= int(item) <= 599:
                codes.add(int(item))
            else:
                raise ValueError("status codes like 200 or 200,204, or a class like 2xx")
        if not codes and not classes:
            raise ValueError("status codes like 200 or 200,204, or a class like 2xx")
        return cls(frozenset(codes), frozenset(classes))

    def matches(self, status: int) -> bool:
        return status in self.codes or status // 100 in self.classes

    def __str__(self) -> str:
        return ",".join([*map(str, sorted(self.codes)), *(f"{c}xx" for c in sorted(self.classes))])


@dataclass(frozen=True)
class JsonAssertion:
    path: JsonPath
    expected: object  # a JSON value

    @classmethod
    def parse_line(cls, line: str) -> JsonAssertion:
        """`$.status = ok`, `$.ready = true`, `$.items[0].id = 7`: the value is JSON when it parses
        as JSON, else the text itself. Raises ValueError."""
        path, end = JsonPath.parse_prefix(line)
        rest = line[end:].lstrip()
        if not rest.startswith("="):
            raise ValueError("lines of `JSONPath = value`, e.g. $.status = ok")
        return cls(path, parse_value(rest[1:].strip()))

    def __str__(self) -> str:
        return f"{self.path} = {show_json(self.expected)}"


def parse_value(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


@dataclass(frozen=True)
class Capture:
    """A value taken from a passing response for later steps of the same journey."""

    name: str
    path: JsonPath
    secret: bool = True


@dataclass(frozen=True)
class Check:
    name: str
    url: Template
    method: str = "GET"
    headers: tuple[tuple[str, Template], ...] = ()
    body: Template | None = None
    content_type: str | None = None  # set when the body is JSON and no Content-Type header was given
    expect_status: StatusExpectation = field(default_factory=StatusExpectation)
    expect_body_contains: tuple[str, ...] = ()
    expect_json: tuple[JsonAssertion, ...] = ()
    max_latency_ms: float | None = None
    expect_version: str | None = None
    version_field: JsonPath = field(default_factory=lambda: JsonPath.parse(DEFAULT_VERSION_FIELD))
    captures: tuple[Capture, ...] = ()
    journey: str | None = None
    consecutive_successes: int | None = None  # None: the run's setting
    where: str = ""  # where the user defined it, for messages: "smoke.yml:12" or "input url, line 1"

    @property
    def display_url(self) -> str:
        return display_url(self.url.text)

    @property
    def uses(self) -> frozenset[str]:
        names = set(self.url.names)
        for _, template in self.headers:
            names |= template.names
        if self.body is not None:
            names |= self.body.names
        return frozenset(names)


def valid_method(method: str) -> bool:
    return bool(_METHOD.match(method))


def valid_header(name: str, value: str) -> str | None:
    """Why a header cannot be sent, or None."""
    if not _HEADER_NAME.match(name):
        return f"{name!r} is not a valid header name"
    if any(ch in value for ch in "\r\n\x00"):
        return f"the value of {name} has a line break"
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return f"the value of {name} has characters outside Latin-1"
    return None


# -- one request, one response ------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    method: str
    target: Target
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    follow_redirects: bool = True


class RenderError(ValueError):
    """A request that cannot be built from its templates and captures."""


def build_request(check: Check, captures: Mapping[str, str]) -> Request:
    url = check.url.render(captures)
    try:
        target = parse_target(url)
    except ValueError as exc:
        raise RenderError(f"the URL is not valid once filled in: expected {exc}") from None
    headers: list[tuple[str, str]] = []
    for name, template in check.headers:
        value = template.render(captures)
        problem = valid_header(name, value)
        if problem:
            raise RenderError(problem + " once filled in")
        headers.append((name, value))
    body = check.body.render(captures).encode("utf-8") if check.body is not None else None
    if check.content_type and not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("Content-Type", check.content_type))
    # Expecting a 3xx means looking at the redirect itself, not where it leads.
    follow = not any(300 <= code < 400 for code in check.expect_status.codes) and 3 not in check.expect_status.classes
    return Request(check.method, target, tuple(headers), body, follow)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    latency_ms: float
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    truncated: bool = False


FailureKind = Literal["refused", "timeout", "reset", "dns", "no-socket", "tls", "invalid", "other"]
_DEFINITE_KINDS = frozenset({"tls", "invalid"})


@dataclass(frozen=True)
class TransportFailure:
    """No HTTP response: what went wrong, in words."""

    kind: FailureKind
    message: str
    latency_ms: float = 0.0

    @property
    def definite(self) -> bool:
        return self.kind in _DEFINITE_KINDS


class AttemptState(enum.Enum):
    PASSED = "passed"
    NOT_READY = "not ready"
    FAILED = "failed"


@dataclass(frozen=True)
class Observation:
    """The judgement of one attempt."""

    state: AttemptState
    detail: str = ""
    status: int | None = None
    latency_ms: float | None = None
    version: str | None = None
    captures: tuple[tuple[str, str], ...] = ()


def same_version(running: str, expected: str) -> bool:
    return _bare(running) == _bare(expected)


def _bare(version: str) -> str:
    text = version.strip()
    return text[1:] if text[:1] in ("v", "V") and text[1:2].isdigit() else text


def evaluate(check: Check, reply: Response | TransportFailure, *, passed_before: bool) -> Observation:
    """Judge one attempt. `passed_before`: this check has passed at least once already."""
    if isinstance(reply, TransportFailure):
        state = AttemptState.FAILED if reply.definite else AttemptState.NOT_READY
        return Observation(state, reply.message, None, reply.latency_ms or None)
    status, latency = reply.status, reply.latency_ms

    def observe(state: AttemptState, detail: str = "", version: str | None = None,
                captures: tuple[tuple[str, str], ...] = ()) -> Observation:
        return Observation(state, detail, status, latency, version, captures)

    if status in RETRY_STATUSES and status not in check.expect_status.codes:
        return observe(AttemptState.NOT_READY, f"HTTP {status}{_reason(reply)}")
    document = _Document(reply.body)

    version: str | None = None
    version_problem = ""
    if check.expect_version is not None:
        version, version_problem = _read_version(check.version_field, document)
        if version is not None and not same_version(version, check.expect_version):
            return observe(AttemptState.NOT_READY, f"running {version}, expected {check.expect_version}", version)

    hard: list[str] = []
    if not check.expect_status.matches(status):
        excerpt = _excerpt(reply.body)
        hard.append(f"expected status {check.expect_status}, got {status}{_reason(reply)}"
                    + (f": {excerpt}" if excerpt else ""))
    for needle in check.expect_body_contains:
        if needle.encode("utf-8") not in reply.body:
            hard.append(f"the body does not contain {needle!r}" + (" (body truncated)" if reply.truncated else ""))
    for assertion in check.expect_json:
        problem = _check_json(assertion, document)
        if problem:
            hard.append(problem)
    captured: list[tuple[str, str]] = []
    for capture in check.captures:
        value, problem = _capture(capture, document)
        if problem:
            hard.append(problem)
        elif value is not None:
            captured.append((capture.name, value))

    if hard:
        on_new_version = check.expect_version is not None and version is not None
        if on_new_version or passed_before:
            why = f"on the new version {version}" if on_new_version else "it passed before"
            return observe(AttemptState.FAILED, "; ".join(hard) + f" ({why})", version)
        return observe(AttemptState.NOT_READY, "; ".join(hard), version)
    if version_problem:
        return observe(AttemptState.NOT_READY, version_problem)
    if check.max_latency_ms is not None and latency > check.max_latency_ms:
        return observe(AttemptState.NOT_READY,
                       f"took {latency:.0f} ms, over max-latency-ms {check.max_latency_ms:g}", version)
    return observe(AttemptState.PASSED, "", version, tuple(captured))


class _Document:
    """The response body as JSON, parsed once and only when a check needs it."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._parsed = False
        self._value: object = None
        self.error = ""

    @property
    def value(self) -> object:
        if not self._parsed:
            self._parsed = True
            try:
                self._value = json.loads(self._body)
            except (ValueError, RecursionError) as exc:
                self.error = f"the body is not JSON ({_first_line(exc)})"
        return self._value


def _read_version(path: JsonPath, document: _Document) -> tuple[str | None, str]:
    value = document.value
    if document.error:
        return None, f"cannot read the version: {document.error}"
    try:
        found = path.find(value)
    except Missing as exc:
        return None, f"cannot read the version at {path}: {exc}"
    if isinstance(found, bool) or not isinstance(found, (str, int, float)) or str(found).strip() == "":
        return None, f"cannot read the version at {path}: it is {show_json(found)}"
    return str(found).strip(), ""


def _check_json(assertion: JsonAssertion, document: _Document) -> str:
    value = document.value
    if document.error:
        return f"{assertion.path}: {document.error}"
    try:
        found = assertion.path.find(value)
    except Missing as exc:
        return f"{assertion.path}: expected {show_json(assertion.expected)}, but {exc}"
    if json_equal(found, assertion.expected):
        return ""
    return f"{assertion.path}: expected {show_json(assertion.expected)}, got {show_json(found)}"


def _capture(capture: Capture, document: _Document) -> tuple[str | None, str]:
    value = document.value
    if document.error:
        return None, f"capture {capture.name}: {document.error}"
    try:
        found = capture.path.find(value)
    except Missing as exc:
        return None, f"capture {capture.name}: {exc}"
    if isinstance(found, (dict, list)) or found is None:
        return None, f"capture {capture.name}: {capture.path} is {show_json(found)[:40]}, not a single value"
    if isinstance(found, bool):
        return ("true" if found else "false"), ""
    return str(found), ""


def json_equal(actual: object, expected: object) -> bool:
    """JSON equality: true is not 1, and 1 equals 1.0."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual is expected
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        return actual == expected
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(json_equal(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(json_equal(actual[k], expected[k]) for k in actual)
    return type(actual) is type(expected) and actual == expected


def show_json(value: object, limit: int = 60) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (ValueError, TypeError, RecursionError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(reply: Response) -> str:
    return f" {reply.reason}" if reply.reason else ""


def _excerpt(body: bytes) -> str:
    text = " ".join(body[: EXCERPT * 4].decode("utf-8", "replace").split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 3] + "..."


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:100] if text else type(exc).__name__


# -- the verdict on one check ---------------------------------------------------------------------

class Result(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # a journey step after a step that failed, or a run stopped early


class Ending(enum.Enum):
    """Why a check stopped being tried."""

    PASSED = "passed"
    DEFINITE = "definite failure"
    DEADLINE = "deadline"
    SKIPPED = "skipped"
    STOPPED = "stopped"


@dataclass(frozen=True)
class CheckResult:
    name: str
    method: str
    url: str  # as shown: templates unfilled, credentials hidden
    result: Result
    ending: Ending
    attempts: int
    detail: str = ""  # why it failed (or what the last not-ready attempt saw)
    last_status: int | None = None
    latency_ms: float | None = None
    version: str | None = None
    streak: int = 0
    needed: int = 1
    journey: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.result is Result.PASSED


def header_secrets(name: str, value: str) -> set[str]:
    """The parts of a literal header value to mask: all of it, and the credential after an auth scheme."""
    if not looks_secret(name) or not value.strip():
        return set()
    found = {value.strip()}
    scheme, _, credential = value.strip().partition(" ")
    if credential.strip() and scheme.isalpha():
        found.add(credential.strip())
    return found
