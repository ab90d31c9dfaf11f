"""The demo app: one workload (stable or canary) on 127.0.0.1, and a load generator for it.

`AppService` serves whatever version it was last told to run (by the reconciler, from the GitOps
repository): `GET /health` says which, `GET /` is the app's traffic endpoint (20–40 ms, and 500s
with the probability its `faults` give that version), `GET /metrics` is Prometheus text with the
series canary-monitor reads by default (`http_requests_total{code,track,version}` and the
`http_request_duration_seconds{track}` histogram), and `http_routed_requests_total{track,version}`:
the requests that came through the demo's router (users' traffic, not canary-monitor's probes).
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

ROUTED_HEADER = "X-Demo-Routed"  # demo.router sets it on every request it forwards
LATENCY = (0.020, 0.040)  # seconds, uniform: like a real handler, fast enough for a brisk demo
_BUCKETS = (0.005, 0.01, 0.02, 0.025, 0.03, 0.035, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5)


def _plain(version: str) -> str:
    return version[1:] if version[:1] in ("v", "V") else version


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up mid-answer (a scrape or a probe timing out) is normal traffic for a
        # service under load; socketserver would print a traceback to stderr for each one.
        pass


class AppService:
    """One workload of the demo app, listening on an ephemeral port of 127.0.0.1.

    It runs no version until `set_version` is called (then `/health` and `/` answer 503).
    """

    def __init__(self, track: str, faults: Mapping[str, float] | None = None,
                 latency: tuple[float, float] = LATENCY) -> None:
        self.track = track
        self.latency = latency
        self.faults = {_plain(v): float(p) for v, p in (faults or {}).items()}
        self._version: str | None = None
        self._lock = threading.Lock()
        self._random = random.Random(f"demo-{track}")  # noqa: S311 -- simulated faults, not cryptography
        self.metrics = CollectorRegistry(auto_describe=True)
        self._requests = Counter("http_requests", "Requests to the app's traffic endpoint, by status.",
                                 ["code", "track", "version"], registry=self.metrics)
        self._routed = Counter("http_routed_requests", "Requests to the traffic endpoint that came through the "
                               "demo's router.", ["track", "version"], registry=self.metrics)
        self._duration = Histogram("http_request_duration_seconds", "Latency of the app's traffic endpoint.",
                                   ["track"], registry=self.metrics, buckets=_BUCKETS)
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"app-{track}", daemon=True)
        self._thread.start()

    @property
    def version(self) -> str | None:
        with self._lock:
            return self._version

    def set_version(self, version: str | None) -> None:
        """Run `version` from now on (a leading v is dropped); None stops the app."""
        with self._lock:
            self._version = _plain(version) if version else None

    def _serve(self, path: str, routed: bool = False) -> tuple[int, bytes, str]:
        with self._lock:
            version = self._version
            fail = version is not None and self._random.random() < self.faults.get(version, 0.0)
            delay = self._random.uniform(*self.latency)
        if path == "/metrics":
            return 200, generate_latest(self.metrics), CONTENT_TYPE_LATEST
        if path == "/health":
            if version is None:
                return 503, json.dumps({"status": "unavailable", "version": None}).encode(), "application/json"
            return 200, json.dumps({"status": "ok", "version": version}).encode(), "application/json"
        if path != "/":
            return 404, b'{"status": "not found"}', "application/json"
        started = time.perf_counter()
        time.sleep(delay)
        status = 503 if version is None else 500 if fail else 200
        body = {"status": "ok" if status == 200 else "error", "version": version, "track": self.track}
        self._duration.labels(track=self.track).observe(time.perf_counter() - started)
        self._requests.labels(code=str(status), track=self.track, version=version or "none").inc()
        if routed:
            self._routed.labels(track=self.track, version=version or "none").inc()
        return status, json.dumps(body).encode(), "application/json"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                status, body, content_type = service._serve(self.path.split("?", 1)[0],
                                                            routed=ROUTED_HEADER in self.headers)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __repr__(self) -> str:
        return f"AppService(track={self.track!r}, url={self.url!r}, version={self.version!r})"


class Traffic:
    """Sends `rate` requests per second to each URL, in the background, until closed."""

    def __init__(self, urls: Iterable[str], rate: float) -> None:
        self.urls = list(urls)
        self.rate = rate
        self.sent = 0
        self.failed = 0  # answers other than 2xx, and no answer at all
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=4 * max(1, len(self.urls)), thread_name_prefix="traffic")
        self._threads = [threading.Thread(target=self._run, args=(url,), name=f"traffic-{i}", daemon=True)
                         for i, url in enumerate(self.urls)]
        for thread in self._threads:
            thread.start()

    def _run(self, url: str) -> None:
        period = 1.0 / self.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self._pool.submit(self._one, url)
            except RuntimeError:  # the pool is shut down
                return
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            elif delay < -1:  # fell behind (a paused machine): do not burst to catch up
                next_at = time.monotonic()

    def _one(self, url: str) -> None:
        ok = False
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 -- our own http://127.0.0.1 URLs
                response.read()
                ok = True
        except (urllib.error.URLError, OSError):
            pass
        with self._lock:
            self.sent += 1
            self.failed += not ok

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
