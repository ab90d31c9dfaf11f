"""deploy_actions.gitops.registry against real registries (Debian `docker-registry`) on loopback.

Images are pushed by skopeo from OCI layouts the tests write; faults come from a reverse proxy
in front of a real registry, a port that never answers and a port where nothing listens.
Only the malformed-answer cases use a canned HTTP server, because a real registry never
answers that way.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy_actions import actions_runtime
from deploy_actions.errors import OperationError
from deploy_actions.gitops import registry as registry_module
from deploy_actions.gitops.image_ref import ImageRef, ImageRefError
from deploy_actions.gitops.registry import (
    ACCEPT,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    RegistryClient,
    RegistryUnavailable,
    api_host,
    format_duration,
    is_loopback,
    parse_challenge,
)
from tests.plugins.registry import Proxy, Registry


def fast(username: str | None = None, password: str | None = None) -> RegistryClient:
    """A client with short backoff, for tests where retries are not the point."""
    return RegistryClient(username=username, password=password, retries=2, backoff=0.01, timeout=5.0)


def _chain(exc: BaseException) -> str:
    """Every message in an exception and the exceptions it was raised from or during."""
    texts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(texts) < 20:
        texts.append(f"{type(seen).__name__}: {seen!s} {seen!r}")
        seen = seen.__cause__ or seen.__context__
    return "\n".join(texts)


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text, text
    return text


# -- what exists and what does not --------------------------------------------------------------


def test_an_existing_tag_reports_the_digest_of_the_pushed_manifest(registry: Registry) -> None:
    pushed = registry.push("org/app", "v1.0.0")

    with fast() as client:
        found = client.manifest(pushed.ref)

    assert found == Manifest(digest=pushed.digest, media_type=OCI_MANIFEST, size=pushed.size)
    assert found.digest == "sha256:" + hashlib.sha256(pushed.manifest).hexdigest()


def test_a_missing_tag_or_repository_is_none(registry: Registry) -> None:
    registry.push("org/present", "v1.0.0")

    with fast() as client:
        assert client.manifest(registry.image("org/present", "v9.9.9")) is None
        assert client.manifest(registry.image("org/never-pushed", "v1.0.0")) is None


def test_a_digest_reference_is_looked_up_by_digest(registry: Registry) -> None:
    pushed = registry.push("org/by-digest", "v1.0.0")
    other = registry.push("org/by-digest", "v1.0.1")

    with fast() as client:
        assert client.manifest(pushed.by_digest) == Manifest(pushed.digest, OCI_MANIFEST, pushed.size)
        # Tag and digest together: the digest decides, as with `docker pull`.
        both = registry.image("org/by-digest", "v1.0.1", pushed.digest)
        assert client.manifest(both) == Manifest(pushed.digest, OCI_MANIFEST, pushed.size)
        unknown = "sha256:" + hashlib.sha256(b"never pushed").hexdigest()
        assert client.manifest(registry.image("org/by-digest", None, unknown)) is None
        assert client.manifest(other.ref) is not None


def test_a_multi_platform_index_is_reported_as_the_index(registry: Registry) -> None:
    pushed = registry.push_index("org/multi", "v2.0.0")

    with fast() as client:
        found = client.manifest(pushed.ref)
        children = [client.manifest(registry.image("org/multi", None, digest)) for digest in pushed.children]

    assert found == Manifest(digest=pushed.digest, media_type=OCI_INDEX, size=pushed.size)
    assert len(children) == 2
    assert all(child is not None and child.media_type == OCI_MANIFEST for child in children)


def test_the_request_accepts_oci_and_docker_manifest_types(registry: Registry, registry_proxy: Callable[..., Proxy]) -> None:
    pushed = registry.push("org/accept", "v1.0.0")
    proxy = registry_proxy(registry)

    with fast() as client:
        assert client.manifest(proxy.image("org/accept", "v1.0.0")) is not None

    accept = [line for line in proxy.header_dump if line.lower().startswith("accept:")]
    assert accept == [f"Accept: {ACCEPT}"]
    for media_type in (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ):
        assert media_type in ACCEPT
    assert proxy.requests == [f"HEAD /v2/org/accept/manifests/{pushed.tag} -> 200"]  # HEAD is enough


def test_without_docker_content_digest_the_digest_is_computed_from_the_exact_bytes(
    registry: Registry, registry_proxy: Callable[..., Proxy]
) -> None:
    pushed = registry.push("org/no-digest-header", "v1.2.3")
    index = registry.push_index("org/no-digest-header", "v1.2.4")
    proxy = registry_proxy(registry, strip_headers=["Docker-Content-Digest"])

    with fast() as client:
        found = client.manifest(proxy.image("org/no-digest-header", "v1.2.3"))
        found_index = client.manifest(proxy.image("org/no-digest-header", "v1.2.4"))

    assert found == Manifest(pushed.digest, OCI_MANIFEST, pushed.size)
    assert found_index == Manifest(index.digest, OCI_INDEX, index.size)
    assert [line.split(" ")[0] for line in proxy.requests] == ["HEAD", "GET", "HEAD", "GET"]


# -- auth --------------------------------------------------------------------------------------


def test_basic_auth_with_the_right_credentials(registry_basic: Registry) -> None:
    pushed = registry_basic.push("team/api", "v3.1.0")

    with fast(registry_basic.username, registry_basic.password) as client:
        assert client.manifest(pushed.ref) == Manifest(pushed.digest, OCI_MANIFEST, pushed.size)
        assert client.manifest(registry_basic.image("team/api", "v0.0.0")) is None


def test_basic_auth_with_wrong_or_no_credentials_is_refused(registry_basic: Registry) -> None:
    pushed = registry_basic.push("team/api", "v3.1.1")

    with fast(registry_basic.username, "wrong-password-123") as client:
        with pytest.raises(OperationError) as wrong:
            client.manifest(pushed.ref)
    with fast() as client, pytest.raises(OperationError) as anonymous:
        client.manifest(pushed.ref)

    assert _one_line(wrong.value) == (
        f"registry {registry_basic.host}: looking up team/api:v3.1.1: the registry refused the credentials "
        "(HTTP 401)"  # a HEAD answer has no body, so no registry error code
    )
    assert not isinstance(wrong.value, RegistryUnavailable)
    assert "requires a username and password; none were given" in _one_line(anonymous.value)


def test_bearer_auth_with_the_right_credentials_gets_a_token_for_the_repository(registry_bearer: Registry) -> None:
    service = registry_bearer.token_service
    assert service is not None
    pushed = registry_bearer.push("org/app", "v0.7.3")
    before = len(service.requests)

    with fast(registry_bearer.username, registry_bearer.password) as client:
        assert client.manifest(pushed.ref) == Manifest(pushed.digest, OCI_MANIFEST, pushed.size)
        assert client.manifest(registry_bearer.image("org/app", "v0.7.4")) is None
        assert client.manifest(pushed.by_digest) is not None

    token_requests = service.requests[before:]
    assert len(token_requests) == 1  # cached per scope: three look-ups, one token
    assert "scope=repository%3Aorg%2Fapp%3Apull" in token_requests[0]
    assert "service=deploy-actions-test-registry" in token_requests[0]
    assert service.issued[-1]["access"] == [{"type": "repository", "name": "org/app", "actions": ["pull"]}]


def test_a_github_token_alone_is_enough_for_the_token_endpoint(registry_bearer: Registry) -> None:
    # ghcr.io takes any username with a GITHUB_TOKEN; our token service knows the bot by name,
    # so this checks the default username is sent and a password-only client still authenticates.
    service = registry_bearer.token_service
    assert service is not None
    pushed = registry_bearer.push("org/token-only", "v1.0.0")
    service.users.setdefault("x-access-token", registry_bearer.password or "")

    with fast(password=registry_bearer.password) as client:
        assert client.manifest(pushed.ref) is not None
    assert service.issued[-1]["sub"] == "x-access-token"


def test_bearer_auth_with_wrong_credentials_is_refused_by_the_token_service(registry_bearer: Registry) -> None:
    service = registry_bearer.token_service
    assert service is not None
    pushed = registry_bearer.push("org/app", "v0.8.0")
    refused_before = service.refused

    with fast("ci-bot", "ghs_wrongwrongwrongwrong") as client:
        with pytest.raises(OperationError) as caught:
            client.manifest(pushed.ref)

    assert service.refused == refused_before + 1
    assert _one_line(caught.value).startswith(
        f"registry {registry_bearer.host}: looking up org/app:v0.8.0: the token service 127.0.0.1:{service.port} "
        "refused the credentials (HTTP 401)"
    )


def test_bearer_auth_anonymous_is_refused_for_a_private_repository(registry_bearer: Registry) -> None:
    pushed = registry_bearer.push("org/private", "v1.0.0")

    with fast() as client, pytest.raises(OperationError) as caught:
        client.manifest(pushed.ref)

    assert "the registry refused anonymous access (HTTP 401); credentials are needed" in _one_line(caught.value)
    assert str(caught.value).endswith("(insufficient_scope)")  # from the registry's second challenge


def test_bearer_auth_anonymous_can_read_a_public_repository(registry_bearer: Registry) -> None:
    pushed = registry_bearer.push("public/tool", "v1.0.0")

    with fast() as client:
        assert client.manifest(pushed.ref) == Manifest(pushed.digest, OCI_MANIFEST, pushed.size)


def test_an_expired_token_is_fetched_again(registry_bearer: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    service = registry_bearer.token_service
    assert service is not None
    pushed = registry_bearer.push("org/short-lived", "v1.0.0")
    monkeypatch.setattr(service, "lifetime", 2)  # counts as stale one second after issue
    before = len(service.requests)

    with fast(registry_bearer.username, registry_bearer.password) as client:
        assert client.manifest(pushed.ref) is not None
        assert client.manifest(pushed.ref) is not None
        time.sleep(1.2)
        assert client.manifest(pushed.ref) is not None

    assert len(service.requests) - before == 2


def test_without_digest_header_behind_auth(registry_basic: Registry, registry_proxy: Callable[..., Proxy]) -> None:
    pushed = registry_basic.push("team/stripped", "v1.0.0")
    proxy = registry_proxy(registry_basic, strip_headers=["Docker-Content-Digest"])

    with fast(registry_basic.username, registry_basic.password) as client:
        assert client.manifest(proxy.image("team/stripped", "v1.0.0")) == Manifest(
            pushed.digest, OCI_MANIFEST, pushed.size
        )
    # 401, then with credentials: HEAD (no digest), then GET with the cached credentials.
    assert [line.rsplit(" ", 1)[-1] for line in proxy.requests] == ["401", "200", "200"]


# -- faults ------------------------------------------------------------------------------------


def test_a_registry_that_is_down_is_retried_then_reported(closed_registry: str) -> None:
    image = ImageRef.parse(f"{closed_registry}/org/app:v1.0.0")
    start = time.monotonic()

    with RegistryClient(retries=2, backoff=0.05) as client, pytest.raises(RegistryUnavailable) as caught:
        client.manifest(image)

    assert time.monotonic() - start < 5
    assert _one_line(caught.value) == (
        f"registry {closed_registry}: looking up org/app:v1.0.0 failed (connection refused); tried 3 times"
    )
    assert caught.value.exit_code == 1


def test_retries_are_logged_with_their_delay(closed_registry: str, capfd: pytest.CaptureFixture[str]) -> None:
    image = ImageRef.parse(f"{closed_registry}/org/app:v1.0.0")

    with RegistryClient(retries=2, backoff=0.05) as client, pytest.raises(OperationError):
        client.manifest(image)

    err = capfd.readouterr().err
    assert re.findall(r"retrying in \d+\.\ds \((\d) of 3\)", err) == ["2", "3"]


def test_two_503s_then_success(registry: Registry, registry_proxy: Callable[..., Proxy]) -> None:
    pushed = registry.push("org/flaky", "v1.0.0")
    proxy = registry_proxy(registry, fail_first=2, fail_status=503)

    with RegistryClient(retries=3, backoff=0.05) as client:
        assert client.manifest(proxy.image("org/flaky", "v1.0.0")) == Manifest(pushed.digest, OCI_MANIFEST, pushed.size)

    assert [line.rsplit(" ", 1)[-1] for line in proxy.requests] == ["503", "503", "200"]


def test_5xx_that_never_ends_is_reported_with_the_attempts(registry: Registry, registry_proxy: Callable[..., Proxy]) -> None:
    registry.push("org/down", "v1.0.0")
    proxy = registry_proxy(registry, fail_first=100, fail_status=502)

    with RegistryClient(retries=1, backoff=0.01) as client, pytest.raises(RegistryUnavailable) as caught:
        client.manifest(proxy.image("org/down", "v1.0.0"))

    assert _one_line(caught.value) == (
        f"registry {proxy.host}: looking up org/down:v1.0.0 failed (HTTP 502); tried 2 times"
    )
    assert len(proxy.requests) == 2


def test_429_is_retried(registry: Registry, registry_proxy: Callable[..., Proxy]) -> None:
    registry.push("org/rate-limited", "v1.0.0")
    proxy = registry_proxy(registry, fail_first=1, fail_status=429)

    with RegistryClient(retries=1, backoff=0.01) as client:
        assert client.manifest(proxy.image("org/rate-limited", "v1.0.0")) is not None


def test_a_registry_that_hangs_times_out_within_the_deadline(hanging_registry: str) -> None:
    image = ImageRef.parse(f"{hanging_registry}/org/app:v1.0.0")
    start = time.monotonic()

    with RegistryClient(timeout=0.5, retries=1, backoff=0.01) as client, pytest.raises(RegistryUnavailable) as caught:
        client.manifest(image)

    elapsed = time.monotonic() - start
    assert 1.0 <= elapsed < 3.0, elapsed  # two attempts of 0.5 s each, plus a tiny backoff
    assert _one_line(caught.value) == (
        f"registry {hanging_registry}: looking up org/app:v1.0.0 failed (no answer after 0.5s); tried 2 times"
    )


def test_https_to_a_plain_http_registry_fails_at_once_with_one_line(registry: Registry) -> None:
    pushed = registry.push("org/tls", "v1.0.0")

    with RegistryClient(plain_http=lambda host: False, retries=3, backoff=1.0) as client:
        start = time.monotonic()
        with pytest.raises(OperationError) as caught:
            client.manifest(pushed.ref)

    assert time.monotonic() - start < 2  # not retried: it will not get better
    assert _one_line(caught.value).startswith(f"registry {registry.host}: looking up org/tls:v1.0.0: TLS failed (")


# -- waiting for CI to push ----------------------------------------------------------------------


def test_wait_for_returns_once_the_image_is_pushed(registry: Registry, capfd: pytest.CaptureFixture[str]) -> None:
    image = registry.image("org/late", "v5.0.0")
    pushed: list[object] = []
    timer = threading.Timer(2.0, lambda: pushed.append(registry.push("org/late", "v5.0.0")))
    start = time.monotonic()
    timer.start()
    try:
        with fast() as client:
            found = client.wait_for(image, timeout=30, interval=0.2)
    finally:
        timer.join()

    elapsed = time.monotonic() - start
    assert 2.0 <= elapsed < 10, elapsed
    [done] = pushed
    assert found == Manifest(done.digest, OCI_MANIFEST, done.size)  # type: ignore[attr-defined]
    err = capfd.readouterr().err
    assert err.count("waiting for 127.0.0.1") == 1  # one line per minute, not one per poll


def test_wait_for_times_out_cleanly(registry: Registry) -> None:
    image = registry.image("org/never", "v1.0.0")
    start = time.monotonic()

    with fast() as client, pytest.raises(OperationError) as caught:
        client.wait_for(image, timeout=1.0, interval=0.3)

    elapsed = time.monotonic() - start
    assert 1.0 <= elapsed < 3.0, elapsed
    text = _one_line(caught.value)
    assert re.fullmatch(
        rf"registry {registry.host}: {registry.host}/org/never:v1\.0\.0 did not appear within 1\.0s "
        r"\(waited [12]\.\ds, [2-5] checks\)",
        text,
    ), text


def test_wait_for_keeps_waiting_through_an_outage_and_names_the_last_error(closed_registry: str) -> None:
    image = ImageRef.parse(f"{closed_registry}/org/app:v1.0.0")

    with RegistryClient(retries=0) as client, pytest.raises(OperationError) as caught:
        client.wait_for(image, timeout=0.6, interval=0.2)

    assert not isinstance(caught.value, RegistryUnavailable)
    assert _one_line(caught.value).endswith(
        f"; last error: registry {closed_registry}: looking up org/app:v1.0.0 failed (connection refused); tried once"
    )


def test_wait_for_stops_at_once_when_credentials_are_refused(registry_basic: Registry) -> None:
    image = registry_basic.image("team/api", "v404")
    start = time.monotonic()

    with fast("ci-bot", "not-it") as client, pytest.raises(OperationError) as caught:
        client.wait_for(image, timeout=30, interval=0.2)

    assert time.monotonic() - start < 3
    assert "refused the credentials" in str(caught.value)


# -- secrets -------------------------------------------------------------------------------------


def test_secrets_never_appear_in_output_exceptions_or_urls(
    registry_basic: Registry,
    registry_bearer: Registry,
    registry_proxy: Callable[..., Proxy],
    closed_registry: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setattr(actions_runtime, "_secrets", set())  # prove it without relying on redaction
    service = registry_bearer.token_service
    assert service is not None and registry_basic.password and registry_bearer.password
    wrong = "ghs_" + "W" * 36
    basic_pushed = registry_basic.push("team/secret", "v1.0.0")
    bearer_pushed = registry_bearer.push("org/secret", "v1.0.0")
    basic_proxy = registry_proxy(registry_basic, fail_first=1)
    bearer_proxy = registry_proxy(registry_bearer, strip_headers=["Docker-Content-Digest"])
    texts: list[str] = []
    tokens_before = len(service.issued)

    def attempt(client: RegistryClient, image: ImageRef) -> None:
        try:
            client.manifest(image)
        except OperationError as exc:
            texts.append(_chain(exc))

    for password in (registry_basic.password, wrong):
        with RegistryClient(username="ci-bot", password=password, retries=1, backoff=0.01) as client:
            attempt(client, basic_pushed.ref)
            attempt(client, basic_proxy.image("team/secret", "v1.0.0"))
            attempt(client, ImageRef.parse(f"{closed_registry}/team/secret:v1"))
    for password in (registry_bearer.password, wrong):
        with RegistryClient(username="ci-bot", password=password, retries=1, backoff=0.01) as client:
            attempt(client, bearer_pushed.ref)
            attempt(client, bearer_proxy.image("org/secret", "v1.0.0"))
            try:
                client.wait_for(registry_bearer.image("org/secret", "v0"), timeout=0.3, interval=0.1)
            except OperationError as exc:
                texts.append(_chain(exc))

    captured = capfd.readouterr()
    jwt_tokens = [str(claims["jti"]) for claims in service.issued[tokens_before:]]
    assert jwt_tokens, "the bearer registry issued no token: the test proves nothing"
    assert len(texts) >= 6
    haystacks = {
        "stdout": captured.out,
        "stderr": captured.err,
        "exceptions": "\n".join(texts),
        "token service URLs": "\n".join(service.requests),
        "token service headers": "\n".join(service.header_dump),
        "proxy URLs": "\n".join(basic_proxy.requests + bearer_proxy.requests),
        "proxy headers": "\n".join(basic_proxy.header_dump + bearer_proxy.header_dump),
    }
    for secret in (registry_basic.password, registry_bearer.password, wrong):
        for where, text in haystacks.items():
            assert secret not in text, f"a password leaked into {where}"
    for where in ("stdout", "stderr", "exceptions"):
        assert "eyJ" not in haystacks[where], f"a JWT leaked into {where}"


def test_in_github_actions_the_password_and_tokens_are_masked_before_use(
    registry_bearer: Registry, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setattr(actions_runtime, "_secrets", set())
    pushed = registry_bearer.push("org/masked", "v1.0.0")

    with fast(registry_bearer.username, registry_bearer.password) as client:
        assert client.manifest(pushed.ref) is not None

    masks = [line for line in capfd.readouterr().out.splitlines() if line.startswith("::add-mask::")]
    assert f"::add-mask::{registry_bearer.password}" in masks
    assert any(line.startswith("::add-mask::eyJ") for line in masks)  # the bearer token too


# -- malformed answers (a canned server: a real registry never answers like this) ----------------


class Canned:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[str] = []
        self.port = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
def canned() -> Iterator[Canned]:
    state = Canned()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _serve(self) -> None:
            state.requests.append(f"{self.command} {self.path}")
            status, headers, body = state.routes.get((self.command, self.path.split("?")[0]), (404, {}, b""))
            self.send_response(status)
            for key, value in headers.items():
                if key != "Content-Length":
                    self.send_header(key, value)
            self.send_header("Content-Length", headers.get("Content-Length", str(len(body))))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = _serve
        do_HEAD = _serve

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = int(httpd.server_address[1])
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield state
    httpd.shutdown()
    httpd.server_close()


MANIFEST_PATH = "/v2/org/app/manifests/v1"


def _lookup(canned: Canned, username: str | None = None, password: str | None = None) -> Manifest | None:
    with RegistryClient(username=username, password=password, retries=0) as client:
        return client.manifest(ImageRef.parse(f"{canned.host}/org/app:v1"))


def test_a_manifest_that_is_not_json_is_an_error(canned: Canned) -> None:
    canned.routes[("HEAD", MANIFEST_PATH)] = (200, {"Content-Type": OCI_MANIFEST}, b"")
    canned.routes[("GET", MANIFEST_PATH)] = (200, {"Content-Type": OCI_MANIFEST}, b"<html>proxy login</html>")

    with pytest.raises(OperationError) as caught:
        _lookup(canned)
    assert _one_line(caught.value) == (
        f"registry {canned.host}: looking up org/app:v1: the manifest is not a JSON object (24 bytes)"
    )


def test_a_digest_header_that_does_not_match_the_bytes_is_an_error(canned: Canned) -> None:
    body = b'{"schemaVersion": 2, "mediaType": "' + OCI_MANIFEST.encode() + b'"}'
    lie = "sha256:" + "0" * 64
    canned.routes[("HEAD", MANIFEST_PATH)] = (200, {"Content-Type": OCI_MANIFEST}, b"")
    canned.routes[("GET", MANIFEST_PATH)] = (200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": lie}, body)

    with pytest.raises(OperationError) as caught:
        _lookup(canned)
    assert "do not match the Docker-Content-Digest header" in _one_line(caught.value)


def test_a_malformed_digest_header_is_an_error(canned: Canned) -> None:
    canned.routes[("HEAD", MANIFEST_PATH)] = (
        200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": "sha256:xyz", "Content-Length": "10"}, b""
    )

    with pytest.raises(OperationError) as caught:
        _lookup(canned)
    assert "malformed digest 'sha256:xyz'" in _one_line(caught.value)


def test_the_media_type_comes_from_the_body_when_the_header_is_generic(canned: Canned) -> None:
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode()
    canned.routes[("HEAD", MANIFEST_PATH)] = (405, {}, b"")  # a registry without HEAD
    canned.routes[("GET", MANIFEST_PATH)] = (200, {"Content-Type": "application/json"}, body)

    assert _lookup(canned) == Manifest("sha256:" + hashlib.sha256(body).hexdigest(), OCI_INDEX, len(body))


def test_an_unexpected_status_is_an_error_with_the_registry_message(canned: Canned) -> None:
    error = json.dumps({"errors": [{"code": "TOOMANYREQUESTS", "message": "slow down"}]}).encode()
    canned.routes[("HEAD", MANIFEST_PATH)] = (418, {}, b"")
    with pytest.raises(OperationError) as caught:
        _lookup(canned)
    assert _one_line(caught.value) == f"registry {canned.host}: looking up org/app:v1: unexpected HTTP 418"

    canned.routes[("HEAD", MANIFEST_PATH)] = (405, {}, b"")
    canned.routes[("GET", MANIFEST_PATH)] = (409, {"Content-Type": "application/json"}, error)
    with pytest.raises(OperationError) as caught:
        _lookup(canned)
    assert str(caught.value).endswith("unexpected HTTP 409 (TOOMANYREQUESTS: slow down)")


def test_a_token_endpoint_without_a_token_is_an_error(canned: Canned) -> None:
    canned.routes[("HEAD", MANIFEST_PATH)] = (
        401, {"WWW-Authenticate": f'Bearer realm="http://{canned.host}/token",service="s"'}, b""
    )
    canned.routes[("GET", "/token")] = (200, {"Content-Type": "application/json"}, b'{"hello": "world"}')

    with pytest.raises(OperationError) as caught:
        _lookup(canned)
    assert _one_line(caught.value) == (
        f"registry {canned.host}: looking up org/app:v1: getting a token from {canned.host}: the answer holds no token"
    )
    assert any(line.startswith("GET /token?service=s&scope=repository%3Aorg%2Fapp%3Apull") for line in canned.requests)


def test_credentials_are_not_sent_to_a_plain_http_realm_elsewhere(canned: Canned) -> None:
    canned.routes[("HEAD", MANIFEST_PATH)] = (
        401, {"WWW-Authenticate": 'Bearer realm="http://auth.example.invalid/token",service="s"'}, b""
    )

    with pytest.raises(OperationError) as caught:
        _lookup(canned, username="u", password="p4ssw0rd-secret")
    assert "refusing to send credentials over plain http to auth.example.invalid" in _one_line(caught.value)


def test_an_unknown_challenge_is_an_error(canned: Canned) -> None:
    canned.routes[("HEAD", MANIFEST_PATH)] = (401, {"WWW-Authenticate": 'Negotiate'}, b"")

    with pytest.raises(OperationError) as caught:
        _lookup(canned, username="u", password="p")
    assert "authentication challenge we cannot follow (negotiate)" in _one_line(caught.value)


# -- pure helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True), ("localhost:5000", True), ("127.0.0.1", True), ("127.0.0.1:5000", True),
        ("127.1.2.3:80", True), ("[::1]:5000", True), ("[::1]", True), ("ghcr.io", False),
        ("10.0.0.1:5000", False), ("localhost.example.com", False), ("registry-1.docker.io", False),
    ],
)
def test_loopback_hosts_are_plain_http_by_default(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert RegistryClient()._scheme(host) == ("http" if loopback else "https")


def test_plain_http_overrides_the_default() -> None:
    client = RegistryClient(plain_http=lambda host: host == "registry.internal:5000")
    assert client._scheme("registry.internal:5000") == "http"
    assert client._scheme("localhost:5000") == "https"


def test_docker_hub_is_asked_at_registry_1() -> None:
    assert api_host(ImageRef.parse("nginx:1.25").registry) == "registry-1.docker.io"
    assert api_host(ImageRef.parse("index.docker.io/library/nginx").registry) == "registry-1.docker.io"
    assert api_host("ghcr.io") == "ghcr.io"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/nginx:pull,push"',
            [("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                         "scope": "repository:library/nginx:pull,push"})],
        ),
        ('Basic realm="Registry Realm"', [("basic", {"realm": "Registry Realm"})]),
        (
            'Basic realm="a", Bearer realm="https://t/token",error="insufficient_scope"',
            [("basic", {"realm": "a"}), ("bearer", {"realm": "https://t/token", "error": "insufficient_scope"})],
        ),
        ('Bearer realm=https://t/token, service=svc', [("bearer", {"realm": "https://t/token", "service": "svc"})]),
        ('Bearer realm="a \\"quoted\\" b"', [("bearer", {"realm": 'a "quoted" b'})]),
        ("", []),
    ],
)
def test_parse_challenge(header: str, expected: list[tuple[str, dict[str, str]]]) -> None:
    assert parse_challenge(header) == expected


@settings(deadline=None)
@given(st.text(max_size=300))
def test_parse_challenge_never_raises(header: str) -> None:
    parse_challenge(header)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.5, "0.5s"), (59.94, "59.9s"), (60, "1m"), (90, "1m30s"), (600, "10m"), (3725, "1h2m5s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_requests_is_imported_only_by_a_client() -> None:
    import subprocess
    import sys

    code = "import sys, deploy_actions.gitops.registry; print('requests' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert registry_module.MAX_MANIFEST_BYTES == 4 * 1024 * 1024


# -- fuzzing image references ------------------------------------------------------------------

# Docker's grammar (distribution/reference), written out here so the generator is checked against
# the source of truth, not against the module under test.
DOCKER_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*")
DOCKER_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_REF_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEF0123456789._-:/@ \t[]"
_alnum = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
_component = st.builds(
    lambda first, rest: first + "".join(sep + word for sep, word in rest),
    _alnum,
    st.lists(st.tuples(st.sampled_from([".", "_", "__", "-", "--"]), _alnum), max_size=3),
)
_tag = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from("abcXYZ019_"),
    st.text(alphabet="abcdefxyzABCXYZ0123456789_.-", max_size=20),
)
_digest = st.builds(lambda b, upper: "sha256:" + (b.hex().upper() if upper else b.hex()),
                    st.binary(min_size=32, max_size=32), st.booleans())
_label = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_registry = st.one_of(
    st.just("docker.io"),
    st.just("localhost"),
    st.builds(lambda labels, tld: ".".join([*labels, tld]), st.lists(_label, min_size=1, max_size=3),
              st.sampled_from(["io", "com", "example"])),
    st.builds(lambda host, port: f"{host}:{port}", st.sampled_from(["localhost", "127.0.0.1", "registry"]),
              st.integers(1, 65535)),
    st.builds(lambda port: f"[::1]:{port}", st.integers(1, 65535)),
)


@st.composite
def image_refs(draw: st.DrawFn) -> ImageRef:
    registry = draw(_registry)
    components = draw(st.lists(_component, min_size=2 if registry == "docker.io" else 1, max_size=4))
    tag = draw(st.none() | _tag)
    digest = draw(st.none() | _digest)
    return ImageRef(registry, "/".join(components), tag, digest)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), st.text(alphabet=_REF_CHARS, max_size=120)))
def test_parse_raises_nothing_but_image_ref_error(text: str) -> None:
    try:
        ref = ImageRef.parse(text)
    except ImageRefError:
        return
    assert ImageRef.parse(str(ref)) == ref  # whatever parses, parses again to itself


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image_refs())
def test_parse_round_trips_generated_references(ref: ImageRef) -> None:
    assert all(DOCKER_PATH_COMPONENT.fullmatch(part) for part in ref.repository.split("/"))  # honest generator
    assert ref.tag is None or DOCKER_TAG.fullmatch(ref.tag)
    assert ImageRef.parse(str(ref)) == ref
