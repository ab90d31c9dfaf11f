"""Running checks against time: one overall deadline, exponential backoff with jitter while a
check is not ready, a streak of passes before a check counts as passed, a bounded number of
checks at once, and journeys whose steps run in order and hand captured values forward.

The runner owns time and order only; whether an attempt passed is `checks.evaluate`'s call,
and how a request travels is the `Sender`'s.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from deploy_actions.verify.smoke.checks import (
    AttemptState,
    Check,
    CheckResult,
    Ending,
    Observation,
    RenderError,
    Request,
    Response,
    Result,
    TransportFailure,
    build_request,
    evaluate,
)

MIN_ATTEMPT_WINDOW = 0.05  # seconds; less than this before the deadline is not worth an attempt


class Sender(Protocol):
    def send(self, request: Request, timeout: float) -> Response | TransportFailure: ...


@dataclass(frozen=True)
class RunSettings:
    timeout: float = 300.0  # the overall deadline, in seconds; 0 means one attempt per check
    request_timeout: float = 10.0
    consecutive_successes: int = 1
    concurrency: int = 10
    initial_backoff: float = 0.1
    max_backoff: float = 0.8  # bounds how late a check notices readiness
    fail_fast: bool = True  # a definite failure stops the other checks


@dataclass(frozen=True)
class Attempt:
    """What the runner tells its observer after each attempt."""

    check: Check
    number: int
    observation: Observation
    streak: int
    needed: int


@dataclass(frozen=True)
class RunResult:
    results: tuple[CheckResult, ...]
    seconds: float
    deadline_seconds: float

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        return self.total - self.passed

    @property
    def ok(self) -> bool:
        return self.total > 0 and self.failed == 0


def backoff(step: int, initial: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": between half and all of min(cap, initial·2^step).
    The floor keeps a not-ready service from being hammered; the cap bounds how late we notice it is ready."""
    ceiling: float = min(cap, initial * (2.0 ** min(step, 30)))
    return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


