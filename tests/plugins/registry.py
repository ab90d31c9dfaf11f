"""Real OCI registries on loopback: Debian's `docker-registry` (CNCF distribution 2.8), with auth.

Fixtures (session-scoped servers; under pytest-xdist each worker starts its own):

- `registry`: no auth.
- `registry_basic`: htpasswd (bcrypt) basic auth; `.username` / `.password` are good credentials.
- `registry_bearer`: token auth. `.token_service` is a threaded HTTP token endpoint started by the
  test that checks basic credentials and signs the registry's JWTs (RS256) with a key generated
  here; the registry trusts it through `rootcertbundle` (a self-signed certificate, sent as `x5c`).
  Anonymous callers get a token with no access, except for repositories under `public/`, which
  anyone may pull (like a public image on ghcr.io or Docker Hub).

Each `Registry` pushes real images with skopeo from an OCI layout written here (`push`, and
`push_index` for a two-platform OCI index), and reports what the registry must answer (`Pushed`).

Function-scoped helpers for faults:

- `registry_proxy(upstream, strip_headers=…, fail_first=…, fail_status=…)`: a reverse proxy in
  front of a registry that can drop response headers or fail its first N requests.
- `hanging_registry`: a host:port that accepts connections and never answers.
- `closed_registry`: a host:port where nothing listens (connection refused).
"""

from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import http.client
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from deploy_actions.gitops.image_ref import ImageRef
from tests.plugins import stop_process

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
SERVICE = "deploy-actions-test-registry"
ISSUER = "deploy-actions-test-issuer"
READY_TIMEOUT = 20.0


