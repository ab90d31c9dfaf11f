"""`deploy-actions smoke-test`: verify a deploy: health, version and journeys, against a deadline."""

from __future__ import annotations

from typing import Any

from deploy_actions.commands.spec import CommandSpec, Option, Output
from deploy_actions.outcome import Outcome

SPEC = CommandSpec(
    name="smoke-test",
    description="Check a service right after a deploy: wait out the rollout (retrying what is not ready "
                "yet, failing fast on what is broken), confirm it runs the version just shipped, run "
                "journeys, and report a table, JUnit XML and JSON.",
    run="deploy_actions.commands.smoke_test:run",
    options=(
        Option("url", "URLs to check, one per line: http(s)://host/path, or unix:///run/app/daemon.sock:/health "
               "for HTTP over a unix socket.", "", kind="lines"),
        Option("method", "HTTP method of the url checks.", "GET"),
        Option("headers", "Request headers of the url checks, one `Name: value` per line; ${env.NAME} reads an "
               "environment variable. Authorization, Cookie and other secret-looking header values are masked.",
               "", kind="lines"),
        Option("body", "Request body of the url checks (sent as application/json when it is JSON).", ""),
        Option("expect-status", "Accepted status codes, e.g. 200, 200,204 or 2xx.", "200"),
        Option("expect-body-contains", "Text the body must contain, one per line.", "", kind="lines"),
        Option("expect-json", "Assertions on the JSON body, one `JSONPath = value` per line, e.g. "
               "$.status = ok (the value is JSON when it parses as JSON, else text).", "", kind="lines"),
        Option("max-latency-ms", "Slowest acceptable response, in milliseconds; slower counts as not ready yet.",
               "", kind="int"),
        Option("spec", "A smoke spec file (YAML): named checks with the same fields, plus journeys that "
               "capture values (e.g. a token) for later steps.", "", kind="path"),
        Option("expect-version", "The version just deployed, e.g. 1.2.3 or v1.2.3; every url check (and spec "
               "checks with expect-version: true) must report it. Another version counts as not ready yet.",
               ""),
        Option("version-field", "JSONPath of the version in the response, e.g. $.version or $.build.version.",
               "$.version"),
        Option("ca-bundle", "PEM file of the CA certificates to trust for HTTPS.", "", kind="path"),
        Option("insecure", "Do not verify TLS certificates (must be explicit; prefer ca-bundle).", "false",
               kind="bool"),
        Option("timeout", "Overall deadline for every check to pass, e.g. 5m or 90s.", "5m", kind="duration",
               maximum=6 * 3600),
        Option("request-timeout", "Longest wait for one response, e.g. 10s.", "10s", kind="duration",
               maximum=600),
        Option("max-backoff", "Longest wait between attempts of a check that is not ready (exponential backoff "
               "with jitter up to this, so also how late at most we notice it is ready); also the spacing of "
               "consecutive successes.", "800ms", kind="duration", maximum=600),
        Option("consecutive-successes", "Passes in a row each check needs, so a flapping endpoint cannot pass "
               "by luck.", "1", kind="int", maximum=100),
        Option("concurrency", "How many checks (or journeys) run at once; journey steps always run in order.",
               "10", kind="int", maximum=256),
        Option("fail-fast", "Stop the other checks as soon as one fails definitely.", "true", kind="bool"),
        Option("junit", "Write JUnit XML here, for test reporters.", "", kind="path"),
        Option("report", "Write the JSON report here (default: a file in $RUNNER_TEMP).", "", kind="path"),
    ),
    outputs=(
        Output("passed", "How many checks passed."),
        Output("failed", "How many checks did not pass (including journey steps skipped after a failure)."),
        Output("total", "How many checks ran."),
        Output("ok", "true when every check passed."),
        Output("version", "The version the service reported (from expect-version checks)."),
        Output("report", "Path of the JSON report."),
    ),
)


def run(options: dict[str, Any]) -> Outcome:
    from deploy_actions.verify.smoke.smoke_test import SmokeTestOptions, smoke_test

    return smoke_test(SmokeTestOptions(**options)).outcome()
