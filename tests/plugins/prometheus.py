"""Real Prometheus (Debian's `prometheus`) scraping a small instrumented test service.

Fixtures:

- `canary_lab` (session): a Prometheus on a free loopback port, 1 s scrape interval, scraping
  several instances of the demo's `AppService` (prometheus-client: `http_requests_total{code}`
  and the `http_request_duration_seconds` histogram), each running version "1" and labelled
  `group` and `track` by the scrape configuration:

  | group | canary | baseline |
  | --- | --- | --- |
  | healthy | 0 % errors, 10 ms | 0 % errors, 10 ms |
  | bad | 40 % errors, 60 ms | 0 % errors, 10 ms |
  | idle | no traffic at all | 0 % errors, 10 ms |

  A background thread sends `TRAFFIC_RPS` requests per second to every instance except the idle
  canary. `canary_lab.selector(group, track)` gives the PromQL label matchers,
  `canary_lab.url_of(group, track)` the instance's URL (for probe mode), and
  `canary_lab.wait_for_history(seconds)` waits until Prometheus holds that much traffic.
  If Prometheus cannot start, the test fails with its log: it is never skipped.
- `fake_prometheus` (function): a scripted stand-in for the HTTP API that answers every query
  with one `mode`: ok, nan, empty, error-status, http-500, http-503, bad-data, unauthorized, garbage
  or hang. In `ok` mode a range selector (`metric[60s]`) answers raw samples every 5 s of a counter
  growing by one a second, and `.script` (query, time → series and their samples) can answer
  instead. `.calls` counts the requests it received.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from demo.prometheus import Prometheus, PrometheusError, start_prometheus

if TYPE_CHECKING:
    from demo.service import AppService, Traffic

TRAFFIC_RPS = 25.0

# group -> track -> (error rate, latency range in seconds); every service runs version "1".
GROUPS: dict[str, dict[str, tuple[float, tuple[float, float]]]] = {
    "healthy": {"canary": (0.0, (0.005, 0.015)), "baseline": (0.0, (0.005, 0.015))},
    "bad": {"canary": (0.40, (0.050, 0.070)), "baseline": (0.0, (0.005, 0.015))},
    "idle": {"canary": (0.0, (0.005, 0.015)), "baseline": (0.0, (0.005, 0.015))},
}


def launch_prometheus(root: Path, job: str, targets: Sequence[tuple[int, Mapping[str, str]]]) -> Prometheus:
    """The demo's Prometheus scraping `targets` as `job` every second, once every target is up; fails
    the test (never skips it) with Prometheus' log when it cannot start."""
    try:
        prometheus = start_prometheus(root, {job: targets})
    except PrometheusError as err:
        pytest.fail(str(err), pytrace=False)
    try:
        prometheus.wait_ready()
    except PrometheusError as err:
        prometheus.close()
        pytest.fail(str(err), pytrace=False)
    return prometheus


@dataclass
class CanaryLab:
    prometheus: Prometheus
    services: dict[tuple[str, str], AppService]
    traffic: Traffic
    closed: bool = False

    @property
    def url(self) -> str:
        return self.prometheus.url

    @property
    def log_path(self) -> Path:
        return self.prometheus.log_path

    def selector(self, group: str, track: str) -> str:
        return f'job="demo",group="{group}",track="{track}"'

    def url_of(self, group: str, track: str) -> str:
        return self.services[(group, track)].url + "/"

    def query(self, promql: str) -> list[dict[str, object]]:
        return self.prometheus.query(promql)

    def wait_for_history(self, seconds: float, timeout: float = 60.0) -> None:
        """Wait until Prometheus holds `seconds` of traffic for every busy instance."""
        deadline = time.monotonic() + timeout
        query = (f'min(count_over_time(http_requests_total{{job="demo",code="200"}}[{int(seconds) + 5}s]))')
        while time.monotonic() < deadline:
            try:
                result = self.query(query)
                if result and float(result[0]["value"][1]) >= seconds:  # type: ignore[index]
                    return
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(0.5)
        pytest.fail(f"Prometheus did not collect {seconds:g}s of samples within {timeout:g}s; log: "
                    f"{self.log_path.read_text(errors='replace')[-2000:]}", pytrace=False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.traffic.close()
        self.prometheus.close()
        for service in self.services.values():
            service.close()


def start_lab(root: Path) -> CanaryLab:
    try:
        from demo.service import AppService, Traffic
    except ImportError as err:
        pytest.fail(f"the demo's service needs prometheus-client (pip install prometheus-client): {err}",
                    pytrace=False)
    services = {}
    for group, tracks in GROUPS.items():
        for track, (error_rate, latency) in tracks.items():
            service = AppService(track, faults={"1": error_rate}, latency=latency)
            service.set_version("1")
            services[(group, track)] = service
    busy = [s.url + "/" for (group, track), s in services.items() if not (group == "idle" and track == "canary")]
    traffic = Traffic(busy, TRAFFIC_RPS)
    try:
        prometheus = launch_prometheus(root, "demo", [(service.port, {"group": group, "track": track})
                                                      for (group, track), service in services.items()])
    except BaseException:
        traffic.close()
        for service in services.values():
            service.close()
        raise
    return CanaryLab(prometheus, services, traffic)


class _Warmup:
    """Starts the lab in the background as soon as collection shows a test will need it, so that
    Prometheus boots and gathers history while other tests run."""

    def __init__(self, root: Path) -> None:
        self.lab: CanaryLab | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._start, args=(root,), name="canary-lab-warmup", daemon=True)
        self.thread.start()

    def _start(self, root: Path) -> None:
        try:
            self.lab = start_lab(root)
        except BaseException as err:  # noqa: BLE001 -- pytest.fail raises a BaseException; re-raised in the fixture
            self.error = err

    def result(self) -> CanaryLab:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.lab is not None
        return self.lab

    def close(self) -> None:
        """At the end of the session, whether or not a test used the lab (under xdist, a worker
        may warm one up and be given none of its tests)."""
        self.thread.join()
        if self.lab is not None:
            self.lab.close()
            shutil.rmtree(self.lab.log_path.parent, ignore_errors=True)


