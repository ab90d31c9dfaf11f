"""A stand-in traffic router for the demo and the end-to-end tests: Debian's nginx, configured from
what the GitOps repository's routing resources say, and reloaded on every commit.

It is NOT a Gateway API, Istio or NGINX Ingress controller. It does the one thing they do that the
demo needs: it sends each request to a backend in proportion to the weights an HTTPRoute (or any
split gitops.routing reads) gives, or, for blue/green, to the slot a Service's selector names. It
reads them with the project's own routing shapes, so what it routes is what `traffic` wrote.

    router = Router({"shop": "127.0.0.1:8001", "shop-canary": "127.0.0.1:8002"}, needle="shop")
    router.start()
    router.apply(checkout)          # after each reconciled commit
    router.url                      # http://127.0.0.1:<port>
    router.stop()
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from demo.service import ROUTED_HEADER
from deploy_actions.gitops.routing import routed


class RouterError(Exception):
    """nginx could not start or reload (its own words are in the message)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Router:
    """nginx on 127.0.0.1:`port`, sending traffic to `backends` (backend or slot name → host:port)."""

    def __init__(self, backends: Mapping[str, str], *, needle: str, scope: Sequence[str] = (),
                 slots: Sequence[str] = ("blue", "green"), service: str = "", nginx: str = "nginx") -> None:
        self.backends = dict(backends)
        self.service = service  # blue/green: the Service whose selector this router follows (default: the first)
        self.needle = needle
        self.scope = list(scope)
        self.slots = tuple(slots)
        self.nginx = shutil.which(nginx) or nginx
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.weights: dict[str, int] = {}
        self.revision = 0
        self._prefix = Path(tempfile.mkdtemp(prefix="demo-router-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    def start(self, weights: Mapping[str, int] | None = None) -> None:
        """Start nginx, at first sending everything to the first backend (or `weights`)."""
        first = next(iter(self.backends))
        self._write(dict(weights) if weights else {first: 1})
        self._log = (self._prefix / "stderr.log").open("wb")
        self._proc = subprocess.Popen(
            [self.nginx, "-p", str(self._prefix), "-c", str(self._prefix / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=self._log)
        self._wait_for(self.revision)

    def apply(self, root: Path) -> dict[str, int]:
        """Configure from the checkout at `root`: the weights of the first split of known backends,
        else the slot the slot-selecting Service names (`service`, or the first). Reloads only when
        they changed."""
        splits, selectors = routed(root, self.scope, self.needle, self.slots)
        weights: dict[str, int] = {}
        for split in splits:
            known = {b.names[0]: b.weight for b in split.backends if b.names[0] in self.backends}
            if len(known) >= 2:
                weights = known
                break
        selector = next((s for s in selectors if s.service == self.service or not self.service), None)
        if not weights and selector is not None:
            weights = {selector.value: 1} if selector.value in self.backends else {}
        if weights and weights != self.weights:
            self._write(weights)
            self._reload()
        return dict(self.weights)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
            self._proc = None
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self._prefix, ignore_errors=True)

    def __enter__(self) -> Router:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- nginx ----------------------------------------------------------------------------------

    def _write(self, weights: Mapping[str, int]) -> None:
        servers = [f"        server {self.backends[name]} weight={weight};" for name, weight in weights.items()
                   if weight > 0 and name in self.backends]
        if not servers:  # every weight 0: nothing to send to, as a router with no backend answers 503
            servers = ["        server 127.0.0.1:9 down;"]
        self.revision += 1
        self.weights = dict(weights)
        (self._prefix / "logs").mkdir(exist_ok=True)
        (self._prefix / "nginx.conf").write_text(f"""\
# rendered by demo.router, revision {self.revision}: {dict(weights)}
worker_processes 1;
pid {self._prefix}/nginx.pid;
error_log {self._prefix}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {self._prefix}/body;
    proxy_temp_path {self._prefix}/proxy;
    fastcgi_temp_path {self._prefix}/fastcgi;
    uwsgi_temp_path {self._prefix}/uwsgi;
    scgi_temp_path {self._prefix}/scgi;
    upstream app {{
{chr(10).join(servers)}
    }}
    server {{
        listen 127.0.0.1:{self.port};
        location = /_router {{ return 200 "{self.revision}"; }}
        location / {{ proxy_pass http://app; proxy_next_upstream off; proxy_set_header {ROUTED_HEADER} 1; }}
    }}
}}
""")

    def _reload(self) -> None:
        if self._proc is None:
            raise RouterError("the router is not running")
        old = self._workers()
        self._proc.send_signal(signal.SIGHUP)
        self._wait_for(self.revision)
        # The old workers finish their requests and exit; until then one may still take a connection.
        deadline = time.monotonic() + 10
        while old & self._workers() and time.monotonic() < deadline:
            time.sleep(0.02)

    def _workers(self) -> set[int]:
        """nginx's worker processes now (the master's children)."""
        assert self._proc is not None
        try:
            text = Path(f"/proc/{self._proc.pid}/task/{self._proc.pid}/children").read_text()
        except OSError:
            return set()
        return {int(pid) for pid in text.split()}

    def _wait_for(self, revision: int, timeout: float = 10.0) -> None:
        """Until nginx answers with `revision` (a reload takes effect when new workers start)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                err = (self._prefix / "stderr.log").read_text(errors="replace")
                raise RouterError(f"nginx exited ({self._proc.returncode}): {err.strip()[-500:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/_router", timeout=1) as answer:  # noqa: S310 -- our own loopback URL
                    if answer.read().decode() == str(revision):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RouterError(f"nginx did not load revision {revision} within {timeout:g}s")
