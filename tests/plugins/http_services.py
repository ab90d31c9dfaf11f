"""Real local HTTP services whose behaviour changes over time: what smoke-test meets after a deploy.

Fixtures:

- `http_service(routes, *, tls=False, unix=False, listening=True)`: a factory (function scope)
  that starts a threaded HTTP/1.1 server on 127.0.0.1, an HTTPS one (certificate from `tls_ca`),
  or one on a unix socket. Each route plays a script of phases, e.g.

      http_service({"/health": [Phase(Reply(503), requests=2),
                                Phase(Reply(json={"version": "1.2.2"}), requests=2),
                                Phase(Reply(json={"version": "1.2.3"}))]})

  A phase lasts `requests=N` requests, or `seconds=S` from its start; the last lasts forever.
  A phase may also be a function `(SeenRequest, n) -> Reply`. With `listening=False` the port
  (or socket file) is bound but not listening, so connections are refused until `.open()`
  (or `.open_after(seconds)`).
- `tls_ca`: a certificate authority generated for the session with `cryptography`, and a server
  certificate it signed for localhost and 127.0.0.1 (`.ca_path`, `.cert_path`, `.key_path`).

The same classes serve `benchmarks/smoke_load.py` (`Service.start(...)`, `TestCA.create(...)`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import socketserver
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class Reply:
    status: int = 200
    json: object = None
    body: bytes | str = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow endpoint)
    reset: bool = False  # close the connection without answering

    def payload(self) -> tuple[bytes, str]:
        if self.json is not None:
            return json.dumps(self.json).encode(), "application/json"
        data = self.body.encode() if isinstance(self.body, str) else self.body
        return data, "text/plain; charset=utf-8"


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    at: float  # time.monotonic()

    def json(self) -> Any:
        return json.loads(self.body or b"null")


Responder = Callable[[SeenRequest, int], Reply]


@dataclass(frozen=True)
class Phase:
    reply: Reply | Responder
    requests: int | None = None
    seconds: float | None = None

    def answer(self, request: SeenRequest, n: int) -> Reply:
        return self.reply if isinstance(self.reply, Reply) else self.reply(request, n)


Script = Sequence[Phase] | Reply | Responder


class _Route:
    """One route's script and where it is in it."""

    def __init__(self, script: Script, origin: float) -> None:
        if isinstance(script, (Reply, Phase)) or callable(script):
            script = [script if isinstance(script, Phase) else Phase(script)]  # type: ignore[arg-type]
        self.phases = list(script)
        self.index = 0
        self.count = 0  # requests served in the current phase
        self.started = origin  # time-based phases count from the service's start
        self.total = 0
        self.lock = threading.Lock()

    def next(self, request: SeenRequest) -> Phase:
        with self.lock:
            now = request.at
            while self.index < len(self.phases) - 1:
                phase = self.phases[self.index]
                done = (phase.requests is not None and self.count >= phase.requests) or \
                       (phase.seconds is not None and now - self.started >= phase.seconds)
                if not done:
                    break
                self.index += 1
                self.count = 0
                self.started = now if phase.seconds is None else self.started + phase.seconds
            self.count += 1
            self.total += 1
            return self.phases[self.index]


def _make_handler(service: Service) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real services do
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every keep-alive answer. Real servers set it too.
        disable_nagle_algorithm = service.unix_path is None

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def address_string(self) -> str:
            return "local"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            seen = SeenRequest(self.command, self.path, dict(self.headers.items()), body, time.monotonic())
            route = service.routes.get(f"{self.command} {path}") or service.routes.get(path)
            with service.lock:
                service.seen.append(seen)
            if route is None:
                reply = Reply(404, json={"error": "no such route"})
            else:
                phase = route.next(seen)
                reply = phase.answer(seen, route.total)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.reset:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            data, content_type = reply.payload()
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve

    return Handler


class _Quiet:
    daemon_threads = True
    allow_reuse_address = True
    tls: ssl.SSLContext | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is part of the test, not an error

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            try:  # the handshake runs in the connection's own thread, never in the accept loop
                request = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
        super().finish_request(request, client_address)  # type: ignore[misc]


