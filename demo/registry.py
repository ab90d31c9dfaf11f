"""The demo's image registry: a tiny OCI image, written with the stdlib, published on loopback.

Where it goes:
- Debian's `docker-registry` (the CNCF distribution registry), when it is installed: started on
  127.0.0.1 with its storage under the work folder, and the image pushed through the OCI
  distribution API (blob uploads, then the manifest), the way `docker push` does it;
- otherwise the OCI image layout directory itself, served read-only over the distribution API's
  read half (`/v2/`, manifests by tag or digest, blobs, tags/list) by a small embedded server.

Either way gitops-bump's registry check (plain http, as for every loopback registry) asks
`127.0.0.1:<port>` whether `org/app:v1.3.0` exists, exactly as it would ask ghcr.io.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_ROUTE = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|blobs)/(?P<ref>[^/]+)$")
READY_TIMEOUT = 20.0


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Published:
    """An image as published: `reference` is what a manifest pins (`127.0.0.1:5000/org/app:v1.3.0`)."""

    reference: str
    digest: str
    size: int


class OciLayout:
    """An OCI image layout on disk (`oci-layout`, `index.json`, `blobs/sha256/…`), one per repository."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}\n')
        if not (root / "index.json").exists():
            self._write_index([])

    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest.split(":", 1)[1]

    def _blob(self, data: bytes, media_type: str) -> dict[str, object]:
        digest = _sha256(data)
        self.blob_path(digest).write_bytes(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def refs(self) -> list[dict[str, object]]:
        index = json.loads((self.root / "index.json").read_text())
        return list(index.get("manifests", []))

    def _write_index(self, refs: list[dict[str, object]]) -> None:
        tmp = self.root / "index.json.tmp"
        tmp.write_text(json.dumps({"schemaVersion": 2, "manifests": refs}, indent=2) + "\n")
        tmp.replace(self.root / "index.json")

    def add_image(self, tag: str, version: str, app: str) -> dict[str, object]:
        """A one-layer image whose only file says which version it is; tagged `tag` in index.json."""
        if not _TAG.match(tag):
            raise ValueError(f"{tag!r} is not a valid tag")
        payload = json.dumps({"app": app, "version": version}).encode() + b"\n"
        tar_bytes = io.BytesIO()
        with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo("app/VERSION.json")
            info.size, info.mtime, info.mode = len(payload), 0, 0o644
            tar.addfile(info, io.BytesIO(payload))
        layer = gzip.compress(tar_bytes.getvalue(), mtime=0)
        config = json.dumps({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/app/serve"], "Labels": {"org.opencontainers.image.version": version}},
            "rootfs": {"type": "layers", "diff_ids": [_sha256(tar_bytes.getvalue())]},
        }, sort_keys=True).encode()
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": self._blob(config, OCI_CONFIG),
            "layers": [self._blob(layer, OCI_LAYER)],
            "annotations": {"org.opencontainers.image.version": version,
                            "org.opencontainers.image.title": app},
        }, indent=2).encode()
        descriptor = self._blob(manifest, OCI_MANIFEST)
        refs = [r for r in self.refs() if _ref_name(r) != tag]
        refs.append({**descriptor, "annotations": {"org.opencontainers.image.ref.name": tag}})
        self._write_index(refs)
        return descriptor

    def manifest_for(self, reference: str) -> dict[str, object] | None:
        """The descriptor of the manifest tagged `reference`, or listed with that digest."""
        for ref in self.refs():
            if reference in (_ref_name(ref), ref.get("digest")):
                return ref
        return None


def _ref_name(descriptor: dict[str, object]) -> str | None:
    annotations = descriptor.get("annotations")
    return annotations.get("org.opencontainers.image.ref.name") if isinstance(annotations, dict) else None