_WARMUP_KEY = pytest.StashKey[_Warmup]()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if any("canary_lab" in getattr(item, "fixturenames", ()) for item in items):
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="canary-lab-"))
        warmup = config.stash[_WARMUP_KEY] = _Warmup(root)
        config.add_cleanup(warmup.close)


@pytest.fixture(scope="session")
def canary_lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CanaryLab]:
    warmup = request.config.stash.get(_WARMUP_KEY, None)
    lab = warmup.result() if warmup is not None else start_lab(tmp_path_factory.mktemp("prometheus"))
    try:
        yield lab
    finally:
        if warmup is None:  # a warmed-up lab is closed by the config's cleanup
            lab.close()


# -- a scripted stand-in for failure modes ---------------------------------------------------------

SCRAPE = 5  # seconds between the fake's samples
FAKE_MODES = ("ok", "nan", "empty", "error-status", "http-500", "http-503", "bad-data", "unauthorized", "garbage",
              "hang")


class PrometheusDown(Exception):
    """Raised by a `FakePrometheus.script` to answer one query with HTTP 503."""


class FakePrometheus:
    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.calls = 0
        self.requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        self.value = 1.0
        # In ok mode, when set: (query, time) -> [(labels, [(time, value), ...])] answers every query;
        # raising PrometheusDown makes that one answer an HTTP 503.
        self.script: Callable[[str, float], list[tuple[dict[str, str], list[tuple[float, float]]]]] | None = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="fake-prometheus", daemon=True)
        self.thread.start()

    def _answer_ok(self, path: str, params: dict[str, list[str]], value: str) -> dict[str, object]:
        query = params.get("query", [""])[0]
        if self.script is not None:
            at = float(params.get("time", [str(time.time())])[0])
            series = self.script(query, at)
            return {"status": "success", "data": {"resultType": "matrix", "result": [
                {"metric": labels, "values": [[when, f"{v:.17g}"] for when, v in samples]}
                for labels, samples in series]}}
        labels = {"code": "200"} if "_bucket" not in query else {"le": "+Inf"}
        window = re.search(r"\[(\d+)s\]$", query)
        if window and not path.endswith("query_range"):
            # A range selector: raw samples every SCRAPE seconds, a counter growing by one a second.
            at = float(params.get("time", [str(time.time())])[0])
            first = math.ceil((at - int(window[1])) / SCRAPE) * SCRAPE
            values = [[t, value if value == "NaN" else str(t - 1_799_000_000)]
                      for t in range(int(first), int(at) + 1, SCRAPE)]
            return {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": labels,
                                                                                      "values": values}]}}
        if path.endswith("query_range"):
            start, end, step = (float(params[k][0]) for k in ("start", "end", "step"))
            count = math.floor((end - start) / step + 1e-9) + 1
            values = [[round(start + i * step, 3), value if value == "NaN" else f"{float(value) + 10 * i:g}"]
                      for i in range(count)]
            return {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": labels,
                                                                                      "values": values}]}}
        return {"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": labels, "value": [time.time(), value]}]}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                params = urllib.parse.parse_qs(self.rfile.read(length).decode())
                fake.calls += 1
                fake.requests.append((self.path, params, dict(self.headers.items())))
                mode = fake.mode
                if mode == "hang":
                    time.sleep(3)
                    mode = "http-503"
                if mode == "ok":
                    fake.value += 10.0
                    try:
                        answer = fake._answer_ok(self.path, params, f"{fake.value:g}")
                    except PrometheusDown:
                        self._raw(503, b"Service Unavailable", "text/plain")
                        return
                    self._json(200, answer)
                elif mode == "nan":
                    self._json(200, fake._answer_ok(self.path, params, "NaN"))
                elif mode == "empty":
                    result_type = "matrix" if self.path.endswith("query_range") else "vector"
                    self._json(200, {"status": "success", "data": {"resultType": result_type, "result": []}})
                elif mode == "error-status":
                    self._json(422, {"status": "error", "errorType": "execution", "error": "query timed out"})
                elif mode == "http-500":
                    self._json(500, {"status": "error", "errorType": "internal", "error": "boom"})
                elif mode == "http-503":
                    self._raw(503, b"Service Unavailable", "text/plain")
                elif mode == "bad-data":
                    self._json(400, {"status": "error", "errorType": "bad_data",
                                     "error": "1:20: parse error: unexpected character"})
                elif mode == "unauthorized":
                    self._raw(401, b"Unauthorized", "text/plain")
                else:
                    self._raw(200, b"<html>a login page</html>", "text/html")

            def _json(self, status: int, doc: dict[str, object]) -> None:
                self._raw(status, json.dumps(doc).encode(), "application/json")

            def _raw(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_prometheus() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()
    try:
        yield fake
    finally:
        fake.close()

