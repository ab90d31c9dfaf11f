"""The whole flow, proven by running it: two caller repositories run the starter workflows from
`workflows/` under act, and those call `org/deploy-actions/.github/workflows/*.yml@v1` exactly as
users write them.

- The code repository (`org/app`) releases with `workflows/release.yml` (its release job: the
  publish job builds a container, which act's host mode cannot; the test pushes the image to the
  real registry in its place), then deploys each tag to staging with `workflows/deploy.yml`:
  gate (with the whole pre-deploy checklist), canary bump, smoke test, canary analysis on real
  Prometheus data, promote or roll back, records.
- The GitOps repository (`org/gitops`, served over authenticated smart HTTP as GitHub would,
  through GITHUB_SERVER_URL) promotes staging to production with `workflows/gitops-promote.yml`.
- The demo's reconciler stands in for Flux: it watches the GitOps repository and runs each
  workload (staging, staging-canary, production) at the version pinned there; a release whose
  version is listed in FAULTS answers a quarter of its requests with 500s.
- The GitHub API is the fake validated against GitHub's OpenAPI description; it keeps the
  deployments and their statuses.

One story, in order: v1.3.0 is released, deployed as a canary, judged healthy and promoted;
v1.3.1 is released, judged bad and rolled back by a forward commit with an incident record;
then staging (still v1.3.0) is promoted to production.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from demo.prometheus import Prometheus
from demo.reconciler import Reconciler
from demo.service import AppService, Traffic
from deploy_actions import gates
from tests.fakes.github_api import GitHubAPIFake
from tests.plugins.act import REPO_ROOT, Act, ActRun
from tests.plugins.git_http import GitHttpServer
from tests.plugins.git_repos import run_git
from tests.plugins.prometheus import launch_prometheus
from tests.plugins.registry import Registry

pytestmark = pytest.mark.e2e

FAULTS = {"1.3.1": 0.25, "1.2.9": 1.0}  # 1.3.1 fails a quarter of its requests; 1.2.9 every one
TRAFFIC_RPS = 40.0
WORKLOADS = {"staging": "apps/app/staging", "staging-canary": "apps/app/staging-canary",
             "production": "apps/app/production"}

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  template:
    spec:
      containers:
        - name: app
          image: {image}:v1.2.0
"""

PYPROJECT = '[project]\nname = "app"\nversion = "1.2.0"\n'

CHANGELOG = """\
# Changelog

## [Unreleased]

## [1.3.1] - 2026-11-22

### Fixed

- Search is faster.

### Rollback Plan

Redeploy 1.3.0; no data migration.

## [1.3.0] - 2026-11-22

### Added

- Search.

### Rollback Plan

Redeploy 1.2.0; the search index is additive.

## [1.2.0] - 2026-11-01

### Added

- First release.
"""

# Appended to the copied starter: a job that hands the reusable workflow's outputs to the test.
REPORT_JOB = """
  test-report:
    needs: {needs}
    if: always()
    runs-on: ubuntu-latest
    steps:
      - env:
{env}
        run: |
          python3 - >> "$DA_TEST_RESULTS" <<'PY'
          import json, os
          print(json.dumps({{k[4:].lower(): v for k, v in os.environ.items() if k.startswith("OUT_")}}))
          PY
"""


def with_report(starter: str, needs: str, outputs: tuple[str, ...]) -> str:
    env = "\n".join(f"          OUT_{name.upper().replace('-', '_')}: ${{{{ needs.{needs}.outputs.{name} }}}}"
                    for name in outputs)
    return starter + REPORT_JOB.format(needs=needs, env=env)


