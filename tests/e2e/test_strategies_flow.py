"""The strategies' starters, proven by running them: `workflows/deploy-canary.yml` (staged),
`workflows/deploy-blue-green.yml`, `workflows/deploy-rolling.yml` (with its watch) and
`workflows/deploy-recreate.yml`, copied unchanged into a code repository and run under act,
calling `org/deploy-actions/.github/workflows/deploy.yml@v1` exactly as users write it.

Everything they touch is real: the GitOps repository is served over authenticated smart HTTP
(GITHUB_SERVER_URL), the images are in a real registry, the GitHub API is the fake validated
against GitHub's OpenAPI description, the metrics are in a real Prometheus scraping two tiny HTTP
services (a good and a bad version). The demo's reconciler stands in for Flux: after every commit
it runs each workload at the version its manifest pins and reconfigures a real nginx (demo.router)
from the repository's HTTPRoute or Services; users' traffic goes through that nginx. So the
weights and slots the commits ask for are what Prometheus sees.

Durations are shortened for the test (the starters' `vars`): a canary stage is judged for at most
20 s (10 minutes in the runbooks), the watch lasts 40 s (30 minutes).

- canary: v1.3.0 walks 10 → 30 → 50 → 90 → 100 % and is promoted; v1.3.1 (40 % of its answers
  are 500s) is stopped at 10 %, its weight and image going back in one forward commit;
- blue/green: v1.3.0 goes to the idle slot (green), passes its smoke test through it, is switched
  to and watched; the old slot (blue) is scaled down after `scale-down-delay`, as a later commit.
  v1.3.1 then goes to blue (scaled back up first), is switched to, falls over under live traffic
  (its instances stop answering, so Prometheus sees them down), and the watch switches back to
  green, still running v1.3.0;
- rolling: v1.3.1 passes its smoke test, falls over, and the watch rolls it back to v1.2.0 as a
  forward commit with an incident record;
- recreate (`workflows/deploy-recreate.yml`): v1.3.0 is concluded with its downtime window, from
  the deploy commit until the smoke test saw it answer.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from demo.prometheus import Prometheus
from demo.reconciler import Reconciler
from demo.router import Router
from demo.service import AppService, Traffic
from tests.e2e.test_deploy_flow import CHANGELOG, PYPROJECT, calendar_override, logged_outputs, with_report
from tests.fakes.github_api import GitHubAPIFake
from tests.plugins.act import REPO_ROOT, Act, ActRun
from tests.plugins.git_http import GitHttpServer
from tests.plugins.git_repos import run_git
from tests.plugins.prometheus import launch_prometheus
from tests.plugins.registry import Registry

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("act-strategies")]

ENV = "staging"
RPS = 60.0  # users' requests a second, through the router
CRASH_AFTER = 15.0  # seconds: a bad blue/green or rolling release answers its smoke test, then falls over
OUTPUTS = ("allowed", "outcome", "state", "previous-tag", "gitops-commit", "decision", "reason")


def _deployment(name: str, labels: str, tag: str, image: str) -> str:
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 2\n"
            f"  selector:\n    matchLabels: {labels}\n  template:\n    metadata:\n      labels: {labels}\n"
            f"    spec:\n      containers:\n        - name: app\n          image: {image}:{tag}\n")


ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: app
spec:
  parentRefs: [{name: public}]
  rules:
    - backendRefs:
        - name: app
          port: 80
          weight: 100
        - name: app-canary
          port: 80
          weight: 0 # deploy-actions traffic sets this
"""

SERVICES = """\
apiVersion: v1
kind: Service
metadata:
  name: app
spec:
  selector: {app: app, slot: blue}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata:
  name: app-preview
spec:
  selector: {app: app, slot: green}
  ports: [{port: 80}]
"""


