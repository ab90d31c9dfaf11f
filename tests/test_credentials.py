"""A credential goes only to the host it was configured for: never across a redirect to another
host, never to a registry's token service elsewhere unless the user allowed it, and the workflows'
GitHub token is the default registry password only for ghcr.io."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from deploy_actions.gitops.image_ref import ImageRef
from deploy_actions.gitops.registry import RegistryClient
from deploy_actions.verify.canary.providers.prometheus import PrometheusClient

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cr3t-t0k3n-value"
PROM_ANSWER = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}).encode()


@dataclass
class Recorder:
    """A loopback HTTP server on `host` that records every request's headers and answers with `answer`."""

    host: str
    answer: Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]
    seen: list[dict[str, str]] = field(default_factory=list)
    port: int = 0

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture
def servers() -> Iterator[Callable[..., Recorder]]:
    started: list[ThreadingHTTPServer] = []

    def start(host: str, answer: Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]) -> Recorder:
        recorder = Recorder(host, answer)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                recorder.seen.append({"path": self.path, **{k: v for k, v in self.headers.items()}})
                status, headers, body = recorder.answer(self)
                self.send_response(status)
                for key, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_HEAD = _serve

        server = ThreadingHTTPServer((host, 0), Handler)
        recorder.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return recorder

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def _carries_secret(request: dict[str, str]) -> bool:
    auth = request.get("Authorization", "")
    decoded = ""
    if auth.startswith("Basic "):
        decoded = base64.b64decode(auth[6:]).decode("utf-8", "replace")
    return SECRET in auth or SECRET in decoded or SECRET in request.get("path", "")


def test_prometheus_drops_the_token_when_a_redirect_leads_to_another_host(servers):
    elsewhere = servers("127.0.0.2", lambda h: (200, {"Content-Type": "application/json"}, PROM_ANSWER))
    prometheus = servers("127.0.0.1", lambda h: (307, {"Location": f"{elsewhere.origin}{h.path}"}, b""))
    PrometheusClient(prometheus.origin, token=SECRET, retries=0).instant("up")
    assert _carries_secret(prometheus.seen[0])  # the configured host gets it
    assert elsewhere.seen and not any(_carries_secret(r) for r in elsewhere.seen)


def test_prometheus_keeps_basic_credentials_on_a_redirect_within_its_own_origin(servers):
    def answer(h: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if h.path.startswith("/old"):
            return 307, {"Location": h.path.replace("/old", "", 1)}, b""
        return 200, {"Content-Type": "application/json"}, PROM_ANSWER

    prometheus = servers("127.0.0.1", answer)
    PrometheusClient(prometheus.origin + "/old", username="ann", password=SECRET, retries=0).instant("up")
    assert len(prometheus.seen) == 2 and all(_carries_secret(r) for r in prometheus.seen)


def _challenging_registry(servers, realm: str) -> Recorder:
    def answer(h: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if "Bearer" in h.headers.get("Authorization", ""):
            return 404, {}, b""
        return 401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="reg",scope="repository:org/app:pull"'}, b""

    return servers("127.0.0.1", answer)


def _token_service(servers, host: str) -> Recorder:
    return servers(host, lambda h: (200, {"Content-Type": "application/json"}, b'{"token": "anon-or-not"}'))


def test_registry_credentials_do_not_follow_a_token_realm_to_another_host(servers):
    tokens = _token_service(servers, "127.0.0.2")
    registry = _challenging_registry(servers, f"{tokens.origin}/token")
    with RegistryClient(username="ci", password=SECRET, retries=0) as client:
        assert client.manifest(ImageRef.parse(f"127.0.0.1:{registry.port}/org/app:v1")) is None
    assert tokens.seen, "the token service was asked (anonymously)"
    assert not any(_carries_secret(r) or "account=" in r["path"] for r in tokens.seen)


def test_registry_credentials_go_to_a_token_host_the_user_allowed(servers):
    tokens = _token_service(servers, "127.0.0.2")
    registry = _challenging_registry(servers, f"{tokens.origin}/token")
    with RegistryClient(username="ci", password=SECRET, retries=0, auth_hosts=["127.0.0.2"]) as client:
        client.manifest(ImageRef.parse(f"127.0.0.1:{registry.port}/org/app:v1"))
    assert tokens.seen and all(_carries_secret(r) for r in tokens.seen)


def test_registry_credentials_go_to_the_registry_s_own_token_service(servers):
    def answer(h: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if h.path.startswith("/token"):
            return 200, {"Content-Type": "application/json"}, b'{"token": "t"}'
        if "Bearer" in h.headers.get("Authorization", ""):
            return 404, {}, b""
        return 401, {"WWW-Authenticate": f'Bearer realm="http://127.0.0.1:{registry.port}/token",service="r"'}, b""

    registry = servers("127.0.0.1", answer)
    with RegistryClient(username="ci", password=SECRET, retries=0) as client:
        client.manifest(ImageRef.parse(f"127.0.0.1:{registry.port}/org/app:v1"))
    assert any(r["path"].startswith("/token") and _carries_secret(r) for r in registry.seen)


def _registry_password_defaults() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")) + sorted((ROOT / "workflows").glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        for job in (doc.get("jobs") or {}).values():
            for step in job.get("steps") or []:
                value = (step.get("with") or {}).get("registry-password")
                if isinstance(value, str):
                    found.append((path.name, value))
    return found


def test_the_workflows_lend_the_github_token_to_ghcr_io_only():
    found = _registry_password_defaults()
    assert found, "no step passes a registry password: the rule below would hold vacuously"
    for name, value in found:
        if "github.token" in value:
            assert "startsWith(inputs.image, 'ghcr.io/') && github.token" in value, (name, value)