def calendar_override(starter: Path, job: str) -> dict[str, str]:
    """The starters carry the runbook's freezes (Dec 24–26, Dec 31–Jan 2) and Friday-afternoon deny
    window, in UTC unless vars.DEPLOY_TIMEZONE says otherwise. When this test runs inside one, it
    deploys the way a person would then: with the emergency override and a reason (recorded)."""
    given = yaml.safe_load(starter.read_text())["jobs"][job]["with"]
    freezes = [gates.parse_freeze(line) for line in given.get("freeze", "").splitlines() if line.strip()]
    windows = [gates.parse_window(line) for line in given.get("deny-windows", "").splitlines() if line.strip()]
    decision = gates.decide(dt.datetime.now(gates.zone("UTC")), freezes, windows)
    return {} if decision.allowed else {"emergency": "true", "reason": "end-to-end test run during a freeze"}


def logged_outputs(log: str) -> dict[str, str]:
    """The last value act logged for each step output (`⚙  ::set-output:: name=value`)."""
    found: dict[str, str] = {}
    for line in log.splitlines():
        _, sep, rest = line.partition("::set-output:: ")
        if sep:
            name, _, value = rest.partition("=")
            found[name] = value
    return found


def trailers(message: str) -> dict[str, str]:
    block = message.strip().split("\n\n")[-1]
    return dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)


@dataclass
class World:
    act: Act
    github: GitHubAPIFake
    git_http: GitHttpServer
    registry: Registry
    prometheus: Prometheus
    reconciler: Reconciler
    services: dict[str, AppService]
    code: Path  # the code repository's working copy (remote github: https://github.com/org/app.git)
    code_bare: Path
    gitops: Path  # the GitOps repository's working copy (remote github: https://github.com/org/gitops.git)
    gitops_bare: Path
    image: str

    def git(self, repo: Path, *args: str) -> str:
        return run_git(repo, *args)

    def run(self, repo: Path, workflow: Path, event: str, *, checkout: Path, job: str | None = None,
            inputs: Mapping[str, str] | None = None, variables: Mapping[str, str] | None = None,
            github: GitHubAPIFake | None = None) -> ActRun:
        api = github or self.github
        extra = ["--remote-name", "github"]  # act reads the repository's name from this remote
        for key, value in (inputs or {}).items():
            extra += ["--input", f"{key}={value}"]
        for key, value in (variables or {}).items():
            extra += ["--var", f"{key}={value}"]
        env = {"GITHUB_SERVER_URL": f"http://127.0.0.1:{self.git_http.port}", "GITHUB_API_URL": api.url}
        return self.act.run(workflow, cwd=repo, event=event, job=job, checkout_remote=checkout, env=env, extra=extra,
                            secrets={"GITHUB_TOKEN": api.token, "GITOPS_TOKEN": self.git_http.token})

    def release(self, message: str, files: Mapping[str, str]) -> str:
        """Commit `files` with `message` to the code repository and run its release starter's
        release job; returns the new tag's commit."""
        for rel, text in files.items():
            (self.code / rel).write_text(text)
        self.git(self.code, "add", "-A")
        self.git(self.code, "commit", "-q", "-m", message)
        self.git(self.code, "push", "-q", str(self.code_bare), "main")
        run = self.run(self.code, self.code / ".github/workflows/release.yml", "push", checkout=self.code_bare,
                       job="release")
        assert run.ok, run.report
        self.git(self.code, "pull", "-q", "--ff-only", str(self.code_bare), "main")
        self.git(self.code, "fetch", "-q", "--tags", str(self.code_bare))
        return self.git(self.code, "rev-parse", "HEAD")

    def deploy(self, tag: str) -> ActRun:
        return self.run(self.code, self.code / ".github/workflows/deploy.yml", "workflow_dispatch",
                        checkout=self.code_bare,
                        inputs={"tag": tag, "environment": "staging",
                                **calendar_override(REPO_ROOT / "workflows/deploy.yml", "deploy")},
                        variables={
                            "IMAGE": self.image,
                            "APP_NAME": "app",
                            "CANARY_HEALTH_URL": self.services["staging-canary"].url + "/health",
                            "PROMETHEUS_URL": self.prometheus.url,
                            "CANARY_DURATION": "90s", "CANARY_MIN_DURATION": "15s",
                            "CANARY_MIN_REQUESTS": "200", "CANARY_INTERVAL": "3s",
                        })

    def records(self, environment: str) -> list[dict[str, object]]:
        text = self.git(self.gitops_bare, "show", f"main:deployments/{environment}.jsonl")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def subjects(self) -> list[str]:
        return self.git(self.gitops_bare, "log", "--reverse", "--format=%s", "main").splitlines()


