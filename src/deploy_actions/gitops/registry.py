"""Does `image:tag` exist, and what is its digest? The OCI distribution API, read-only.

One question, asked with `HEAD /v2/<repo>/manifests/<tag or digest>` (a `GET` when the answer
lacks what we need), the way `docker pull` asks it:

- `Accept` lists the OCI index and manifest types and Docker's v2 list and manifest types, so
  multi-arch images are found as themselves, never converted.
- `Docker-Content-Digest` is only a SHOULD: when it is missing we GET the manifest and hash the
  exact bytes; when it is present on a GET we check it against the bytes.
- Auth follows the registry's `WWW-Authenticate` challenge: `Bearer` goes to the token endpoint
  it names (with basic credentials when we have them, anonymously otherwise; ghcr.io accepts a
  GitHub token as the password), tokens are cached per scope until they expire; `Basic` gets
  basic auth. Credentials are sent only in the `Authorization` header, never in a URL, and never
  to a plain-http host that is not allowed to be plain http.
- https, except for loopback hosts (Docker's default insecure-registry rule covers 127.0.0.0/8;
  `localhost` and `::1` are loopback too); `plain_http` overrides.
- Connection failures, timeouts, 429 and 5xx are retried with jittered exponential backoff; what
  still fails is one `OperationError` line naming the registry, what failed and how often.

`requests` is imported when the first client is made, so commands that never ask a registry do
not pay for loading it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from deploy_actions import __version__, actions_runtime
from deploy_actions.errors import OperationError
from deploy_actions.gitops.image_ref import DOCKER_HUB, ImageRef

if TYPE_CHECKING:
    import requests

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)
ACCEPT = ", ".join(MANIFEST_TYPES)

DOCKER_HUB_API = "registry-1.docker.io"  # docker.io is the name; the API lives here
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # distribution's own limit on a manifest
MAX_BACKOFF_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 60.0
TOKEN_LIFETIME_DEFAULT = 60  # seconds, per the token spec when `expires_in` is absent
TOKEN_REFRESH_MARGIN = 10  # seconds before expiry that a cached token counts as stale
DEFAULT_USERNAME = "x-access-token"  # when only a password (a GitHub token) is given
# Token services that public registries name in their challenges, on a host other than their own.
KNOWN_TOKEN_SERVICES: dict[str, tuple[str, ...]] = {
    "registry-1.docker.io": ("auth.docker.io",),
    "docker.io": ("auth.docker.io",),
    "index.docker.io": ("auth.docker.io",),
}
WAIT_LOG_EVERY = 60.0  # seconds between "still waiting" lines

_DIGEST = re.compile(r"^(?P<algorithm>[a-z0-9]+(?:[+._-][a-z0-9]+)*):(?P<hex>[a-zA-Z0-9=_-]+)$")
_HASHES = {"sha256": 64, "sha512": 128}  # algorithm → hex length we can verify
_CHALLENGE_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)\s*,?')
_CHALLENGE_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9_.-]*)(?:\s+|$)")


@dataclass(frozen=True)
class Manifest:
    """What the registry holds for a tag or digest."""

    digest: str  # "sha256:…", from Docker-Content-Digest or computed from the exact manifest bytes
    media_type: str
    size: int


class RegistryUnavailable(OperationError):
    """The registry could not be reached or kept failing (connection, timeout, 429, 5xx)."""


def api_host(registry: str) -> str:
    """The host (and port) that serves the API for `registry` as written in an image reference."""
    return DOCKER_HUB_API if registry == DOCKER_HUB else registry


def is_loopback(host: str) -> bool:
    """`localhost`, 127.0.0.0/8 or ::1, with or without a port."""
    name = _hostname(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") > 1:  # a bare IPv6 address
        return host
    return host.split(":", 1)[0]


def parse_challenge(header: str) -> list[tuple[str, dict[str, str]]]:
    """`WWW-Authenticate` as [(scheme in lower case, {param: value})], in the order given.

    >>> parse_challenge('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/a:pull"')
    [('bearer', {'realm': 'https://ghcr.io/token', 'service': 'ghcr.io', 'scope': 'repository:o/a:pull'})]
    """
    challenges: list[tuple[str, dict[str, str]]] = []
    pos = 0
    while pos < len(header):
        if header[pos] in ", \t":
            pos += 1
            continue
        param = _CHALLENGE_PARAM.match(header, pos)
        if param and challenges:
            value = param.group(2)
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            challenges[-1][1][param.group(1).lower()] = value
            pos = param.end()
            continue
        scheme = _CHALLENGE_SCHEME.match(header, pos)
        if not scheme:
            break
        challenges.append((scheme.group(1).lower(), {}))
        pos = scheme.end()
    return challenges


def format_duration(seconds: float) -> str:
    """`2.5s`, `1m30s`, `10m`: how long, the way `wait-for-image` is written."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours}h" if hours else ""
    text += f"{minutes}m" if minutes else ""
    text += f"{secs}s" if secs else ""
    return text