class Workload(AppService):
    """The demo's app service, and a release that falls over: `crashes` names versions that stop
    answering (503 to everything, /metrics included, so Prometheus' `up` goes to 0) `CRASH_AFTER`
    seconds after they start."""

    def __init__(self, track: str, *, faults: Mapping[str, float] | None = None, crashes: tuple[str, ...] = ()):
        self.crashes = crashes
        self.since = time.monotonic()
        super().__init__(track, faults)

    def set_version(self, version: str | None) -> None:
        super().set_version(version)
        self.since = time.monotonic()

    def _serve(self, path: str, routed: bool = False) -> tuple[int, bytes, str]:
        if self.version in self.crashes and time.monotonic() - self.since >= CRASH_AFTER:
            return 503, b'{"status": "crashed"}', "application/json"
        return super()._serve(path, routed)


@dataclass
class Lab:
    """One starter's world: the code repository, the GitOps repository, the workloads, the router."""

    act: Act
    github: GitHubAPIFake
    git_http: GitHttpServer
    registry: Registry
    prometheus: Prometheus
    reconciler: Reconciler
    router: Router
    services: dict[str, Workload]
    code: Path
    code_bare: Path
    gitops_bare: Path
    image: str
    starter: Path
    routed: list[tuple[float, dict[str, int]]] = field(default_factory=list)  # (time, weights) after each change

    def deploy(self, tag: str, variables: Mapping[str, str]) -> ActRun:
        extra = ["--remote-name", "github", "--input", f"tag={tag}", "--input", f"environment={ENV}"]
        for key, value in calendar_override(self.starter, "deploy").items():
            extra += ["--input", f"{key}={value}"]
        for key, value in {"IMAGE": self.image, "APP_NAME": "app", "PROMETHEUS_URL": self.prometheus.url,
                           **variables}.items():
            extra += ["--var", f"{key}={value}"]
        env = {"GITHUB_SERVER_URL": f"http://127.0.0.1:{self.git_http.port}", "GITHUB_API_URL": self.github.url}
        return self.act.run(self.code / ".github/workflows/deploy.yml", cwd=self.code, event="workflow_dispatch",
                            checkout_remote=self.code_bare, env=env, extra=extra,
                            secrets={"GITHUB_TOKEN": self.github.token, "GITOPS_TOKEN": self.git_http.token})

    def git(self, *args: str) -> str:
        return run_git(self.gitops_bare, *args)

    def subjects(self, since: str) -> list[str]:
        return self.git("log", "--reverse", "--format=%s", f"{since}..main").splitlines()

    def records(self, since: str) -> list[dict[str, object]]:
        before = self.git("show", f"{since}:deployments/{ENV}.jsonl").splitlines() if self._has_records(since) else []
        now = self.git("show", f"main:deployments/{ENV}.jsonl").splitlines()
        assert now[:len(before)] == before, "the record file is append-only"
        return [json.loads(line) for line in now[len(before):] if line.strip()]

    def _has_records(self, rev: str) -> bool:
        return f"deployments/{ENV}.jsonl" in self.git("ls-tree", "-r", "--name-only", rev).split()

    def settle(self) -> None:
        """Until the reconciler (and so the router) applied the GitOps repository's tip."""
        tip = self.git("rev-parse", "main")
        deadline = time.monotonic() + 30
        while self.reconciler.revision != tip:
            assert time.monotonic() < deadline, f"the reconciler did not apply {tip[:12]}: {self.reconciler.last_error}"
            time.sleep(0.1)

    def requests(self, selector: str, start: float, end: float) -> float:
        """Requests to `/` Prometheus counted for `selector` between two moments (Unix time)."""
        query = f"sum(increase(http_requests_total{{{_matchers(selector)}}}[{max(1, round(end - start))}s])) or vector(0)"
        body = urllib.parse.urlencode({"query": query, "time": f"{end:.3f}"}).encode()
        with urllib.request.urlopen(self.prometheus.url + "/api/v1/query", data=body, timeout=10) as answer:
            result = json.loads(answer.read())["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    def up(self, selector: str, at: float) -> float:
        body = urllib.parse.urlencode({"query": f"min(up{{{_matchers(selector)}}})", "time": f"{at:.3f}"}).encode()
        with urllib.request.urlopen(self.prometheus.url + "/api/v1/query", data=body, timeout=10) as answer:
            result = json.loads(answer.read())["data"]["result"]
        return float(result[0]["value"][1]) if result else float("nan")


def _matchers(selector: str) -> str:
    return ",".join(m for m in ('job="app"', selector) if m)


def _seed(path: Path, files: Mapping[str, str], message: str) -> None:
    run_git(path.parent, "init", "-q", "-b", "main", str(path))
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    for key, value in (("user.name", "dev"), ("user.email", "dev@example.com"), ("commit.gpgsign", "false"),
                       ("tag.gpgsign", "false")):
        run_git(path, "config", key, value)
    run_git(path, "add", "-A")
    run_git(path, "commit", "-q", "-m", message)


@dataclass(frozen=True)
class Layout:
    """What one strategy's GitOps repository holds, which workloads run where, and how they are routed."""

    starter: str
    files: dict[str, str]
    workloads: dict[str, str]  # workload → manifest path
    backends: dict[str, str]  # router backend or slot → workload
    targets: dict[str, dict[str, str]]  # workload → Prometheus target labels
    faults: dict[str, float] = field(default_factory=dict)
    crashes: tuple[str, ...] = ()


def _layout(strategy: str, image: str) -> Layout:
    where = f"apps/app/{ENV}"
    if strategy == "canary":
        return Layout("deploy-canary.yml", {
            f"{where}/route.yaml": ROUTE,
            f"{where}/deployment.yaml": _deployment("app", "{app: app, track: stable}", "v1.2.0", image),
            f"{where}-canary/deployment.yaml": _deployment("app-canary", "{app: app, track: canary}", "v1.2.0",
                                                           image)},
            {"stable": f"{where}/deployment.yaml", "canary": f"{where}-canary/deployment.yaml"},
            {"app": "stable", "app-canary": "canary"},
            {"stable": {"track": "stable"}, "canary": {"track": "canary"}}, faults={"1.3.1": 0.4})
    if strategy == "blue-green":
        return Layout("deploy-blue-green.yml", {
            f"{where}/services.yaml": SERVICES,
            f"{where}/blue/deployment.yaml": _deployment("app-blue", "{app: app, slot: blue}", "v1.2.0", image),
            f"{where}/green/deployment.yaml": _deployment("app-green", "{app: app, slot: green}", "v1.2.0", image)},
            {"blue": f"{where}/blue/deployment.yaml", "green": f"{where}/green/deployment.yaml"},
            {"blue": "blue", "green": "green"},
            {"blue": {"slot": "blue"}, "green": {"slot": "green"}}, crashes=("1.3.1",))
    return Layout(f"deploy-{strategy}.yml", {  # rolling and recreate
        f"{where}/deployment.yaml": _deployment("app", "{app: app}", "v1.2.0", image)},
        {"app": f"{where}/deployment.yaml"}, {"app": "app"}, {"app": {}}, crashes=("1.3.1",))


@pytest.fixture
def lab(request: pytest.FixtureRequest, act: Act, github_api: GitHubAPIFake, git_http: GitHttpServer,
        registry: Registry, tmp_path: Path) -> Iterator[Lab]:
    image = f"{registry.host}/org/app"
    for tag in ("v1.2.0", "v1.3.0", "v1.3.1"):
        registry.push("org/app", tag)
    layout = _layout(request.param, image)
    starter = REPO_ROOT / "workflows" / layout.starter

    seed = tmp_path / "gitops-seed"
    _seed(seed, {**layout.files, "README.md": "# gitops\n"}, "seed")
    gitops_bare = git_http.root / "org" / "gitops.git"
    gitops_bare.parent.mkdir(parents=True)
    run_git(tmp_path, "clone", "-q", "--bare", str(seed), str(gitops_bare))

    code = tmp_path / "app"
    _seed(code, {"pyproject.toml": PYPROJECT, "CHANGELOG.md": CHANGELOG,
                 ".github/workflows/deploy.yml": with_report(starter.read_text(), "deploy", OUTPUTS)},
          "feat: search")
    for tag in ("v1.2.0", "v1.3.0", "v1.3.1"):
        run_git(code, "tag", "-a", tag, "-m", tag)
    code_bare = tmp_path / "app.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(code), str(code_bare))
    run_git(code, "remote", "add", "origin", str(code_bare))
    run_git(code, "remote", "add", "github", "https://github.com/org/app.git")  # act reads org/app here; never contacted

    services = {name: Workload(next((b for b, w in layout.backends.items() if w == name), name),
                               faults=layout.faults, crashes=layout.crashes) for name in layout.workloads}
    router = Router({backend: services[name].url.removeprefix("http://") for backend, name in layout.backends.items()},
                    needle="app", scope=[f"apps/app/{ENV}"])
    router.start()
    routed: list[tuple[float, dict[str, int]]] = [(time.time(), dict(router.weights))]
    lock = threading.Lock()

    def follow(checkout: Path) -> None:
        weights = router.apply(checkout)
        with lock:
            if weights != routed[-1][1]:
                routed.append((time.time(), weights))

    reconciler = Reconciler(str(gitops_bare), "main", image,
                            {name: (path, services[name]) for name, path in layout.workloads.items()},
                            interval=0.3, on_revision=follow)
    reconciler.start()
    traffic = Traffic([router.url + "/"], RPS)
    prometheus = launch_prometheus(tmp_path / "prometheus", "app",
                                   [(services[name].port, labels) for name, labels in layout.targets.items()])
    try:
        for name in layout.workloads:
            reconciler.wait_for(name, "1.2.0", timeout=30)
        while reconciler.revision is None:  # the seed's routing applied: what the router does before any deploy
            time.sleep(0.1)
        del routed[:-1]
        yield Lab(act, github_api, git_http, registry, prometheus, reconciler, router, services, code, code_bare,
                  gitops_bare, image, starter, routed)
    finally:
        prometheus.close()
        traffic.close()
        reconciler.stop()
        router.stop()
        for service in services.values():
            service.close()


def _share(lab: Lab, selector: str, other: str, start: float, end: float) -> float:
    mine, theirs = lab.requests(selector, start, end), lab.requests(other, start, end)
    assert mine + theirs > 0, f"Prometheus counted no requests between {start} and {end}"
    return 100.0 * mine / (mine + theirs)


CANARY_VARS = {"CANARY_STEPS": "10,30,50,90,100", "STEP_DURATION": "20s", "CANARY_MIN_DURATION": "5s",
               "CANARY_MIN_REQUESTS": "30", "CANARY_INTERVAL": "2s"}


@pytest.mark.parametrize("lab", ["canary"], indirect=True)
def test_a_staged_canary_walks_its_stages_and_a_bad_one_stops_at_the_first(lab: Lab) -> None:
    start = lab.git("rev-parse", "main")
    lab.settle()
    health = {"CANARY_HEALTH_URL": lab.services["canary"].url + "/health", **CANARY_VARS}

    good = lab.deploy("v1.3.0", health)

    assert good.ok, good.report
    out = good.record()
    assert (out["outcome"], out["decision"], out["state"]) == ("promoted", "promote", "concluded"), good.report
    subjects = lab.subjects(start)
    assert subjects == [
        "chore(deploy): app v1.3.0 in staging: opened",
        "chore: Bump app to v1.3.0",  # the canary
        *(f"chore: Shift app canary to {w}% in staging" for w in (10, 30, 50, 90, 100)),
        "chore: Bump app to v1.3.0",  # the stable
        "chore: Shift app canary to 0% in staging",
        "chore(deploy): app v1.3.0 in staging: concluded"], subjects
    records = lab.records(start)
    opened = records[0]
    assert (opened["event"], opened["strategy"]) == ("deployment_opened_v1", "canary"), opened
    assert records[-1]["event"] == "deployment_concluded_v1", records[-1]
    assert {r["strategy"] for r in records} == {"canary"}, records
    shifts = [r for r in records if r["event"] == "traffic"]
    assert [(r["strategy"], r["weight"], r.get("stage"), r.get("stages")) for r in shifts] == [
        ("canary", w, s, 5) for w, s in ((10, 1), (30, 2), (50, 3), (90, 4), (100, 5), (0, 0))], shifts
    # The router followed each commit, and Prometheus saw the split each one asked for.
    lab.settle()
    time.sleep(4)  # some traffic after the last commit, for its window
    changes = [*lab.routed, (time.time(), {})]
    weights = [w.get("app-canary", 0) for _, w in lab.routed]
    assert weights == [0, 10, 30, 50, 90, 100, 0], lab.routed
    for (began, asked), (ended, _) in itertools.pairwise(changes[1:]):
        if ended - began < 4:
            continue  # a stage shorter than a few scrapes (100 % lasts only until the stable is bumped)
        seen = _share(lab, 'track="canary"', 'track="stable"', began + 1.5, ended - 0.5)
        assert abs(seen - asked.get("app-canary", 0)) <= 8, (asked, seen, lab.routed)
    assert lab.services["stable"].version == "1.3.0"

    # -- v1.3.1 fails 40 % of its requests: stopped at its first stage, back in one forward commit --
    middle = lab.git("rev-parse", "main")
    lab.routed[:] = lab.routed[-1:]

    bad = lab.deploy("v1.3.1", health)

    assert not bad.ok, "a rolled-back release fails the run (fail-on-rollback)\n" + bad.report
    out = logged_outputs(bad.log)  # act stops at a failed called job: the report job does not run
    assert (out.get("outcome"), out.get("decision"), out.get("state")) == ("rolled-back", "rollback", "paused"), \
        bad.report
    subjects = lab.subjects(middle)
    assert subjects[:3] == ["chore(deploy): app v1.3.1 in staging: opened", "chore: Bump app to v1.3.1",
                            "chore: Shift app canary to 10% in staging"], subjects
    assert subjects[3].startswith("fix: Shift app canary back to 0% due to stage 1/5 at 10%: "), subjects
    assert subjects[4:] == ["chore(deploy): app v1.3.1 in staging: shelved"], subjects
    back = lab.git("log", "-1", "--format=%H", "--grep=^fix: Shift app canary back", "main")
    changed = lab.git("show", "--name-only", "--format=", back).split()
    assert f"apps/app/{ENV}/route.yaml" in changed and f"apps/app/{ENV}-canary/deployment.yaml" in changed, changed
    assert any(f.startswith("incidents/") for f in changed), changed
    records = lab.records(middle)
    rollback = next(r for r in records if r["event"] == "rollback")
    assert (rollback["strategy"], rollback["weight"], rollback["previous_weight"]) == ("canary", 0, 10), rollback
    assert rollback["reason"].startswith("stage 1/5 at 10%"), rollback
    assert [r.get("stage") for r in records if r["event"] == "traffic"] == [1], records
    lab.reconciler.wait_for("canary", "1.3.0", timeout=30)
    lab.settle()
    assert [w.get("app-canary", 0) for _, w in lab.routed] == [0, 10, 0], lab.routed
    assert lab.services["stable"].version == "1.3.0", "the stable never saw v1.3.1"


@pytest.mark.parametrize("lab", ["blue-green"], indirect=True)
def test_blue_green_switches_scales_the_old_slot_down_and_switches_back_when_the_new_one_falls_over(lab: Lab) -> None:
    start = lab.git("rev-parse", "main")
    lab.settle()
    common = {"WATCH": "32s", "WATCH_SELECTOR": 'job="{app}",slot="{slot}"', "SCALE_DOWN_DELAY": "2s"}

    # -- v1.3.0 to the idle slot (green), switched to, watched, concluded; blue scaled down after it --
    good = lab.deploy("v1.3.0", {"PREVIEW_HEALTH_URL": lab.services["green"].url + "/health", **common})

    assert good.ok, good.report
    out = good.record()
    assert (out["outcome"], out["decision"], out["state"]) == ("promoted", "promote", "concluded"), good.report
    assert lab.subjects(start) == [  # green already runs as many replicas as blue: no scale-up commit
        "chore(deploy): app v1.3.0 in staging: opened",
        "chore: Bump app to v1.3.0",
        "chore: Switch app to green (v1.3.0) in staging",
        "chore(deploy): app v1.3.0 in staging: concluded",
        "chore: Scale down app blue (v1.2.0) in staging"], lab.subjects(start)
    switched = _commit_time(lab, "--grep=^chore: Switch app to green")
    scaled = _commit_time(lab, "--grep=^chore: Scale down app blue")
    assert scaled - switched >= 2, "scale-down-delay counts from the switch"
    assert "replicas: 0" in lab.git("show", f"main:apps/app/{ENV}/blue/deployment.yaml")
    records = lab.records(start)
    assert records[0]["strategy"] == "blue-green" and records[-1]["scaled_slot"] == "blue", records
    assert {r["strategy"] for r in records} == {"blue-green"}, records

    # -- v1.3.1 to the idle slot (blue, scaled down: up first), switched to, falls over, switched back --
    middle = lab.git("rev-parse", "main")
    lab.settle()
    lab.routed[:] = lab.routed[-1:]

    run = lab.deploy("v1.3.1", {"PREVIEW_HEALTH_URL": lab.services["blue"].url + "/health", **common,
                                "WATCH": "40s"})

    assert not run.ok, run.report
    out = logged_outputs(run.log)
    assert (out.get("outcome"), out.get("decision"), out.get("state")) == ("rolled-back", "rollback", "paused"), \
        run.report
    subjects = lab.subjects(middle)
    assert subjects[:4] == ["chore(deploy): app v1.3.1 in staging: opened",
                            "chore: Scale up app blue (v1.2.0) in staging",
                            "chore: Bump app to v1.3.1",
                            "chore: Switch app to blue (v1.3.1) in staging"], subjects
    assert subjects[4].startswith("fix: Switch app back to green (v1.3.0) due to unhealthy (more than 50% of instances down)"), \
        subjects
    assert subjects[5:] == ["chore(deploy): app v1.3.1 in staging: shelved"], subjects
    bump = lab.git("log", "-1", "--format=%H", "--grep=^chore: Bump app to v1.3.1", "main")
    assert lab.git("show", "--name-only", "--format=", bump).split() == [
        f"apps/app/{ENV}/blue/deployment.yaml", f"deployments/{ENV}.jsonl"], "only the idle slot was bumped"
    records = lab.records(middle)
    moves = [(r["event"], r["strategy"], r["slot"], r["previous_slot"], r["version"]) for r in records
             if r.get("slot") and not r.get("scaled_slot")]
    assert moves == [("traffic", "blue-green", "blue", "green", "v1.3.1"),
                     ("rollback", "blue-green", "green", "blue", "v1.3.0")], records
    assert "replicas: 2" in lab.git("show", f"main:apps/app/{ENV}/green/deployment.yaml"), "never scaled down"
    lab.settle()
    assert lab.services["green"].version == "1.3.0", "the old slot kept running, so the switch back was instant"
    # The router followed the selector, and Prometheus saw the traffic move and the new slot fall over.
    assert [w for _, w in lab.routed] == [{"green": 1}, {"blue": 1}, {"green": 1}], lab.routed
    (_, _), (switched, _), (back, _) = lab.routed
    time.sleep(4)
    assert lab.requests('slot="green"', switched + 1.5, min(back, switched + CRASH_AFTER) - 0.5) < 5
    assert lab.requests('slot="blue"', switched + 1.5, min(back, switched + CRASH_AFTER) - 0.5) > 30
    assert lab.up('slot="blue"', back) == 0.0
    assert lab.requests('slot="green"', back + 1.5, time.time()) > 30


@pytest.mark.parametrize("lab", ["rolling"], indirect=True)
def test_a_rolling_deploy_is_caught_by_the_watch_and_rolled_back_forward(lab: Lab) -> None:
    start = lab.git("rev-parse", "main")
    lab.settle()

    run = lab.deploy("v1.3.1", {"HEALTH_URL": lab.services["app"].url + "/health", "WATCH": "40s"})

    assert not run.ok, run.report
    out = logged_outputs(run.log)
    assert (out.get("outcome"), out.get("decision"), out.get("state")) == ("rolled-back", "rollback", "paused"), \
        run.report
    assert out["reason"].startswith("canary: unhealthy (more than 50% of instances down)"), out["reason"]
    subjects = lab.subjects(start)
    assert subjects[:2] == ["chore(deploy): app v1.3.1 in staging: opened", "chore: Bump app to v1.3.1"], subjects
    assert subjects[2].startswith("fix: Rollback app to v1.2.0 due to unhealthy (more than 50% of instances down)"), subjects
    assert subjects[3:] == ["chore(deploy): app v1.3.1 in staging: shelved"], subjects
    rollback_commit = lab.git("log", "-1", "--format=%H", "--grep=^fix: Rollback", "main")
    changed = lab.git("show", "--name-only", "--format=", rollback_commit).split()
    assert f"apps/app/{ENV}/deployment.yaml" in changed and any(f.startswith("incidents/") for f in changed), changed
    records = lab.records(start)
    assert {r["strategy"] for r in records} == {"rolling"}, records
    rollback = next(r for r in records if r["event"] == "rollback")
    assert (rollback["version"], rollback["previous_version"]) == ("v1.2.0", "v1.3.1"), rollback
    # Prometheus saw the instance go down while v1.3.1 ran, and come back with v1.2.0.
    lab.reconciler.wait_for("app", "1.2.0", timeout=30)
    bumped = _commit_time(lab, "--grep=^chore: Bump app to v1.3.1")
    rolled = _commit_time(lab, "--grep=^fix: Rollback")
    assert lab.up("", rolled) == 0.0, "the watch rolled back after the instance went down"
    assert lab.up("", bumped + 1) == 1.0, "it answered its smoke test first"
    time.sleep(4)
    assert lab.up("", time.time()) == 1.0


@pytest.mark.parametrize("lab", ["recreate"], indirect=True)
def test_a_recreate_deploy_records_its_downtime_window(lab: Lab) -> None:
    start = lab.git("rev-parse", "main")
    lab.settle()

    run = lab.deploy("v1.3.0", {"HEALTH_URL": lab.services["app"].url + "/health", "WATCH": "5s"})

    assert run.ok, run.report
    assert run.record()["outcome"] == "promoted", run.report  # the short watch passed
    assert lab.subjects(start) == ["chore(deploy): app v1.3.0 in staging: opened", "chore: Bump app to v1.3.0",
                                   "chore(deploy): app v1.3.0 in staging: concluded"], lab.subjects(start)
    records = lab.records(start)
    assert {r["strategy"] for r in records} == {"recreate"}, records
    concluded = records[-1]
    assert concluded["event"] == "deployment_concluded_v1", concluded
    window = concluded["downtime"]
    began, ended = (dt.datetime.fromisoformat(window[k].replace("Z", "+00:00")).timestamp() for k in ("from", "until"))
    assert window["seconds"] == round(ended - began) >= 0, window
    # From the deploy commit until the new version answered: the moment the stand-in for Flux
    # switched the workload to v1.3.0 lies inside it (to the second the records keep).
    bumped = _commit_time(lab, "--grep=^chore: Bump app to v1.3.0")
    switched = next(at for at, name, version, _ in lab.reconciler.events if version == "1.3.0").timestamp()
    assert bumped - 1 <= began <= switched + 1 and switched - 1 <= ended, (window, bumped, switched)
    assert ended <= dt.datetime.fromisoformat(concluded["timestamp"].replace("Z", "+00:00")).timestamp()


def _commit_time(lab: Lab, *grep: str) -> float:
    return float(lab.git("log", "-1", "--format=%ct", *grep, "main"))