@dataclass
class _Run:
    settings: RunSettings
    sender: Sender
    deadline: float
    on_attempt: Callable[[Attempt], None] | None
    on_secret: Callable[[str], None] | None
    clock: Callable[[], float]
    rng: random.Random
    stop: threading.Event = field(default_factory=threading.Event)
    stopped_by: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def jitter(self, step: int, cap: float) -> float:
        with self.lock:  # random.Random is not safe to share between threads without one
            return backoff(step, min(self.settings.initial_backoff, cap), cap, self.rng)

    def halt(self, name: str) -> None:
        with self.lock:
            if not self.stopped_by:
                self.stopped_by.append(name)
        if self.settings.fail_fast:
            self.stop.set()

    def check(self, check: Check, captures: dict[str, str]) -> tuple[CheckResult, dict[str, str]]:
        settings = self.settings
        needed = check.consecutive_successes or settings.consecutive_successes
        started = self.clock()
        attempts = streak = best = 0
        passed_before = False
        step = 0
        last: Observation | None = None
        last_response: Observation | None = None  # the last attempt that got an HTTP status
        cut_short = False  # the last attempt had less than request-timeout: the deadline cut it
        version: str | None = None

        def telling() -> Observation | None:
            """What the deadline reports: the last attempt, unless the deadline itself cut it short
            without an answer; then the last answer says more (e.g. which version was running)."""
            if cut_short and last is not None and last.status is None and last_response is not None:
                return last_response
            return last

        def result(res: Result, ending: Ending, detail: str = "") -> CheckResult:
            seen = last_response or last
            return CheckResult(
                name=check.name, method=check.method, url=check.display_url, result=res, ending=ending,
                attempts=attempts, detail=detail, last_status=seen.status if seen else None,
                latency_ms=seen.latency_ms if seen else None, version=version, streak=streak, needed=needed,
                journey=check.journey, seconds=self.clock() - started,
            )

        while True:
            if self.stop.is_set():
                return result(Result.SKIPPED, Ending.STOPPED, self._stopped_detail(last)), {}
            remaining = self.deadline - self.clock()
            if attempts and remaining < MIN_ATTEMPT_WINDOW:
                return result(Result.FAILED, Ending.DEADLINE, self._deadline_detail(telling(), best, needed)), {}
            timeout = settings.request_timeout if remaining <= 0 else min(settings.request_timeout, remaining)
            cut_short = timeout < settings.request_timeout
            try:
                reply = self.sender.send(build_request(check, captures), timeout)
            except RenderError as exc:
                reply = TransportFailure("invalid", str(exc))
            attempts += 1
            observation = evaluate(check, reply, passed_before=passed_before)
            last = observation
            if observation.status is not None:
                last_response = observation
            if observation.version is not None:
                version = observation.version
            if observation.state is AttemptState.PASSED:
                streak += 1
                best = max(best, streak)
                passed_before = True
                step = 0
                secret_names = {c.name for c in check.captures if c.secret}
                for name, value in observation.captures:
                    if name in secret_names and self.on_secret is not None:
                        self.on_secret(value)  # before anything can print it
            else:
                streak = 0
            if self.on_attempt is not None:
                self.on_attempt(Attempt(check, attempts, observation, streak, needed))
            if observation.state is AttemptState.FAILED:
                self.halt(check.name)
                return result(Result.FAILED, Ending.DEFINITE, observation.detail), {}
            if observation.state is AttemptState.PASSED and streak >= needed:
                return result(Result.PASSED, Ending.PASSED), dict(observation.captures)
            if observation.state is AttemptState.PASSED:
                wait = self.jitter(30, settings.max_backoff)  # confirmations, spaced by the cap
            else:
                wait = self.jitter(step, settings.max_backoff)
                step += 1
            remaining = self.deadline - self.clock()
            if remaining < MIN_ATTEMPT_WINDOW:
                return result(Result.FAILED, Ending.DEADLINE, self._deadline_detail(telling(), best, needed)), {}
            if self.stop.wait(min(wait, remaining)):
                return result(Result.SKIPPED, Ending.STOPPED, self._stopped_detail(last)), {}

    def _deadline_detail(self, last: Observation | None, best: int, needed: int) -> str:
        cause = last.detail if last and last.state is not AttemptState.PASSED else ""
        if needed > 1 and best > 0:
            streak = f"passed at most {best} time{'s' if best != 1 else ''} in a row of the {needed} needed"
            cause = f"{cause}; {streak}" if cause else streak
        return cause or "no attempt completed before the deadline"

    def _stopped_detail(self, last: Observation | None) -> str:
        who = self.stopped_by[0] if self.stopped_by else "another check"
        seen = f"; last attempt: {last.detail or last.state.value}" if last else ""
        return f"stopped: {who!r} failed{seen}"

    def unit(self, checks: Sequence[Check]) -> list[CheckResult]:
        """A standalone check, or a journey's steps in order, each step seeing earlier captures."""
        captures: dict[str, str] = {}
        results: list[CheckResult] = []
        failed: str | None = None
        for check in checks:
            if failed is not None:
                results.append(CheckResult(
                    name=check.name, method=check.method, url=check.display_url, result=Result.SKIPPED,
                    ending=Ending.SKIPPED, attempts=0, detail=f"skipped: earlier step {failed!r} did not pass",
                    needed=check.consecutive_successes or self.settings.consecutive_successes,
                    journey=check.journey))
                continue
            outcome, captured = self.check(check, captures)
            results.append(outcome)
            if outcome.passed:
                captures.update(captured)
            else:
                failed = check.name
        return results


def units_of(checks: Sequence[Check]) -> list[list[Check]]:
    """Standalone checks one by one; each journey as one unit, in the order its steps were written."""
    units: list[list[Check]] = []
    journeys: dict[str, list[Check]] = {}
    for check in checks:
        if check.journey is None:
            units.append([check])
        elif check.journey in journeys:
            journeys[check.journey].append(check)
        else:
            journeys[check.journey] = [check]
            units.append(journeys[check.journey])
    return units


def run_checks(
    checks: Sequence[Check],
    sender: Sender,
    settings: RunSettings,
    *,
    on_attempt: Callable[[Attempt], None] | None = None,
    on_secret: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> RunResult:
    """Run every check until it passes, fails definitely, or the deadline passes. Results come
    back in the order the checks were given."""
    started = clock()
    run = _Run(settings, sender, started + settings.timeout, on_attempt, on_secret, clock,
               rng or random.Random())  # noqa: S311 -- jitter, not cryptography
    units = units_of(checks)
    workers = max(1, min(settings.concurrency, len(units)))
    by_name: dict[str, CheckResult] = {}
    if workers == 1:
        for unit in units:
            for outcome in run.unit(unit):
                by_name[outcome.name] = outcome
    else:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smoke")
        try:
            for outcomes in pool.map(run.unit, units):
                for outcome in outcomes:
                    by_name[outcome.name] = outcome
        except BaseException:
            run.stop.set()  # a cancelled run (Ctrl-C, SIGTERM) must not wait for the deadline
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return RunResult(tuple(by_name[c.name] for c in checks), clock() - started, settings.timeout)