def _seed(path: Path, files: Mapping[str, str], message: str) -> None:
    run_git(path.parent, "init", "-q", "-b", "main", str(path))
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    run_git(path, "config", "user.name", "dev")
    run_git(path, "config", "user.email", "dev@example.com")
    run_git(path, "config", "commit.gpgsign", "false")
    run_git(path, "config", "tag.gpgsign", "false")
    run_git(path, "add", "-A")
    run_git(path, "commit", "-q", "-m", message)


@pytest.fixture
def world(act: Act, github_api: GitHubAPIFake, git_http: GitHttpServer, registry: Registry,
          tmp_path: Path) -> Iterator[World]:
    image = f"{registry.host}/org/app"
    for tag in ("v1.2.0",):
        registry.push("org/app", tag)

    # The GitOps repository, on the HTTP server where GITHUB_SERVER_URL points.
    gitops_seed = tmp_path / "gitops-seed"
    _seed(gitops_seed, {f"{folder}/deployment.yaml": DEPLOYMENT.format(name=name, image=image)
                        for name, folder in WORKLOADS.items()} | {"README.md": "# gitops\n"}, "seed")
    gitops_bare = git_http.root / "org" / "gitops.git"
    gitops_bare.parent.mkdir(parents=True)
    run_git(tmp_path, "clone", "-q", "--bare", str(gitops_seed), str(gitops_bare))
    gitops = tmp_path / "gitops"
    run_git(tmp_path, "clone", "-q", str(gitops_bare), str(gitops))
    (gitops / ".github/workflows").mkdir(parents=True)
    (gitops / ".github/workflows/promote.yml").write_text(with_report(
        (REPO_ROOT / "workflows/gitops-promote.yml").read_text(), "promote",
        ("tag", "previous-tag", "outcome", "gitops-commit")))
    run_git(gitops, "remote", "add", "github", "https://github.com/org/gitops.git")  # never contacted

    # The code repository, released at v1.2.0, with the two starters copied in.
    code = tmp_path / "app"
    _seed(code, {"pyproject.toml": PYPROJECT, "CHANGELOG.md": CHANGELOG,
                 ".github/workflows/release.yml": (REPO_ROOT / "workflows/release.yml").read_text(),
                 ".github/workflows/deploy.yml": with_report(
                     (REPO_ROOT / "workflows/deploy.yml").read_text(), "deploy",
                     ("allowed", "outcome", "state", "previous-tag", "gitops-commit", "decision", "reason",
                      "deployment-id"))},
          "feat: first release")
    run_git(code, "tag", "-a", "v1.2.0", "-m", "v1.2.0")
    code_bare = tmp_path / "app.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(code), str(code_bare))
    run_git(code, "remote", "add", "origin", str(code_bare))  # act's copy of the workspace pushes here
    run_git(code, "remote", "add", "github", "https://github.com/org/app.git")  # never contacted

    services = {name: AppService(track="canary" if name.endswith("canary") else "stable", faults=FAULTS)
                for name in WORKLOADS}
    reconciler = Reconciler(str(gitops_bare), "main", image,
                            {name: (f"{folder}/deployment.yaml", services[name]) for name, folder in WORKLOADS.items()},
                            interval=0.3)
    reconciler.start()
    traffic = Traffic([services["staging"].url + "/", services["staging-canary"].url + "/"], TRAFFIC_RPS)
    prometheus = launch_prometheus(tmp_path / "prometheus", "app", [
        (int(services["staging"].url.rsplit(":", 1)[1]), {"track": "stable"}),
        (int(services["staging-canary"].url.rsplit(":", 1)[1]), {"track": "canary"})])
    try:
        reconciler.wait_for("staging-canary", "1.2.0", timeout=30)
        yield World(act, github_api, git_http, registry, prometheus, reconciler, services, code, code_bare, gitops,
                    gitops_bare, image)
    finally:
        prometheus.close()
        traffic.close()
        reconciler.stop()
        for service in services.values():
            service.close()