@dataclass
class _Auth:
    header: str
    expires: float | None  # time.monotonic() deadline; None: until refused


class _Response:
    """The parts of an HTTP answer we use, with the body already read (and capped)."""

    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class RegistryClient:
    """Read-only client of the OCI distribution API: manifest existence and digests.

    `password` may be a GitHub token (ghcr.io takes it at its token endpoint with any username;
    `x-access-token` is sent when no username is given). `timeout` bounds each attempt: the
    connection, every read, and the whole body. A failing request is tried `retries` more times.
    `plain_http(host)` says which hosts (as in the image reference, with port) speak plain http;
    by default the loopback ones.
    """

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        plain_http: Callable[[str], bool] | None = None,
        auth_hosts: Iterable[str] = (),
    ) -> None:
        import requests

        actions_runtime.mask(password)
        self._username = username if username else (DEFAULT_USERNAME if password else None)
        self._password = password or None
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = max(0.0, backoff)
        self._plain_http = plain_http if plain_http is not None else is_loopback
        self._auth: dict[tuple[str, str], _Auth] = {}
        self._auth_hosts = {_hostname(h.strip()).lower() for h in auth_hosts if h.strip()}
        self._session = requests.Session()
        self._session.headers["User-Agent"] = f"deploy-actions/{__version__}"
        self._random = random.Random()  # noqa: S311 - jitter, not cryptography

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the API ------------------------------------------------------------------------------

    def manifest(self, image: ImageRef) -> Manifest | None:
        """The manifest `image` names (its digest if given, else its tag); None when it does not exist.

        A reference with both a tag and a digest is looked up by digest, as `docker pull` does.
        """
        host = api_host(image.registry)
        reference = image.digest or image.tag or "latest"
        url = f"{self._scheme(host)}://{host}/v2/{image.repository}/manifests/{reference}"
        what = f"looking up {image.repository}{'@' if image.digest else ':'}{reference}"
        scope = f"repository:{image.repository}:pull"

        head = self._call("HEAD", url, host=host, scope=scope, what=what)
        if head.status == 404:
            return None
        if head.status == 200:
            found = self._from_head(head, image, host, what)
            if found:
                return found
        elif head.status not in (400, 405, 501):  # a registry without HEAD support: ask with GET
            raise self._unexpected(head, host, what)

        got = self._call("GET", url, host=host, scope=scope, what=what, body=True)
        if got.status == 404:
            return None
        if got.status != 200:
            raise self._unexpected(got, host, what)
        return self._from_body(got, image, host, what)

    def wait_for(self, image: ImageRef, timeout: float, interval: float = 5.0) -> Manifest:
        """Poll until `image` exists and return its manifest.

        A registry that is briefly unreachable counts as "not there yet"; refused credentials and
        malformed answers stop the wait at once. OperationError when `timeout` seconds pass.
        """
        interval = max(interval, 0.05)
        start = time.monotonic()
        deadline = start + max(timeout, 0.0)
        checks = 0
        last_problem: str | None = None
        next_log = start
        while True:
            checks += 1
            try:
                found = self.manifest(image)
            except RegistryUnavailable as exc:
                found, last_problem = None, exc.message
            if found is not None:
                return found
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                message = (
                    f"registry {api_host(image.registry)}: {image.short()} did not appear within "
                    f"{format_duration(timeout)} (waited {format_duration(now - start)}, {checks} checks)"
                )
                if last_problem:
                    message += f"; last error: {last_problem}"
                raise OperationError(self._redact(message))
            if now >= next_log:
                actions_runtime.log(
                    f"waiting for {image.short()} to appear in the registry ({format_duration(remaining)} left)"
                )
                next_log = now + WAIT_LOG_EVERY
            time.sleep(min(interval, remaining))

    # -- answers --------------------------------------------------------------------------------

    def _from_head(self, resp: _Response, image: ImageRef, host: str, what: str) -> Manifest | None:
        digest = resp.headers.get("Docker-Content-Digest")
        if not digest:
            return None  # not in the headers: GET the bytes and hash them
        digest = self._check_digest(digest, host, what)
        media_type = _media_type(resp.headers.get("Content-Type"))
        length = resp.headers.get("Content-Length")
        if not media_type or not length or not length.isdigit():
            return None
        if image.digest and digest.lower() != image.digest.lower():
            raise OperationError(
                f"registry {host}: {what} answered with digest {digest}, not the one asked for"
            )
        return Manifest(digest=digest, media_type=media_type, size=int(length))

    def _from_body(self, resp: _Response, image: ImageRef, host: str, what: str) -> Manifest:
        body = resp.body
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise OperationError(f"registry {host}: {what}: the manifest is not a JSON object ({len(body)} bytes)")
        media_type = _media_type(resp.headers.get("Content-Type"))
        declared = document.get("mediaType")
        if media_type not in MANIFEST_TYPES and isinstance(declared, str) and declared:
            media_type = declared
        if not media_type:
            raise OperationError(f"registry {host}: {what}: the manifest has no media type")
        header = resp.headers.get("Docker-Content-Digest")
        if "prettyjws" in media_type or document.get("schemaVersion") == 1:
            # Schema 1 digests are over the payload without its signatures; we never ask for it.
            if not header:
                raise OperationError(
                    f"registry {host}: {what}: got a Docker schema 1 manifest without a digest (unsupported)"
                )
            return Manifest(digest=self._check_digest(header, host, what), media_type=media_type, size=len(body))

        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        for claimed, source in ((header, "the Docker-Content-Digest header"), (image.digest, "the requested digest")):
            if not claimed:
                continue
            claimed = self._check_digest(claimed, host, what)
            algorithm, _, expected = claimed.partition(":")
            if algorithm not in _HASHES:
                continue  # cannot verify an algorithm we do not know; trust our own sha256
            actual = hashlib.new(algorithm, body).hexdigest()
            if actual != expected.lower():
                raise OperationError(
                    f"registry {host}: {what}: the manifest bytes do not match {source} ({claimed})"
                )
        return Manifest(digest=digest, media_type=media_type, size=len(body))

    def _check_digest(self, digest: str, host: str, what: str) -> str:
        match = _DIGEST.match(digest.strip())
        known = match and _HASHES.get(match.group("algorithm"))
        if not match or (known and (len(match.group("hex")) != known or not _is_hex(match.group("hex")))):
            raise OperationError(f"registry {host}: {what}: malformed digest {_clip(digest)!r} in the answer")
        return digest.strip().lower() if known else digest.strip()

    def _unexpected(self, resp: _Response, host: str, what: str) -> OperationError:
        return OperationError(self._redact(f"registry {host}: {what}: unexpected HTTP {resp.status}{_errors(resp)}"))

    # -- auth -----------------------------------------------------------------------------------

    def _call(self, method: str, url: str, *, host: str, scope: str, what: str, body: bool = False) -> _Response:
        """One request with the cached auth; on a 401, authenticate as challenged and try once more."""
        cached = self._cached_auth(host, scope)
        resp = self._send(method, url, host=host, what=what, auth=cached.header if cached else None, body=body)
        if resp.status == 401:
            challenge = resp.headers.get("WWW-Authenticate", "")
            fresh = self._authenticate(challenge, host=host, scope=scope, what=what)
            resp = self._send(method, url, host=host, what=what, auth=fresh.header, body=body)
            if resp.status == 401:
                self._forget(host, scope)
                raise self._refused(resp, host, what)
        if resp.status == 403:
            self._forget(host, scope)
            raise self._refused(resp, host, what)
        return resp

    def _cached_auth(self, host: str, scope: str) -> _Auth | None:
        for key in ((host, scope), (host, "*")):
            found = self._auth.get(key)
            if found and (found.expires is None or found.expires > time.monotonic()):
                return found
        return None

    def _forget(self, host: str, scope: str) -> None:
        self._auth.pop((host, scope), None)
        self._auth.pop((host, "*"), None)

    def _authenticate(self, header: str, *, host: str, scope: str, what: str) -> _Auth:
        challenges = dict(reversed(parse_challenge(header)))  # the first of each scheme wins
        if "bearer" in challenges and challenges["bearer"].get("realm"):
            auth = self._bearer(challenges["bearer"], host=host, scope=scope, what=what)
            self._auth[(host, scope)] = auth
            return auth
        if "basic" in challenges:
            if not self._password:
                raise OperationError(
                    f"registry {host}: {what}: the registry requires a username and password; none were given"
                )
            # The registry itself is https, or plain http because that host is allowed to be.
            auth = _Auth(self._basic_header(), None)
            self._auth[(host, "*")] = auth
            return auth
        shown = ", ".join(scheme for scheme, _ in parse_challenge(header)) or "none"
        raise OperationError(
            f"registry {host}: {what}: HTTP 401 with an authentication challenge we cannot follow ({_clip(shown)})"
        )

    def _bearer(self, params: dict[str, str], *, host: str, scope: str, what: str) -> _Auth:
        realm = params["realm"]
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise OperationError(f"registry {host}: {what}: the token realm {_clip(realm)!r} is not an http(s) URL")
        realm_host = parts.netloc.rsplit("@", 1)[-1]
        if parts.scheme == "http" and self._password and not (self._plain_http(realm_host) or is_loopback(realm_host)):
            raise OperationError(
                f"registry {host}: {what}: refusing to send credentials over plain http to {realm_host}"
            )
        # Credentials go only where they were given for: the registry's own host, a token service the
        # registry is known to use, or a host the user allowed. Any other realm gets an anonymous request.
        send_credentials = bool(self._password) and self._may_authenticate_at(host, realm_host)
        if self._password and not send_credentials:
            actions_runtime.log(f"registry {host}: the token service {realm_host} is not the registry's own host; "
                                "asking it without credentials (allow it with registry-auth-hosts)")
        query: dict[str, str] = {}
        if params.get("service"):
            query["service"] = params["service"]
        query["scope"] = params.get("scope") or scope
        if self._username and send_credentials:
            query["account"] = self._username
        separator = "&" if parts.query else "?"
        url = realm.split("#", 1)[0] + separator + urlencode(query)
        doing = f"{what}: getting a token from {realm_host}"
        resp = self._send("GET", url, host=realm_host, what=doing,
                          auth=self._basic_header() if send_credentials else None, body=True)
        if resp.status in (401, 403):
            raise self._refused(resp, host, what, by=f"the token service {realm_host}")
        if resp.status != 200:
            raise self._unexpected(resp, realm_host, doing)
        try:
            answer = json.loads(resp.body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            answer = {}
        token = answer.get("token") or answer.get("access_token")
        if not isinstance(token, str) or not token.strip():
            raise OperationError(f"registry {host}: {doing}: the answer holds no token")
        actions_runtime.mask(token)
        lifetime = answer.get("expires_in")
        if not isinstance(lifetime, (int, float)) or isinstance(lifetime, bool) or lifetime <= 0:
            lifetime = TOKEN_LIFETIME_DEFAULT
        expires = time.monotonic() + max(float(lifetime) - TOKEN_REFRESH_MARGIN, 1.0)
        return _Auth(f"Bearer {token.strip()}", expires)

    def _may_authenticate_at(self, registry_host: str, realm_host: str) -> bool:
        realm = _hostname(realm_host).lower()
        if realm == _hostname(registry_host).lower():
            return True
        allowed = {*KNOWN_TOKEN_SERVICES.get(_hostname(registry_host).lower(), ()), *self._auth_hosts}
        return realm in allowed

    def _basic_header(self) -> str:
        import base64

        pair = f"{self._username or DEFAULT_USERNAME}:{self._password or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def _refused(self, resp: _Response, host: str, what: str, by: str | None = None) -> OperationError:
        who = by or "the registry"
        if self._password:
            why = f"{who} refused the credentials (HTTP {resp.status})"
        else:
            why = f"{who} refused anonymous access (HTTP {resp.status}); credentials are needed"
        details = _errors(resp)
        if not details:  # a HEAD answer has no body; a bearer challenge may still say why
            for scheme, params in parse_challenge(resp.headers.get("WWW-Authenticate", "")):
                if scheme == "bearer" and params.get("error"):
                    details = f" ({_clip(params['error'])})"
        return OperationError(self._redact(f"registry {host}: {what}: {why}{details}"))

    # -- transport ------------------------------------------------------------------------------

    def _scheme(self, host: str) -> str:
        return "http" if self._plain_http(host) else "https"

    def _send(self, method: str, url: str, *, host: str, what: str, auth: str | None, body: bool) -> _Response:
        """Send with retries on connection failures, timeouts, 429 and 5xx."""
        import requests

        attempts = self.retries + 1
        headers = {"Accept": ACCEPT} if "/manifests/" in url else {"Accept": "application/json"}
        if auth:
            headers["Authorization"] = auth
        problem = ""
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            try:
                resp = self._session.request(
                    method, url, headers=headers, timeout=self.timeout, allow_redirects=True, stream=True
                )
                try:
                    data = self._read(resp) if body else b""
                finally:
                    resp.close()
            except requests.exceptions.SSLError as exc:
                raise OperationError(self._redact(f"registry {host}: {what}: TLS failed ({_reason(exc)})")) from exc
            except _BodyTooLarge as exc:
                raise OperationError(f"registry {host}: {what}: the answer is larger than {exc.limit} bytes") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                    requests.exceptions.ChunkedEncodingError, _BodyTimeout) as exc:
                problem = _reason(exc, self.timeout)
            except requests.exceptions.RequestException as exc:
                raise OperationError(self._redact(f"registry {host}: {what}: {_reason(exc)}")) from exc
            else:
                if resp.status_code < 500 and resp.status_code != 429:
                    return _Response(resp.status_code, resp.headers, data)
                problem = f"HTTP {resp.status_code}{_errors(_Response(resp.status_code, resp.headers, data))}"
                retry_after = _retry_after(resp.headers.get("Retry-After"))
            if attempt < attempts:
                delay = self._delay(attempt, retry_after)
                actions_runtime.log(self._redact(
                    f"registry {host}: {what}: {problem}; retrying in {delay:.1f}s ({attempt + 1} of {attempts})"
                ))
                time.sleep(delay)
        times = "once" if attempts == 1 else f"{attempts} times"
        raise RegistryUnavailable(self._redact(f"registry {host}: {what} failed ({problem}); tried {times}"))

    def _read(self, resp: requests.Response) -> bytes:
        """The body, at most MAX_MANIFEST_BYTES, within `timeout` seconds in total."""
        deadline = time.monotonic() + self.timeout
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > MAX_MANIFEST_BYTES:
                raise _BodyTooLarge(MAX_MANIFEST_BYTES)
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise _BodyTimeout()
        return b"".join(chunks)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay: float = min(self.backoff * 2.0 ** (attempt - 1), MAX_BACKOFF_SECONDS)
        delay *= self._random.uniform(0.5, 1.5)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    def _redact(self, text: str) -> str:
        text = actions_runtime.redact(text)
        if self._password:
            text = text.replace(self._password, "***")
        for auth in self._auth.values():
            text = text.replace(auth.header.split(" ", 1)[-1], "***")
        return text


