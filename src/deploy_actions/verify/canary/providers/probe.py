"""The probe provider: no monitoring stack, we send the requests ourselves.

Requests go to `canary-url` and `baseline-url` at `rate` per second each, on a fixed schedule
(open loop: a slow target does not slow the schedule down), and every response is recorded: its
status and its latency, into fine log-spaced buckets (10 % apart, 1 ms to 60 s). A request is an
error when its status matches `error-status` or when it gets no HTTP answer at all (refused,
reset, timed out). At most `max_in_flight` requests per target are outstanding; a send that would
exceed it is skipped and counted in `skipped`.
"""

from __future__ import annotations

import math
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from deploy_actions import untrusted
from deploy_actions.errors import InputError
from deploy_actions.verify.canary.providers import ArmCounts, LookData

USER_AGENT = "deploy-actions canary-monitor (probe)"
BUCKETS: tuple[float, ...] = tuple(0.001 * 1.1 ** i for i in range(int(math.log(60_000) / math.log(1.1)) + 2))


def validate_url(name: str, url: str) -> str:
    return untrusted.url(name, url)


@dataclass(frozen=True)
class Response:
    status: int  # 0: no HTTP answer
    seconds: float


class _Arm:
    """Counts for one target, updated from the request threads."""

    def __init__(self, url: str, error_status: re.Pattern[str]) -> None:
        self.url = url
        self.error_status = error_status
        self.lock = threading.Lock()
        self.requests = 0
        self.errors = 0
        self.counts = [0] * (len(BUCKETS) + 1)
        self.in_flight = 0
        self.skipped = 0
        self.last_problem = ""

    def record(self, response: Response, problem: str = "") -> None:
        index = _bucket(response.seconds)
        error = response.status == 0 or bool(self.error_status.fullmatch(str(response.status)))
        with self.lock:
            self.requests += 1
            self.errors += int(error)
            self.counts[index] += 1
            self.in_flight -= 1
            if problem:
                self.last_problem = problem

    def snapshot(self) -> ArmCounts:
        with self.lock:
            counts = list(self.counts)
            requests, errors = self.requests, self.errors
        cumulative: list[tuple[float, float]] = []
        running = 0
        for bound, count in zip((*BUCKETS, math.inf), counts, strict=True):
            running += count
            cumulative.append((bound, float(running)))
        return ArmCounts(float(requests), float(errors), tuple(cumulative))


def _bucket(seconds: float) -> int:
    if seconds <= BUCKETS[0]:
        return 0
    index = math.ceil(math.log(seconds / BUCKETS[0]) / math.log(1.1) - 1e-9)
    return min(index, len(BUCKETS))


def send(url: str, timeout: float) -> tuple[Response, str]:
    """One GET; the status (0 when there was no HTTP answer) and the time to the full body."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT}, method="GET")  # noqa: S310 -- http(s)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 -- validated http(s)
            while response.read(65536):
                pass
            status = response.status
        return Response(status, time.perf_counter() - started), ""
    except urllib.error.HTTPError as err:
        try:
            err.read()
        except (OSError, ValueError):
            pass
        finally:
            err.close()
        return Response(err.code, time.perf_counter() - started), ""
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        return Response(0, time.perf_counter() - started), f"{url}: {reason}"


class ProbeProvider:
    """Sends requests to both targets from `start()` until `close()`; each look is a snapshot."""

    def __init__(self, canary_url: str, baseline_url: str, *, rate: float, timeout: float = 10.0,
                 error_status: str = "5..", max_in_flight: int = 64,
                 sender: Callable[[str, float], tuple[Response, str]] = send) -> None:
        try:
            pattern = re.compile(error_status)
        except re.error as err:
            raise InputError("error-status", error_status, f"a regular expression ({err})") from None
        self.arms = {"canary": _Arm(canary_url, pattern), "baseline": _Arm(baseline_url, pattern)}
        self.rate = rate
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.sender = sender
        self.stop = threading.Event()
        workers = max(4, min(2 * max_in_flight, math.ceil(2 * rate * max(timeout, 0.1)) + 4))
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="canary-probe")
        self.scheduler: threading.Thread | None = None

    def start(self) -> None:
        self.scheduler = threading.Thread(target=self._schedule, name="canary-probe-schedule", daemon=True)
        self.scheduler.start()

    def _schedule(self) -> None:
        period = 1.0 / self.rate
        next_at = time.monotonic()
        arms = list(self.arms.values())
        while not self.stop.is_set():
            # Alternate which side goes first: a fixed order gives the second a systematic head start
            # or delay, which at millisecond latencies reads as a latency difference that is not there.
            arms.reverse()
            for arm in arms:
                with arm.lock:
                    if arm.in_flight >= self.max_in_flight:
                        arm.skipped += 1
                        continue
                    arm.in_flight += 1
                try:
                    self.pool.submit(self._one, arm)
                except RuntimeError:  # close() shut the pool down while this thread was slow to stop
                    with arm.lock:
                        arm.in_flight -= 1
                    return
            next_at += period
            delay = next_at - time.monotonic()
            if delay < -1.0:  # fell far behind (a suspended machine): do not burst to catch up
                next_at = time.monotonic()
                delay = 0.0
            if delay > 0 and self.stop.wait(delay):
                break

    def _one(self, arm: _Arm) -> None:
        response, problem = self.sender(arm.url, self.timeout)
        arm.record(response, problem)

    def look(self, now: float) -> LookData:
        problems = tuple(f"{side}: {arm.last_problem}" for side, arm in self.arms.items() if arm.last_problem)
        return LookData(self.arms["canary"].snapshot(), self.arms["baseline"].snapshot(), {}, problems)

    def history(self, start: float, end: float, step: float) -> list[tuple[float, LookData]]:
        return []

    def close(self) -> None:
        self.stop.set()
        if self.scheduler is not None:
            self.scheduler.join(timeout=5)
        self.pool.shutdown(wait=False, cancel_futures=True)  # in-flight requests end within timeout