def test_release_deploy_canary_promote_rollback_and_promote_to_production(world: World) -> None:
    # -- v1.3.0: released, published, deployed as a canary, judged healthy, promoted ----------------
    good_commit = world.release("feat: search", {"search.py": "def search(q): ...\n"})
    assert world.git(world.code_bare, "rev-parse", "v1.3.0^{commit}") == good_commit
    world.registry.push("org/app", "v1.3.0")  # what the publish job does on GitHub

    good = world.deploy("v1.3.0")

    assert good.ok, good.report
    out = good.record()
    assert (out["allowed"], out["outcome"], out["decision"], out["state"]) == (
        "true", "promoted", "promote", "concluded"), good.report
    assert out["previous_tag"] == "v1.2.0"
    subjects = world.subjects()
    bumps = [s for s in subjects if s.startswith("chore: Bump app")]
    assert bumps == ["chore: Bump app to v1.3.0", "chore: Bump app to v1.3.0"], subjects  # canary, then stable
    canary_bump = world.git(world.gitops_bare, "log", "-1", "--format=%B", "--grep=^chore: Bump app to v1.3.0",
                            "--", "apps/app/staging-canary")
    marks = trailers(canary_bump)
    assert marks["Source-Commit"] == good_commit
    assert marks["Source-Repository"] == "org/app"
    assert marks["Previous-Tag"] == "v1.2.0"
    assert "/org/app/actions/runs/" in marks["Workflow-Run"]
    assert world.services["staging"].version == "1.3.0"
    events = [(r["event"], r.get("state")) for r in world.records("staging") if r["version"] in ("v1.3.0", "1.3.0")]
    lifecycle = [e for e in events if str(e[0]).startswith("deployment_")]
    assert lifecycle == [("deployment_opened_v1", "active"), ("deployment_concluded_v1", "concluded")], events
    assert all(r["source_commit"] == good_commit and r["run_url"] for r in world.records("staging")
               if r["version"] in ("v1.3.0", "1.3.0")), world.records("staging")
    staging = [d for d in world.github.deployments.values() if d.environment == "staging"]  # org/app's
    assert len(staging) == 1 and staging[0].sha == good_commit, world.github.deployments
    assert staging[0].states == ["in_progress", "success"]
    assert staging[0].statuses[-1].log_url.endswith("/org/app/actions/runs/1")
    assert world.github.token not in good.log and world.git_http.token not in good.log

    # -- v1.3.1: released, deployed as a canary, judged bad, rolled back with an incident record ----
    bad_commit = world.release("fix: faster search", {"search.py": "def search(q): return []\n"})
    world.registry.push("org/app", "v1.3.1")

    bad = world.deploy("v1.3.1")

    assert not bad.ok, "a rolled-back release fails the run (fail-on-rollback)\n" + bad.report
    # act stops a workflow at a failed called job, so the `if: always()` report job never runs (GitHub
    # runs it); the deploy job's outputs are read from act's log of the steps' outputs instead.
    out = logged_outputs(bad.log)
    assert (out["outcome"], out["decision"], out["state"]) == ("rolled-back", "rollback", "paused"), bad.report
    assert out["reason"].startswith("canary: error-increase"), out["reason"]
    subjects = world.subjects()
    assert "chore: Bump app to v1.3.1" in subjects
    rollback = [s for s in subjects if s.startswith("fix: Rollback app to v1.3.0 due to ")]
    assert len(rollback) == 1, subjects
    assert subjects.index("chore: Bump app to v1.3.1") < subjects.index(rollback[0])
    message = world.git(world.gitops_bare, "log", "-1", "--format=%B", "--grep=^fix: Rollback", "main")
    marks = trailers(message)
    assert marks["Source-Commit"] == bad_commit and marks["Previous-Tag"] == "v1.3.1"
    assert marks["Rollback-Reason"]
    incident_files = world.git(world.gitops_bare, "show", "--name-only", "--format=",
                               "main^{/^fix: Rollback}").splitlines()
    incidents = [f for f in incident_files if f.startswith("incidents/") and f.endswith("-app.md")]
    assert len(incidents) == 1, incident_files
    incident = world.git(world.gitops_bare, "show", f"main:{incidents[0]}")
    for fact in ("v1.3.1 → v1.3.0", "staging", "| deployed v1.3.1 |", "| detected |", "| rolled back to v1.3.0 |",
                 "| error rate > baseline + 0.5 points |", bad_commit, "/org/app/actions/runs/"):
        assert fact in incident, incident
    world.reconciler.wait_for("staging-canary", "1.3.0", timeout=30)
    assert world.services["staging"].version == "1.3.0", "the stable workload never saw v1.3.1"
    bad_events = [r for r in world.records("staging") if r["version"] in ("v1.3.1", "1.3.1")]
    lifecycle = [(r["event"], r.get("state"), r.get("cause")) for r in bad_events
                 if str(r["event"]).startswith("deployment_")]
    assert lifecycle == [("deployment_opened_v1", "active", None),
                         ("deployment_shelved_v1", "paused", "canary-failed")], bad_events
    second = [d for d in world.github.deployments.values() if d.environment == "staging" and d.sha == bad_commit]
    assert len(second) == 1, world.github.deployments
    assert second[0].states == ["in_progress", "failure"]

    # -- the GitOps repository promotes what staging runs (v1.3.0) to production ------------------
    # Its GitHub Deployments live in org/gitops, on the GitOps commit the run started from; there,
    # GITHUB_TOKEN is also what pushes to the repository (the git server's token).
    with GitHubAPIFake(world.github.schemas, repository="org/gitops", token=world.git_http.token) as gitops_api:
        for person in ("sentinel", "service-owner"):  # production's required reviewers (act's run id is 1)
            gitops_api.seed_approval(1, person, "production")
        promote = world.run(world.gitops, world.gitops / ".github/workflows/promote.yml", "workflow_dispatch",
                            checkout=world.gitops_bare, github=gitops_api,
                            inputs={"app": "app", **calendar_override(REPO_ROOT / "workflows/gitops-promote.yml",
                                                                      "promote")},
                            variables={"IMAGE_PREFIX": f"{world.registry.host}/org",
                                       "PRODUCTION_HEALTH_URL": world.services["production"].url + "/health",
                                       "STAGING_SOAK": "10s"})  # the starter's 24h, shortened for the test
        problems = gitops_api.take_problems()
    assert not problems, problems

    assert promote.ok, promote.report
    out = promote.record()
    assert (out["tag"], out["previous_tag"], out["outcome"]) == ("v1.3.0", "v1.2.0", "concluded"), promote.report
    assert world.services["production"].version == "1.3.0"
    production = world.records("production")
    assert [(r["event"], r.get("state")) for r in production if str(r["event"]).startswith("deployment_")] == [
        ("deployment_opened_v1", "active"), ("deployment_concluded_v1", "concluded")], production
    opened = next(r for r in production if r["event"] == "deployment_opened_v1")
    assert [a["user"] for a in opened["approvals"]] == ["sentinel", "service-owner"], opened
    # Provenance survives the promotion: the code commit, not the GitOps repository's own.
    assert {r["source_commit"] for r in production} == {good_commit}, production
    promoted = world.git(world.gitops_bare, "log", "-1", "--format=%B", "main", "--", "apps/app/production")
    assert trailers(promoted)["Source-Commit"] == good_commit
    deployment = [d for d in gitops_api.deployments.values() if d.environment == "production"]
    assert len(deployment) == 1 and deployment[0].states == ["in_progress", "success"]


