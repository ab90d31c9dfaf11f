"""Debian's `prometheus` on loopback: it scrapes the demo's services, and canary-monitor reads it as it
would read a team's Prometheus. The tests' Prometheus (tests/plugins/prometheus.py) is this one too.

    prometheus = start_prometheus(work / "prometheus", {"cart": [cart_service.port]})
    prometheus = start_prometheus(root, {"app": [(port, {"track": "canary"})]})  # a target with labels
    prometheus.wait_ready()
    prometheus.query('sum(rate(http_requests_total{job="cart"}[5s]))')
    prometheus.close()
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

READY_TIMEOUT = 30.0
Target = int | tuple[int, Mapping[str, str]]  # a loopback port, or a port and the labels its series get


class PrometheusError(Exception):
    """Prometheus is not installed, or did not start (its log's end is in the message)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    targets: int

    def wait_ready(self) -> None:
        """Until every target is up; PrometheusError (with the log's end) when it exits or takes too long."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PrometheusError(f"prometheus exited with {self.process.returncode}: "
                                      f"{self.log_path.read_text(errors='replace')[-1000:]}")
            try:
                if len(self.query("up == 1")) == self.targets:
                    return
            except (urllib.error.URLError, OSError, KeyError, ValueError):
                pass
            time.sleep(0.25)
        raise PrometheusError(f"prometheus was not ready within {READY_TIMEOUT:g}s: "
                              f"{self.log_path.read_text(errors='replace')[-1000:]}")

    def query(self, promql: str, at: float | None = None) -> list[dict[str, object]]:
        """An instant query's result (the `data.result` list of Prometheus' HTTP API), now or `at`."""
        body = urllib.parse.urlencode({"query": promql, **({"time": f"{at:.3f}"} if at is not None else {})}).encode()
        with urllib.request.urlopen(self.url + "/api/v1/query", data=body, timeout=5) as answer:  # noqa: S310 -- our own loopback Prometheus
            return list(json.loads(answer.read())["data"]["result"])

    def value(self, promql: str) -> float | None:
        """The one number an instant query answers, None when it answers no series."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None  # type: ignore[index]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_prometheus(root: Path, jobs: Mapping[str, Sequence[Target]], interval: float = 1.0) -> Prometheus:
    """Prometheus scraping each job's loopback targets every `interval` seconds; returned at once, while
    it boots (`wait_ready` waits until every target is up)."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise PrometheusError("`prometheus` is not installed (Debian package prometheus; `make system` installs it)")
    root.mkdir(parents=True, exist_ok=True)
    every = f"{round(interval * 1000)}ms"
    config = {"global": {"scrape_interval": every, "evaluation_interval": "1s"}, "scrape_configs": [
        {"job_name": job, "scrape_timeout": every, "static_configs": [
            {"targets": [f"127.0.0.1:{port}"], **({"labels": dict(labels)} if labels else {})}
            for port, labels in (t if isinstance(t, tuple) else (t, {}) for t in targets)]}
        for job, targets in jobs.items()]}
    (root / "prometheus.yml").write_text(json.dumps(config, indent=2) + "\n")  # JSON is YAML: labels quoted
    port = _free_port()
    log_path = root / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [binary, f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return Prometheus(f"http://127.0.0.1:{port}", process, log_path, sum(len(targets) for targets in jobs.values()))
