"""smoke-test, end to end: build the checks (inputs and/or spec file), mask what is secret, run
them against the deadline, and report (step summary, JUnit, JSON report, outputs, exit status).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from deploy_actions import actions_runtime, files
from deploy_actions.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError
from deploy_actions.outcome import Annotation, Outcome
from deploy_actions.verify.smoke import report
from deploy_actions.verify.smoke.checks import AttemptState, Check, Result
from deploy_actions.verify.smoke.inputs import SimpleForm, checks_from_inputs, version_path
from deploy_actions.verify.smoke.runner import Attempt, RunResult, RunSettings, Sender, run_checks
from deploy_actions.verify.smoke.spec_file import load_spec

MIN_MASK_LENGTH = 4  # masking "1" or "ok" would garble every later log line, JSON and summary
MAX_CONCURRENCY = 256
_MASK_LOCK = threading.Lock()  # journeys capture tokens in several threads; ::add-mask:: lines must not interleave


@dataclass(frozen=True)
class SmokeTestOptions(SimpleForm):
    """The command's options: the simple form's inputs, plus the spec file and how to run."""

    spec: str = ""
    ca_bundle: str = ""
    insecure: bool = False
    timeout: float | None = 300.0
    request_timeout: float | None = 10.0
    max_backoff: float | None = 0.8
    consecutive_successes: int | None = 1
    concurrency: int | None = 10
    fail_fast: bool = True
    junit: str = ""
    report: str = ""


@dataclass(frozen=True)
class SmokeTestResult:
    run: RunResult
    version: str | None
    expect_version: str | None
    report_path: str
    annotations: tuple[Annotation, ...]

    def outputs(self) -> dict[str, object]:
        return {
            "passed": self.run.passed,
            "failed": self.run.failed,
            "total": self.run.total,
            "ok": self.run.ok,
            "version": self.version or "",
            "report": self.report_path,
        }

    def outcome(self) -> Outcome:
        return Outcome(
            outputs=self.outputs(),
            text=report.log_text(self.run, self.version),
            summary=report.summary_markdown(self.run, self.version, actions_runtime.redact),
            annotations=self.annotations,
            exit_code=EXIT_OK if self.run.ok else EXIT_CHECK_FAILED,
        )


def mask(value: str) -> None:
    if len(value.strip()) >= MIN_MASK_LENGTH:
        with _MASK_LOCK:
            actions_runtime.mask(value)


def build_checks(opts: SmokeTestOptions, env: Mapping[str, str]) -> tuple[Check, ...]:
    """Every check, simple form first, with their secrets masked before anything can print them."""
    secrets: set[str] = set()
    try:
        checks = list(checks_from_inputs(opts, env, secrets))
        version_path(opts.version_field)
        if opts.spec:
            spec = load_spec(opts.spec, expect_version=opts.expect_version.strip() or None,
                             version_field=opts.version_field or "$.version", env=env)
            secrets |= spec.secrets
            taken = {c.name for c in checks}
            for check in spec.checks:
                if check.name in taken:
                    raise InputError("spec", opts.spec, f"check names other than the url inputs ({check.name!r})")
            checks += spec.checks
    finally:
        for secret in secrets:  # even when a later line of the spec is wrong
            mask(secret)
    if not checks:
        raise InputError("url", "", "at least one URL to check, or a spec file (input spec)")
    if opts.expect_version.strip() and not any(c.expect_version for c in checks):
        raise InputError("expect-version", opts.expect_version,
                         "a check that reads it: add `expect-version: true` to the health check of the spec")
    return tuple(checks)


def settings_of(opts: SmokeTestOptions) -> RunSettings:
    needed = 1 if opts.consecutive_successes is None else opts.consecutive_successes
    if needed < 1:
        raise InputError("consecutive-successes", needed, "a whole number, 1 or more")
    concurrency = 10 if opts.concurrency is None else opts.concurrency
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InputError("concurrency", concurrency, f"a whole number from 1 to {MAX_CONCURRENCY}")
    request_timeout = 10.0 if opts.request_timeout is None else opts.request_timeout
    if request_timeout <= 0:
        raise InputError("request-timeout", opts.request_timeout, "a duration more than 0, such as 10s")
    max_backoff = 0.8 if opts.max_backoff is None else opts.max_backoff
    if max_backoff <= 0:
        raise InputError("max-backoff", opts.max_backoff, "a duration more than 0, such as 800ms")
    return RunSettings(
        timeout=300.0 if opts.timeout is None else opts.timeout, request_timeout=request_timeout,
        consecutive_successes=needed, concurrency=concurrency, max_backoff=max_backoff,
        initial_backoff=min(0.1, max_backoff), fail_fast=opts.fail_fast,
    )


def tls_verify(opts: SmokeTestOptions) -> bool | str:
    if opts.insecure and opts.ca_bundle:
        raise InputError("insecure", "true", "either insecure or ca-bundle, not both")
    if opts.insecure:
        return False
    if opts.ca_bundle:
        path = Path(opts.ca_bundle).expanduser()
        if not path.is_file() or not os.access(path, os.R_OK):
            raise InputError("ca-bundle", opts.ca_bundle, "a readable PEM file of CA certificates")
        return str(path)
    return True


class _LiveLog:
    """Logs each check's attempts when what we see changes, so a 5-minute wait is a few lines, not 300."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log
        self._last: dict[str, tuple[AttemptState, str]] = {}
        self._lock = threading.Lock()

    def __call__(self, attempt: Attempt) -> None:
        obs = attempt.observation
        key = (obs.state, _gist(obs.detail))
        with self._lock:
            if self._last.get(attempt.check.name) == key and obs.state is not AttemptState.PASSED:
                return
            self._last[attempt.check.name] = key
        facts = ", ".join(f for f in (
            f"HTTP {obs.status}" if obs.status is not None else "",
            f"{obs.latency_ms:.0f} ms" if obs.latency_ms is not None else "",
            f"version {obs.version}" if obs.version and obs.state is AttemptState.PASSED else "") if f)
        if obs.state is AttemptState.PASSED:
            streak = f" ({attempt.streak} of {attempt.needed} in a row)" if attempt.needed > 1 else ""
            text = f"passed{streak}" + (f": {facts}" if facts else "")
        else:
            text = f"{obs.state.value}: {obs.detail}"
        self._log(f"[{attempt.check.name}] attempt {attempt.number}: {text}")