def _need(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if not path:
        pytest.fail(f"`{binary}` is not installed; install the Debian package `{package}`", pytrace=False)
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- images ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pushed:
    """An image as pushed: what a registry client must report for it."""

    registry: str  # host:port
    repository: str
    tag: str
    digest: str  # sha256 of `manifest`, as the registry and skopeo agree
    media_type: str
    manifest: bytes  # the exact bytes pushed
    children: tuple[str, ...] = ()  # the per-platform manifest digests of an index

    @property
    def size(self) -> int:
        return len(self.manifest)

    @property
    def ref(self) -> ImageRef:
        return ImageRef(self.registry, self.repository, self.tag)

    @property
    def by_digest(self) -> ImageRef:
        return ImageRef(self.registry, self.repository, None, self.digest)


class OciLayout:
    """An OCI image layout on disk (`oci-layout`, `index.json`, `blobs/sha256/*`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        self.refs: list[dict[str, object]] = []

    def blob(self, data: bytes) -> dict[str, object]:
        digest = _sha256(data)
        (self.root / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
        return {"digest": digest, "size": len(data)}

    def image(self, seed: str, arch: str = "amd64", os_name: str = "linux") -> tuple[bytes, dict[str, object]]:
        """One image (config + one gzip layer); returns the manifest bytes and its descriptor."""
        tar_bytes = io.BytesIO()
        with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
            payload = f"deploy-actions test image {seed} {arch}\n".encode()
            info = tarfile.TarInfo("etc/deploy-actions-test")
            info.size, info.mtime, info.mode = len(payload), 0, 0o644
            tar.addfile(info, io.BytesIO(payload))
        layer = gzip.compress(tar_bytes.getvalue(), mtime=0)
        config = json.dumps({
            "created": "2026-01-01T00:00:00Z",
            "architecture": arch,
            "os": os_name,
            "config": {"Labels": {"org.opencontainers.image.version": seed}},
            "rootfs": {"type": "layers", "diff_ids": [_sha256(tar_bytes.getvalue())]},
            "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "deploy-actions tests"}],
        }, sort_keys=True).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, **self.blob(config)},
            "layers": [{"mediaType": OCI_LAYER, **self.blob(layer)}],
            "annotations": {"org.opencontainers.image.title": seed},
        }
        # Unusual but valid whitespace: a client that re-serialises the JSON gets another digest.
        data = json.dumps(manifest, indent=3).encode() + b"\n"
        return data, {"mediaType": OCI_MANIFEST, **self.blob(data)}

    def index(self, seed: str, platforms: Sequence[str]) -> tuple[bytes, dict[str, object], tuple[str, ...]]:
        entries = []
        for platform in platforms:
            os_name, arch = platform.split("/", 1)
            _, descriptor = self.image(f"{seed}-{arch}", arch=arch, os_name=os_name)
            entries.append({**descriptor, "platform": {"architecture": arch, "os": os_name}})
        data = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, indent=2).encode()
        children = tuple(str(entry["digest"]) for entry in entries)
        return data, {"mediaType": OCI_INDEX, **self.blob(data)}, children

    def tag(self, name: str, descriptor: dict[str, object]) -> None:
        self.refs.append({**descriptor, "annotations": {"org.opencontainers.image.ref.name": name}})
        (self.root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": self.refs}, indent=2))


# -- the token endpoint ------------------------------------------------------------------------


@dataclass
class TokenService:
    """The token endpoint a `Bearer` challenge points at; signs JWTs the registry trusts."""

    users: dict[str, str]
    key_pem: bytes
    cert_der: bytes
    lifetime: int = 300
    port: int = 0
    requests: list[str] = field(default_factory=list)  # request lines, as received
    header_dump: list[str] = field(default_factory=list)  # every header except Authorization
    issued: list[dict[str, object]] = field(default_factory=list)  # claims of every token issued
    refused: int = 0

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def issue(self, subject: str, scopes: list[str]) -> str:
        import jwt

        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind != "repository" or not name:
                continue
            wanted = [a for a in actions.split(",") if a]
            if subject:
                granted = [a for a in wanted if a in ("pull", "push", "delete", "*")]
            else:
                granted = ["pull"] if name.startswith("public/") and "pull" in wanted else []
            if granted:
                access.append({"type": "repository", "name": name, "actions": granted})
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": ISSUER, "sub": subject, "aud": SERVICE, "iat": now, "nbf": now - 5,
            "exp": now + self.lifetime, "jti": uuid.uuid4().hex, "access": access,
        }
        self.issued.append(claims)
        x5c = [base64.b64encode(self.cert_der).decode()]
        return jwt.encode(claims, self.key_pem, algorithm="RS256", headers={"x5c": x5c, "typ": "JWT"})


def _token_handler(service: TokenService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self, status: int, document: dict[str, object], extra: dict[str, str] | None = None) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            service.requests.append(f"{self.command} {self.path}")
            service.header_dump.extend(f"{k}: {v}" for k, v in self.headers.items() if k.lower() != "authorization")
            parts = urlsplit(self.path)
            if parts.path != "/token":
                self._answer(404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})
                return
            query = parse_qs(parts.query)
            if query.get("service") != [SERVICE]:
                self._answer(400, {"errors": [{"code": "INVALID_REQUEST", "message": "unknown service"}]})
                return
            subject = ""
            header = self.headers.get("Authorization")
            if header:
                scheme, _, value = header.partition(" ")
                try:
                    user, _, password = base64.b64decode(value).decode().partition(":")
                except ValueError:
                    user, password = "", ""
                if scheme.lower() != "basic" or not user or service.users.get(user) != password:
                    service.refused += 1
                    self._answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid username or password"}]},
                                 {"WWW-Authenticate": 'Basic realm="token"'})
                    return
                subject = user
            token = service.issue(subject, query.get("scope", []))
            issued_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            self._answer(200, {"token": token, "access_token": token, "expires_in": service.lifetime,
                               "issued_at": issued_at})

    return Handler


def _make_token_service(users: dict[str, str]) -> TokenService:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return TokenService(users=users, key_pem=key_pem, cert_der=cert.public_bytes(serialization.Encoding.DER))


# -- the registry ------------------------------------------------------------------------------


@dataclass
class Registry:
    """A running `docker-registry serve` on 127.0.0.1."""

    root: Path
    auth: str  # "none", "basic" or "bearer"
    port: int = 0
    username: str | None = None
    password: str | None = None
    token_service: TokenService | None = None
    process: subprocess.Popen[bytes] | None = None
    _pushes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def log_path(self) -> Path:
        return self.root / "registry.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def image(self, repository: str, tag: str | None = None, digest: str | None = None) -> ImageRef:
        return ImageRef(self.host, repository, tag, digest)

    def _layout(self) -> tuple[OciLayout, str]:
        with self._lock:
            self._pushes += 1
            seed = f"{self.auth}-{os.getpid()}-{self._pushes}-{uuid.uuid4().hex[:8]}"
        return OciLayout(self.root / "layouts" / seed), seed

    def push(self, repository: str, tag: str) -> Pushed:
        """Push a fresh single-platform OCI image as `repository:tag` with skopeo."""
        layout, seed = self._layout()
        manifest, descriptor = layout.image(seed)
        layout.tag(tag, descriptor)
        digest = self._skopeo(layout.root, tag, repository, multi=False)
        assert digest == descriptor["digest"], (digest, descriptor)
        return Pushed(self.host, repository, tag, digest, OCI_MANIFEST, manifest)

    def push_index(self, repository: str, tag: str, platforms: Sequence[str] = ("linux/amd64", "linux/arm64")) -> Pushed:
        """Push a multi-platform OCI index (and its per-platform manifests) with `skopeo copy --all`."""
        layout, seed = self._layout()
        data, descriptor, children = layout.index(seed, platforms)
        layout.tag(tag, descriptor)
        digest = self._skopeo(layout.root, tag, repository, multi=True)
        assert digest == descriptor["digest"], (digest, descriptor)
        return Pushed(self.host, repository, tag, digest, OCI_INDEX, data, children)

    def _skopeo(self, layout: Path, tag: str, repository: str, *, multi: bool) -> str:
        skopeo = _need("skopeo", "skopeo")
        work = layout.parent
        policy = work / "policy.json"
        if not policy.exists():
            policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
        digest_file = layout.with_suffix(".digest")
        argv = [skopeo, "--policy", str(policy), "copy", "--quiet", "--preserve-digests",
                "--dest-tls-verify=false", "--digestfile", str(digest_file)]
        if multi:
            argv.append("--all")
        if self.username and self.password:
            # Credentials in a file, not in argv where `ps` could read them.
            auth_file = work / f"auth-{self.port}.json"
            if not auth_file.exists():
                pair = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
                auth_file.write_text(json.dumps({"auths": {self.host: {"auth": pair}}}))
                auth_file.chmod(0o600)
            argv += ["--dest-authfile", str(auth_file)]
        argv += [f"oci:{layout}:{tag}", f"docker://{self.host}/{repository}:{tag}"]
        env = {**os.environ, "HOME": str(work), "XDG_RUNTIME_DIR": str(work)}
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
        if proc.returncode != 0:
            pytest.fail(f"skopeo push to {self.host}/{repository}:{tag} failed:\n{proc.stderr}\n"
                        f"registry log (tail):\n{self.log()[-4000:]}", pytrace=False)
        return digest_file.read_text().strip()

    def stop(self) -> None:
        stop_process(self.process)


def _config(registry: Registry, htpasswd: Path | None, bundle: Path | None) -> str:
    lines = [
        "version: 0.1",
        "log:",
        "  level: info",
        "  fields:",
        "    service: registry",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {registry.root / 'storage'}",
        "  delete:",
        "    enabled: true",
        "  maintenance:",
        "    uploadpurging:",
        "      enabled: false",
        "http:",
        f"  addr: {registry.host}",
        f"  secret: {secrets.token_hex(16)}",
        "  draintimeout: 1s",
    ]
    if htpasswd is not None:
        lines += ["auth:", "  htpasswd:", "    realm: deploy-actions-test", f"    path: {htpasswd}"]
    if bundle is not None:
        assert registry.token_service is not None
        lines += [
            "auth:",
            "  token:",
            f"    realm: {registry.token_service.realm}",
            f"    service: {SERVICE}",
            f"    issuer: {ISSUER}",
            f"    rootcertbundle: {bundle}",
        ]
    return "\n".join(lines) + "\n"


def _htpasswd_line(user: str, password: str) -> str:
    try:
        import bcrypt  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        binary = _need("htpasswd", "apache2-utils")
        proc = subprocess.run([binary, "-niBC", "5", user], input=password, capture_output=True,
                              text=True, check=True)
        return proc.stdout.strip()
    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}"


def _start(registry: Registry, htpasswd: Path | None = None, bundle: Path | None = None) -> None:
    binary = _need("docker-registry", "docker-registry")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "OTEL_"))}
    for _attempt in range(3):  # another worker may grab the free port first
        registry.port = _free_port()
        config = registry.root / "config.yml"
        config.write_text(_config(registry, htpasswd, bundle))
        log = registry.log_path.open("wb")
        registry.process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                            env=env, start_new_session=True)
        log.close()
        if _wait_ready(registry):
            return
        registry.stop()
        if "address already in use" not in registry.log():
            break
    pytest.fail(f"docker-registry did not start ({registry.auth} auth); its log:\n{registry.log()[-6000:]}",
                pytrace=False)


def _wait_ready(registry: Registry) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        assert registry.process is not None
        if registry.process.poll() is not None:
            return False
        try:
            conn = http.client.HTTPConnection("127.0.0.1", registry.port, timeout=2)
            conn.request("GET", "/v2/")
            status = conn.getresponse().status
            conn.close()
            if status in (200, 401):
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry without auth."""
    server = Registry(root=tmp_path_factory.mktemp("registry-open"), auth="none")
    _start(server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def registry_basic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry with htpasswd basic auth; `.username`/`.password` are accepted."""
    root = tmp_path_factory.mktemp("registry-basic")
    server = Registry(root=root, auth="basic", username="ci-bot", password="pw-" + secrets.token_urlsafe(18))
    htpasswd = root / "htpasswd"
    htpasswd.write_text(_htpasswd_line(server.username or "", server.password or "") + "\n")
    _start(server, htpasswd=htpasswd)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def registry_bearer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry with token auth; `.token_service` is the endpoint that signs its JWTs."""
    root = tmp_path_factory.mktemp("registry-bearer")
    password = "ghs_" + secrets.token_urlsafe(27)  # shaped like a GITHUB_TOKEN
    service = _make_token_service({"ci-bot": password})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _token_handler(service))
    service.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    bundle = root / "token-ca.pem"
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    bundle.write_bytes(x509.load_der_x509_certificate(service.cert_der).public_bytes(serialization.Encoding.PEM))
    server = Registry(root=root, auth="bearer", username="ci-bot", password=password, token_service=service)
    try:
        _start(server, bundle=bundle)
        yield server
    finally:
        server.stop()
        httpd.shutdown()
        httpd.server_close()


# -- faults ------------------------------------------------------------------------------------


@dataclass
class Proxy:
    """A reverse proxy in front of a registry; see `registry_proxy`."""

    upstream: str  # host:port
    strip_headers: tuple[str, ...] = ()
    fail_first: int = 0
    fail_status: int = 503
    port: int = 0
    requests: list[str] = field(default_factory=list)  # "METHOD path -> status"
    header_dump: list[str] = field(default_factory=list)  # request headers except Authorization
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def image(self, repository: str, tag: str | None = None, digest: str | None = None) -> ImageRef:
        return ImageRef(self.host, repository, tag, digest)


def _proxy_handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    hop_by_hop = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
                  "proxy-authorization", "proxy-authenticate", "content-length"}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _serve(self) -> None:
            proxy.header_dump.extend(f"{k}: {v}" for k, v in self.headers.items() if k.lower() != "authorization")
            with proxy._lock:
                failing = proxy.fail_first > 0
                if failing:
                    proxy.fail_first -= 1
            if failing:
                body = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "injected fault"}]}).encode()
                proxy.requests.append(f"{self.command} {self.path} -> {proxy.fail_status}")
                self.send_response(proxy.fail_status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                return
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in hop_by_hop}
            conn = http.client.HTTPConnection(proxy.upstream, timeout=30)
            conn.request(self.command, self.path, body=payload, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            proxy.requests.append(f"{self.command} {self.path} -> {resp.status}")
            self.send_response(resp.status)
            stripped = {h.lower() for h in proxy.strip_headers}
            for key, value in resp.getheaders():
                if key.lower() in hop_by_hop or key.lower() in stripped:
                    continue
                self.send_header(key, value)
            if self.command == "HEAD":
                length_header = resp.getheader("Content-Length")
                if length_header is not None and "content-length" not in stripped:
                    self.send_header("Content-Length", length_header)
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = _serve
        do_HEAD = _serve
        do_POST = _serve
        do_PUT = _serve
        do_PATCH = _serve
        do_DELETE = _serve

    return Handler


@pytest.fixture
def registry_proxy() -> Iterator[Callable[..., Proxy]]:
    """`make(upstream, strip_headers=(), fail_first=0, fail_status=503) -> Proxy`, stopped after the test."""
    servers: list[ThreadingHTTPServer] = []

    def make(upstream: Registry | str, *, strip_headers: Sequence[str] = (), fail_first: int = 0,
             fail_status: int = 503) -> Proxy:
        target = upstream.host if isinstance(upstream, Registry) else upstream
        proxy = Proxy(upstream=target, strip_headers=tuple(strip_headers), fail_first=fail_first,
                      fail_status=fail_status)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _proxy_handler(proxy))
        httpd.daemon_threads = True
        proxy.port = int(httpd.server_address[1])
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(httpd)
        return proxy

    yield make
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def hanging_registry() -> Iterator[str]:
    """host:port that accepts TCP connections (the kernel completes them) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@pytest.fixture
def closed_registry() -> str:
    """host:port where nothing listens: every connection is refused."""
    return f"127.0.0.1:{_free_port()}"