FREEZE_CALLER = """\
name: deploy during a freeze
on:
  workflow_dispatch:
    inputs:
      resume: {{type: boolean, default: false}}
      emergency: {{type: boolean, default: false}}
      reason: {{default: ""}}
permissions: {{}}
jobs:
  deploy:
    permissions:
      actions: read
      contents: write
      deployments: write
      issues: write
      packages: read
    uses: org/deploy-actions/.github/workflows/deploy.yml@v1
    with:
      app: app
      image: {image}
      tag: {tag}
      environment: staging
      gitops-repository: org/gitops
      smoke-url: {smoke}
      smoke-timeout: {smoke_timeout}
      freeze: {freeze}
      resume: ${{{{ inputs.resume }}}}
      emergency: ${{{{ inputs.emergency }}}}
      reason: ${{{{ inputs.reason }}}}
    secrets:
      gitops-token: ${{{{ secrets.GITOPS_TOKEN }}}}
"""


def test_a_freeze_shelves_the_deployment_and_an_emergency_resumes_it(world: World) -> None:
    world.git(world.code, "tag", "-a", "v1.2.1", "-m", "v1.2.1")
    world.git(world.code, "push", "-q", str(world.code_bare), "v1.2.1")
    source = world.git(world.code, "rev-parse", "HEAD")
    world.registry.push("org/app", "v1.2.1")
    today = dt.datetime.now(dt.timezone.utc).date()
    freeze = f"{today - dt.timedelta(days=1)}..{today + dt.timedelta(days=1)}"
    workflow = world.code / ".github/workflows/freeze.yml"
    workflow.write_text(with_report(FREEZE_CALLER.format(
        image=world.image, tag="v1.2.1", smoke=world.services["staging"].url + "/health", smoke_timeout="60s",
        freeze=freeze), "deploy",
        ("allowed", "outcome", "state", "reason", "deployment-id")))
    before = world.git(world.gitops_bare, "rev-parse", "main")

    frozen = world.run(world.code, workflow, "workflow_dispatch", checkout=world.code_bare)

    assert frozen.ok, "a freeze is not a failure: the deployment waits\n" + frozen.report
    out = frozen.record()
    assert (out["allowed"], out["outcome"], out["state"]) == ("false", "shelved", "paused"), frozen.report
    assert freeze in out["reason"], out
    events = [(r["event"], r.get("state"), r.get("cause")) for r in world.records("staging")]
    assert events == [("deployment_opened_v1", "active", None), ("deployment_shelved_v1", "paused", "freeze")]
    assert world.git(world.gitops_bare, "diff", "--name-only", before, "main").split() == [
        "deployments/staging.jsonl"], "nothing but the records moved"
    (deployment,) = world.github.deployments.values()
    assert (deployment.sha, deployment.states) == (source, ["in_progress", "queued"])

    resumed = world.run(world.code, workflow, "workflow_dispatch", checkout=world.code_bare,
                        inputs={"resume": "true", "emergency": "true", "reason": "customer outage fix"})

    assert resumed.ok, resumed.report
    out = resumed.record()
    assert (out["allowed"], out["outcome"], out["state"]) == ("true", "concluded", "concluded"), resumed.report
    assert world.services["staging"].version == "1.2.1"
    records = world.records("staging")
    resume = next(r for r in records if r["event"] == "deployment_resumed_v1")
    assert (resume["override"], resume["override_reason"]) == (True, "customer outage fix")
    assert [r["event"] for r in records][-3:] == ["deployment_resumed_v1", "bump", "deployment_concluded_v1"]
    assert deployment.states == ["in_progress", "queued", "in_progress", "success"]