class _TCPServer(_Quiet, socketserver.ThreadingTCPServer):
    request_queue_size = 128


class _UnixServer(_Quiet, socketserver.ThreadingUnixStreamServer):
    request_queue_size = 128


class Service:
    """A running (or bound, not yet listening) HTTP service."""

    def __init__(self, routes: Mapping[str, Script], *, tls: ssl.SSLContext | None = None,
                 unix_path: str | None = None) -> None:
        origin = time.monotonic()
        self.routes = {key: _Route(script, origin) for key, script in routes.items()}
        self.seen: list[SeenRequest] = []
        self.lock = threading.Lock()
        self.unix_path = unix_path
        self.tls = tls
        handler = _make_handler(self)
        server: socketserver.BaseServer
        if unix_path is not None:
            server = _UnixServer(unix_path, handler, bind_and_activate=False)
        else:
            server = _TCPServer(("127.0.0.1", 0), handler, bind_and_activate=False)
        server.tls = tls  # type: ignore[attr-defined]
        server.server_bind()  # type: ignore[attr-defined]  # bound: nobody else can take it; not listening: refused
        self.server = server
        self.port = 0 if unix_path else server.server_address[1]  # type: ignore[index]
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self.opened_at: float | None = None

    @classmethod
    def start(cls, routes: Mapping[str, Script], *, listening: bool = True, **kwargs: Any) -> Service:
        service = cls(routes, **kwargs)
        if listening:
            service.open()
        return service

    def open(self) -> None:
        """Start accepting connections (until now they were refused)."""
        if self._thread is not None:
            return
        self.server.server_activate()  # type: ignore[attr-defined]
        self.opened_at = time.monotonic()
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def open_after(self, seconds: float) -> None:
        self._timer = threading.Timer(seconds, self.open)
        self._timer.daemon = True
        self._timer.start()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(timeout=5)
        self.server.server_close()
        if self.unix_path:
            Path(self.unix_path).unlink(missing_ok=True)

    def url(self, path: str = "/") -> str:
        if self.unix_path:
            return f"unix://{self.unix_path}:{path}"
        scheme, host = ("https", "localhost") if self.tls else ("http", "127.0.0.1")
        return f"{scheme}://{host}:{self.port}{path}"

    def requests_to(self, path: str) -> list[SeenRequest]:
        with self.lock:
            return [s for s in self.seen if s.path.split("?", 1)[0] == path]

    def count(self, path: str) -> int:
        return len(self.requests_to(path))


# -- TLS ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TestCA:
    """A CA and a server certificate it signed for localhost / 127.0.0.1, as PEM files."""

    __test__ = False  # not a pytest test class

    ca_path: Path
    cert_path: Path
    key_path: Path

    @classmethod
    def create(cls, folder: Path) -> TestCA:
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = dt.datetime.now(dt.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "deploy-actions test CA")])
        ca_cert = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        folder.mkdir(parents=True, exist_ok=True)
        ca = cls(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
        ca.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        ca.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        ca.key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
        return ca

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def short_socket_dir() -> str:
    """A short folder for sockets: AF_UNIX paths must fit in 108 bytes, and pytest's tmp_path may not."""
    return tempfile.mkdtemp(prefix="da-sock-", dir="/tmp" if os.path.isdir("/tmp") else None)


# -- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA.create(tmp_path_factory.mktemp("tls-ca"))


@pytest.fixture
def http_service(request: pytest.FixtureRequest) -> Iterator[Callable[..., Service]]:
    """`http_service(routes, tls=False, unix=False, listening=True) -> Service`; all stopped afterwards."""
    started: list[Service] = []
    folders: list[str] = []

    def factory(routes: Mapping[str, Script], *, tls: bool = False, unix: bool = False,
                listening: bool = True) -> Service:
        context = request.getfixturevalue("tls_ca").server_context() if tls else None
        unix_path = None
        if unix:
            folders.append(short_socket_dir())
            unix_path = os.path.join(folders[-1], "daemon.sock")
        service = Service.start(routes, listening=listening, tls=context, unix_path=unix_path)
        started.append(service)
        return service

    yield factory
    for service in started:
        service.stop()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