class DemoRegistry:
    """A registry on 127.0.0.1 holding the demo's images; `kind` says which one (see the module doc)."""

    kind = ""
    description = ""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def layout(self, repository: str) -> OciLayout:
        if not _REPOSITORY.match(repository):
            raise ValueError(f"{repository!r} is not a repository name")
        return OciLayout(self.root / "oci" / repository)

    def publish(self, repository: str, tag: str, version: str) -> Published:
        """Build `repository:tag` (an image of `version`) as an OCI layout and make the registry serve it."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> DemoRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EmbeddedRegistry(DemoRegistry):
    """The OCI image layout directories under `root/oci`, served read-only over the distribution API."""

    kind = "embedded"
    description = "an OCI image layout directory served read-only by the demo's embedded registry"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _read_only_handler(self))
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="embedded-registry", daemon=True)
        self._thread.start()

    def publish(self, repository: str, tag: str, version: str) -> Published:
        descriptor = self.layout(repository).add_image(tag, version, repository.rsplit("/", 1)[-1])
        return Published(f"{self.host}/{repository}:{tag}", str(descriptor["digest"]), int(str(descriptor["size"])))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _read_only_handler(registry: DemoRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "demo-oci-layout-registry"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _refuse(self) -> None:
            self._send(405, json.dumps({"errors": [{"code": "UNSUPPORTED", "message": "this registry is read-only"}]})
                       .encode(), "application/json", body=True)

        do_POST = do_PUT = do_PATCH = do_DELETE = _refuse

        def _answer(self, body: bool) -> None:
            path = urlsplit(self.path).path
            if path in ("/v2", "/v2/"):
                self._send(200, b"{}", "application/json", body)
                return
            if path.startswith("/v2/") and path.endswith("/tags/list"):
                name = path[len("/v2/"):-len("/tags/list")]
                layout = self._layout(name)
                if layout is None:
                    self._error(404, "NAME_UNKNOWN", f"repository {name} is not known", body)
                    return
                tags = sorted(t for t in (_ref_name(r) for r in layout.refs()) if t)
                self._send(200, json.dumps({"name": name, "tags": tags}).encode(), "application/json", body)
                return
            match = _ROUTE.match(path)
            layout = self._layout(match["name"]) if match else None
            if match is None or layout is None:
                self._error(404, "NAME_UNKNOWN", "no such repository", body)
                return
            ref = match["ref"]
            if match["kind"] == "manifests":
                descriptor = layout.manifest_for(ref)
                if descriptor is None or not (_DIGEST.match(ref) or _TAG.match(ref)):
                    self._error(404, "MANIFEST_UNKNOWN", f"manifest {ref} is not known", body)
                    return
                digest = str(descriptor["digest"])
                self._send(200, layout.blob_path(digest).read_bytes(), str(descriptor["mediaType"]), body,
                           digest=digest)
                return
            if not _DIGEST.match(ref) or not layout.blob_path(ref).is_file():
                self._error(404, "BLOB_UNKNOWN", f"blob {ref} is not known", body)
                return
            self._send(200, layout.blob_path(ref).read_bytes(), "application/octet-stream", body, digest=ref)

        def _layout(self, name: str) -> OciLayout | None:
            if not _REPOSITORY.match(name) or not (registry.root / "oci" / name / "index.json").is_file():
                return None
            return OciLayout(registry.root / "oci" / name)

        def _error(self, status: int, code: str, message: str, body: bool) -> None:
            document = {"errors": [{"code": code, "message": message}]}
            self._send(status, json.dumps(document).encode(), "application/json", body)

        def _send(self, status: int, data: bytes, content_type: str, body: bool, digest: str = "") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Docker-Distribution-API-Version", "registry/2.0")
            if digest:
                self.send_header("Docker-Content-Digest", digest)
            self.end_headers()
            if body:
                self.wfile.write(data)

    return Handler


class DistributionRegistry(DemoRegistry):
    """Debian's `docker-registry serve` on 127.0.0.1; images are pushed to it over the distribution API."""

    kind = "docker-registry"
    description = "Debian's docker-registry (the CNCF distribution registry) on loopback"

    def __init__(self, root: Path, binary: str) -> None:
        super().__init__(root)
        self.log_path = root / "docker-registry.log"
        self._process: subprocess.Popen[bytes] | None = None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "OTEL_"))}
        for _attempt in range(3):  # the free port may be taken before the registry binds it
            self.port = _free_port()
            config = root / "docker-registry.yml"
            config.write_text("\n".join([
                "version: 0.1",
                "log:",
                "  level: warn",
                "storage:",
                "  filesystem:",
                f"    rootdirectory: {root / 'storage'}",
                "http:",
                f"  addr: {self.host}",
                f"  secret: {secrets.token_hex(16)}",
                "  draintimeout: 1s",
                "",
            ]))
            with self.log_path.open("wb") as log:
                self._process = subprocess.Popen([binary, "serve", str(config)], stdout=log,
                                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                                 start_new_session=True)
            if self._wait_ready():
                return
            self.close()
        raise RuntimeError(f"docker-registry did not start: {self.log_path.read_text(errors='replace')[-500:]}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                status, _, _ = self._request("GET", "/v2/")
                if status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def _request(self, method: str, path: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def publish(self, repository: str, tag: str, version: str) -> Published:
        layout = self.layout(repository)
        descriptor = layout.add_image(tag, version, repository.rsplit("/", 1)[-1])
        digest = str(descriptor["digest"])
        manifest = layout.blob_path(digest).read_bytes()
        for blob in json.loads(manifest)["layers"] + [json.loads(manifest)["config"]]:
            self._push_blob(repository, blob["digest"], layout.blob_path(blob["digest"]).read_bytes())
        status, headers, text = self._request("PUT", f"/v2/{repository}/manifests/{tag}", manifest,
                                              {"Content-Type": OCI_MANIFEST})
        if status != 201:
            raise RuntimeError(f"pushing the manifest of {repository}:{tag}: HTTP {status} {text[:300]!r}")
        if headers.get("docker-content-digest", digest) != digest:
            raise RuntimeError(f"the registry stored {repository}:{tag} as {headers['docker-content-digest']}, "
                               f"not {digest}")
        return Published(f"{self.host}/{repository}:{tag}", digest, len(manifest))

    def _push_blob(self, repository: str, digest: str, data: bytes) -> None:
        status, _, _ = self._request("HEAD", f"/v2/{repository}/blobs/{digest}")
        if status == 200:
            return  # already there (layers are shared between versions)
        status, headers, text = self._request("POST", f"/v2/{repository}/blobs/uploads/", b"")
        if status != 202 or "location" not in headers:
            raise RuntimeError(f"starting a blob upload to {repository}: HTTP {status} {text[:300]!r}")
        location = urlsplit(headers["location"])
        query = f"{location.query}&digest={digest}" if location.query else f"digest={digest}"
        status, _, text = self._request("PUT", f"{location.path}?{query}", data,
                                        {"Content-Type": "application/octet-stream"})
        if status != 201:
            raise RuntimeError(f"uploading blob {digest[:19]} to {repository}: HTTP {status} {text[:300]!r}")

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_registry(root: Path, prefer: str = "auto") -> tuple[DemoRegistry, str]:
    """A running registry under `root`, and a note on the choice. `prefer`: auto (docker-registry
    when installed), docker-registry, or embedded."""
    if prefer not in ("auto", "docker-registry", "embedded"):
        raise ValueError(f"registry {prefer!r}: expected auto, docker-registry or embedded")
    root.mkdir(parents=True, exist_ok=True)
    binary = shutil.which("docker-registry")
    if prefer == "embedded":
        return EmbeddedRegistry(root), "asked for the embedded registry"
    if binary is None:
        if prefer == "docker-registry":
            raise RuntimeError("docker-registry is not installed (Debian package docker-registry)")
        return EmbeddedRegistry(root), "docker-registry is not installed"
    try:
        return DistributionRegistry(root, binary), f"{binary} is installed"
    except RuntimeError as err:
        if prefer == "docker-registry":
            raise
        return EmbeddedRegistry(root), f"docker-registry is installed but did not start ({err})"