def test_a_failed_smoke_test_rolls_back_with_the_checks_in_the_incident(world: World) -> None:
    world.git(world.code, "tag", "-a", "v1.2.9", "-m", "v1.2.9")
    world.git(world.code, "push", "-q", str(world.code_bare), "v1.2.9")
    world.registry.push("org/app", "v1.2.9")
    workflow = world.code / ".github/workflows/hotfix.yml"
    workflow.write_text(FREEZE_CALLER.format(image=world.image, tag="v1.2.9", smoke=world.services["staging"].url + "/",
                                             smoke_timeout="8s", freeze="''"))

    run = world.run(world.code, workflow, "workflow_dispatch", checkout=world.code_bare)

    assert not run.ok, run.report
    out = logged_outputs(run.log)  # see the bad release above: act skips jobs after a failed one
    assert (out["outcome"], out["state"]) == ("rolled-back", "paused"), run.report
    assert world.subjects()[-3:] == ["chore: Bump app to v1.2.9", "fix: Rollback app to v1.2.0 due to the smoke "
                                     "test failed", "chore(deploy): app v1.2.9 in staging: shelved"], world.subjects()
    incident_file = next(f for f in world.git(world.gitops_bare, "show", "--name-only", "--format=", "main~1")
                         .splitlines() if f.startswith("incidents/"))
    incident = world.git(world.gitops_bare, "show", f"main:{incident_file}")
    assert "v1.2.9 → v1.2.0" in incident and "500" in incident, incident
    shelved = world.records("staging")[-1]
    assert (shelved["event"], shelved["cause"]) == ("deployment_shelved_v1", "smoke-failed")
    (deployment,) = world.github.deployments.values()
    assert deployment.states == ["in_progress", "failure"]
    world.reconciler.wait_for("staging", "1.2.0", timeout=30)


