"""Bare repositories served over smart HTTP by `git http-backend`, behind token auth.

The server accepts `Authorization: Basic base64(x-access-token:<token>)` (what GitHub accepts
for a GITHUB_TOKEN) and answers 401 otherwise. It records every request line and header so a
test can prove the token travelled only in the Authorization header.
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

EXEC_PATH = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
BACKEND = f"{EXEC_PATH}/git-http-backend"


@dataclass
class GitHttpServer:
    root: Path
    token: str
    port: int = 0
    requests: list[str] = field(default_factory=list)  # request lines (paths and queries)
    header_dump: list[str] = field(default_factory=list)  # every header except Authorization
    fail_pushes: int = 0  # answer this many pushes (receive-pack POSTs) with 503, as a busy server may

    def url(self, repo: str) -> str:
        return f"http://127.0.0.1:{self.port}/{repo}"


def _handler(server: GitHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _serve(self) -> None:
            server.requests.append(f"{self.command} {self.path}")
            server.header_dump.extend(f"{k}: {v}" for k, v in self.headers.items() if k.lower() != "authorization")
            expected = "Basic " + base64.b64encode(f"x-access-token:{server.token}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.end_headers()
                return
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.command == "POST" and parts.path.endswith("/git-receive-pack") and server.fail_pushes > 0:
                server.fail_pushes -= 1
                self.send_response(503)
                self.end_headers()
                return
            env = {
                "GIT_PROJECT_ROOT": str(server.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": parts.path,
                "QUERY_STRING": parts.query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": "x-access-token",
                "REMOTE_ADDR": "127.0.0.1",
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            }
            proc = subprocess.run([BACKEND], input=body, env=env, capture_output=True, check=False)
            head, _, payload = proc.stdout.partition(b"\r\n\r\n")
            status = 200
            headers = []
            for line in head.decode("latin-1").split("\r\n"):
                if not line:
                    continue
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.strip().split()[0])
                else:
                    headers.append((key, value.strip()))
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve

    return Handler


class _Server(ThreadingHTTPServer):
    # A hundred clients connect at once in the fleet tests; the default backlog of 5 would make the
    # kernel drop their connections and the clients wait seconds to retry, which no hosting does.
    request_queue_size = 256


@contextlib.contextmanager
def serve(root: Path, token: str = "ghs_" + "T0k3n" * 7) -> Iterator[GitHttpServer]:
    """The server over the bare repositories in `root`, until the block ends (benchmarks use it too)."""
    state = GitHttpServer(root=root, token=token)
    httpd = _Server(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def git_http(tmp_path: Path) -> Iterator[GitHttpServer]:
    """An authenticated smart-HTTP git server over the bare repositories in a temp folder."""
    root = tmp_path / "served"
    root.mkdir()
    with serve(root) as state:
        yield state