class _BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


class _BodyTimeout(Exception):
    pass


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _retry_after(header: str | None) -> float | None:
    if not header:
        return None
    try:
        seconds = float(header.strip())
    except ValueError:
        return None  # an HTTP date: rare from registries; the backoff applies
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _errors(resp: _Response) -> str:
    """`: CODE: message` from the distribution error body, when there is one."""
    try:
        document = json.loads(resp.body) if resp.body else None
    except ValueError:
        return ""
    if not isinstance(document, dict) or not isinstance(document.get("errors"), list):
        return ""
    parts = []
    for error in document["errors"][:3]:
        if isinstance(error, dict):
            text = ": ".join(str(error[key]) for key in ("code", "message") if error.get(key))
            if text:
                parts.append(_clip(" ".join(text.split())))
    return f" ({'; '.join(parts)})" if parts else ""


def _reason(exc: BaseException, timeout: float | None = None) -> str:
    """A short reason for a transport failure, without the exception's URL soup."""
    import requests

    limit = f" after {format_duration(timeout)}" if timeout is not None else ""
    if isinstance(exc, (_BodyTimeout, requests.exceptions.ReadTimeout)):
        return f"no answer{limit}"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connection timed out{limit}"
    text = str(exc)
    lowered = text.lower()
    for needle, reason in (
        ("connection refused", "connection refused"),
        ("name or service not known", "host not found"),
        ("nodename nor servname", "host not found"),
        ("temporary failure in name resolution", "host not found (DNS)"),
        ("connection reset", "connection reset"),
        ("remotedisconnected", "connection closed without an answer"),
        ("connection aborted", "connection closed without an answer"),
        ("read timed out", "read timed out"),
        ("certificate verify failed", "certificate verify failed"),
        ("wrong version number", "the server does not speak TLS"),
    ):
        if needle in lowered:
            return reason
    return _clip(" ".join(text.split()), 160) or type(exc).__name__