HOTFIX_JOB = """\
  {name}:
{needs}    permissions:
      actions: read
      contents: write
      deployments: write
      issues: write
      packages: read
    uses: org/deploy-actions/.github/workflows/deploy.yml@v1
    with:
      app: app
      image: {image}
      tag: {tag}
      tag-prefix: hotfix-v
      environment: {environment}
      gitops-repository: org/gitops
      smoke-url: {smoke}
      smoke-timeout: 60s
      freeze: {freeze}
      require: |
        tag
        image
{more}      emergency: ${{{{ inputs.emergency }}}}
      reason: ${{{{ inputs.reason }}}}
      allow-rolled-back: ${{{{ inputs.allow-rolled-back }}}}
    secrets:
      gitops-token: ${{{{ secrets.GITOPS_TOKEN }}}}
"""

HOTFIX_CALLER = """\
name: hotfix lane
on:
  workflow_dispatch:
    inputs:
      emergency: {{type: boolean, default: false}}
      reason: {{default: ""}}
      allow-rolled-back: {{type: boolean, default: false}}
permissions: {{}}
jobs:
"""


def test_the_hotfix_lane_and_a_rolled_back_version_staying_out(world: World) -> None:
    """A hotfix goes through a freeze to staging, soaks there (shortly), reaches production with
    two approvals on the record; rolled back there by a person, it is refused on the next deploy,
    then accepted with allow-rolled-back and a reason."""
    tag = "hotfix-v1.2.1"
    world.git(world.code, "tag", "-a", tag, "-m", tag)
    world.git(world.code, "push", "-q", str(world.code_bare), tag)
    world.registry.push("org/app", tag)
    today = dt.datetime.now(dt.timezone.utc).date()
    freeze = f"{today - dt.timedelta(days=1)}..{today + dt.timedelta(days=1)}"
    common = {"image": world.image, "tag": tag, "freeze": freeze}
    soak = "soak: staging 30s"
    lane = world.code / ".github/workflows/hotfix-lane.yml"
    lane.write_text(with_report(HOTFIX_CALLER.format() + HOTFIX_JOB.format(
        name="staging", needs="", environment="staging", smoke=world.services["staging"].url + "/health", more="",
        **common) + HOTFIX_JOB.format(
        name="production", needs="    needs: staging\n    if: needs.staging.outputs.outcome == 'concluded'\n",
        environment="production", smoke=world.services["production"].url + "/health",
        more=f"        {soak}\n      soak-wait: 120s\n      approvals: 2\n", **common),
        "production", ("allowed", "outcome", "state", "reason")))
    # The production environment's required reviewers approved this run (act's run id is 1), one of
    # them twice: two distinct people, as the runbook asks.
    world.github.seed_approval(1, "sentinel", "production", comment="checked the diff")
    world.github.seed_approval(1, "sentinel", "production", comment="again")
    world.github.seed_approval(1, "service-owner", "production")
    emergency = {"emergency": "true", "reason": "SSO login loop, CVE-2026-0001"}

    lane_run = world.run(world.code, lane, "workflow_dispatch", checkout=world.code_bare, inputs=emergency)

    assert lane_run.ok, lane_run.report
    out = lane_run.record()
    assert (out["allowed"], out["outcome"], out["state"]) == ("true", "concluded", "concluded"), lane_run.report
    assert world.services["production"].version == tag
    staging = [r for r in world.records("staging") if r["version"] == tag]
    production = [r for r in world.records("production") if r["version"] == tag]
    concluded = next(r for r in staging if r["event"] == "deployment_concluded_v1")
    opened = next(r for r in production if r["event"] == "deployment_opened_v1")
    assert (opened["override"], opened["override_reason"]) == (True, "SSO login loop, CVE-2026-0001")  # the freeze
    soaked = dt.datetime.fromisoformat(opened["timestamp"]) - dt.datetime.fromisoformat(concluded["timestamp"])
    assert soaked >= dt.timedelta(seconds=30), (concluded, opened)  # promoted only after the short soak
    assert [a["user"] for a in opened["approvals"]] == ["sentinel", "sentinel", "service-owner"]
    message = world.git(world.gitops_bare, "log", "-1", "--format=%B", "--grep=production: opened", "main")
    assert "Approved-by: sentinel\nApproved-by: service-owner" in message, message
    assert concluded["evidence"]["smoke-test"].endswith("/org/app/actions/runs/1")

    # A person rolls production back by hand: the same forward commit the workflows make.
    import os

    from deploy_actions.cli import main

    saved = {k: os.environ.get(k) for k in ("GITHUB_TOKEN", "GITHUB_SERVER_URL")}
    os.environ.update(GITHUB_TOKEN=world.git_http.token, GITHUB_SERVER_URL=f"http://127.0.0.1:{world.git_http.port}")
    try:
        assert main(["gitops-bump", "--repository", "org/gitops", "--image", world.image, "--tag", "v1.2.0",
                     "--path", "apps/app/production", "--app", "app", "--environment", "production",
                     "--rollback", "--reason", "SSO users logged out every minute", "--verify-image", "false",
                     "--post-mortem", "false"]) == 0
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    world.reconciler.wait_for("production", "1.2.0", timeout=30)

    again = world.code / ".github/workflows/redeploy.yml"
    again.write_text(with_report(HOTFIX_CALLER.format() + HOTFIX_JOB.format(
        name="production", needs="", environment="production", smoke=world.services["production"].url + "/health",
        more="", **common), "production", ("allowed", "outcome", "state", "reason")))
    before = world.git(world.gitops_bare, "rev-parse", "main")

    refused = world.run(world.code, again, "workflow_dispatch", checkout=world.code_bare, inputs=emergency)

    assert not refused.ok, refused.report
    assert f"{tag} was rolled back in production on " in refused.log, refused.report
    assert "because SSO users logged out every minute" in refused.log and "allow-rolled-back: true" in refused.log
    assert world.git(world.gitops_bare, "rev-parse", "main") == before, "refused before anything was written"

    accepted = world.run(world.code, again, "workflow_dispatch", checkout=world.code_bare,
                         inputs={**emergency, "allow-rolled-back": "true",
                                 "reason": "root cause was the session store; fixed there"})

    assert accepted.ok, accepted.report
    assert accepted.record()["outcome"] == "concluded", accepted.report
    bump = next(r for r in reversed(world.records("production")) if r["event"] == "bump")
    assert (bump["version"], bump["allow_rolled_back"]) == (tag, True)
    assert bump["reason"] == "root cause was the session store; fixed there"
    message = world.git(world.gitops_bare, "log", "-1", "--format=%B", "--grep=^chore: Bump app to " + tag, "main")
    assert "Allow-Rolled-Back: root cause was the session store; fixed there" in message
    world.reconciler.wait_for("production", tag, timeout=30)