def _gist(detail: str) -> str:
    # "took 1203 ms" and "took 1187 ms" are the same news.
    return "".join("#" if ch.isdigit() else ch for ch in detail)


def smoke_test(opts: SmokeTestOptions, *, sender: Sender | None = None,
               env: Mapping[str, str] | None = None) -> SmokeTestResult:
    checks = build_checks(opts, os.environ if env is None else env)
    settings = settings_of(opts)
    verify = tls_verify(opts)
    report_path = opts.report.strip() or report.default_report_path()
    files.report_target(report_path, "report")
    if opts.junit.strip():
        files.report_target(opts.junit, "junit")
    expect_version = opts.expect_version.strip() or None
    annotations: list[Annotation] = []
    if verify is False and any(c.url.text.lower().startswith("https") for c in checks):
        annotations.append(Annotation("warning", "insecure: true: TLS certificates are not verified",
                                      title="smoke-test"))

    transport = None
    if sender is None:
        from deploy_actions.verify.smoke.transport import Transport

        transport = Transport(verify=verify, pool_size=settings.concurrency)
        sender = transport
    title = (f"smoke-test: {len(checks)} check{'s' if len(checks) != 1 else ''}, "
             f"deadline {report.duration_text(settings.timeout)}")
    try:
        with actions_runtime.group(title):
            run = run_checks(checks, sender, settings, on_attempt=_LiveLog(actions_runtime.log), on_secret=mask)
    finally:
        if transport is not None:
            transport.close()

    versions = [r.version for r, c in zip(run.results, checks, strict=True) if c.expect_version and r.version]
    version = versions[0] if versions else None
    data = report.report_data(run, version=version, expect_version=expect_version, redact=actions_runtime.redact)
    report_path = files.write_report(report_path, report.json_bytes(data), "report")
    if opts.junit.strip():
        files.write_report(opts.junit, report.junit_xml(run, actions_runtime.redact), "junit")
    for result, check in zip(run.results, checks, strict=True):
        if result.result is Result.FAILED:
            file, line = _where(check)
            annotations.append(Annotation("error", f"{result.name}: {report.explain(result, run.deadline_seconds)}",
                                          file=file, line=line, title="smoke-test"))
    return SmokeTestResult(run, version, expect_version, report_path, tuple(annotations))


def _where(check: Check) -> tuple[str | None, int | None]:
    path, _, line = check.where.rpartition(":")
    if path and line.isdigit() and not check.where.startswith("input "):
        return path, int(line)
    return None, None
