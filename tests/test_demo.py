"""`make demo` tells the whole story, and its parts (the app service, the registry, the reconciler
standing in for Flux) do what the story says they do."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from demo.reconciler import Reconciler
from demo.registry import start_registry
from demo.service import AppService, Traffic
from deploy_actions.gitops.image_ref import ImageRef
from deploy_actions.gitops.registry import RegistryClient
from tests.plugins.git_http import GitHttpServer
from tests.plugins.git_repos import GitRepo, run_git

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "127.0.0.1:5000/org/app"


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _kustomization(tag: str) -> str:
    return ("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n"
            f"  - name: {IMAGE}\n    newTag: {tag}\n")


# -- the whole story -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    work = tmp_path_factory.mktemp("demo") / "work"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))}
    proc = subprocess.run([sys.executable, "-m", "demo", "--work-dir", str(work)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    return work, proc


def test_demo_runs_the_story_to_the_end(demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    work, proc = demo_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "stands in for Flux / Argo CD" in proc.stdout
    report = (work / "report.md").read_text()
    assert report.startswith("# deploy-actions demo report")
    for heading in ("Release 1.3.0", "Deploy 1.3.0", "Deploy 1.4.0", "Roll back 1.4.0"):
        assert heading in report
    assert "$ deploy-actions gitops-bump" in report and "$ deploy-actions canary-monitor" in report


def test_gitops_history_has_the_bump_then_the_rollback_with_trailers(
        demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    work, _ = demo_run
    remote = work / "gitops.git"
    subjects = run_git(remote, "log", "--reverse", "--format=%s", "main").splitlines()
    bump = subjects.index("chore: Bump app to v1.4.0 on the canary")
    rollback = next(i for i, s in enumerate(subjects) if s.startswith("fix: Rollback app to v1.3.0 on the canary due to"))
    assert bump < rollback
    assert "chore: Bump app to v1.3.0 on stable" in subjects[:bump]
    body = run_git(remote, "log", "-1", "--format=%B", f"main~{len(subjects) - 1 - rollback}")
    assert "Previous-Tag: v1.4.0" in body
    assert "Rollback-Reason: " in body and "error" in body.split("Rollback-Reason: ", 1)[1]
    assert "Source-Repository: org/app" in body and "Source-Commit: " in body
    canary = run_git(remote, "show", "main:apps/app/production/canary/kustomization.yaml")
    stable = run_git(remote, "show", "main:apps/app/production/stable/kustomization.yaml")
    assert "newTag: v1.3.0" in canary and "newTag: v1.3.0" in stable


def test_rollback_commit_carries_an_incident_record(demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    work, _ = demo_run
    remote = work / "gitops.git"
    rollback = run_git(remote, "log", "-1", "--format=%H", "--grep=^fix: Rollback app", "main")
    files = run_git(remote, "show", "--format=", "--name-only", rollback).splitlines()
    incidents = [f for f in files if f.startswith("incidents/") and f.endswith("-app.md")]
    assert len(incidents) == 1, files
    text = run_git(remote, "show", f"{rollback}:{incidents[0]}")
    assert "v1.4.0" in text and "v1.3.0" in text
    assert (work / "records" / "gitops" / incidents[0]).read_text().strip() == text.strip()


def test_reconciler_served_the_pinned_versions_in_order(
        demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    work, _ = demo_run
    events = [json.loads(line) for line in (work / "records" / "reconciler-events.jsonl").read_text().splitlines()]
    seen = [(e["workload"], e["version"]) for e in events]
    assert seen == [("stable", "1.2.0"), ("canary", "1.2.0"), ("canary", "1.3.0"), ("stable", "1.3.0"),
                    ("canary", "1.4.0"), ("canary", "1.3.0")]
    commits = set(run_git(work / "gitops.git", "log", "--format=%H", "main").splitlines())
    assert all(e["gitops_commit"] in commits for e in events)
    summary = json.loads((work / "records" / "summary.json").read_text())
    assert summary["running"] == {"stable": "1.3.0", "canary": "1.3.0"}
    assert summary["canary"]["1.3.0"]["decision"] == "promote"
    assert summary["canary"]["1.4.0"]["decision"] == "rollback"


def test_records_hold_the_deployment_lifecycle_and_the_reports(
        demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    work, _ = demo_run
    records = work / "records"
    lines = [json.loads(line) for line in (records / "gitops" / "deployments" / "production.jsonl").read_text()
             .splitlines()]
    events = [(r["event"], r["version"]) for r in lines]
    assert ("deployment_opened_v1", "v1.3.0") in events and ("deployment_concluded_v1", "v1.3.0") in events
    assert ("bump", "v1.4.0") in events and ("rollback", "v1.3.0") in events
    shelved = next(r for r in lines if r["event"] == "deployment_shelved_v1")
    assert shelved["version"] == "v1.4.0" and shelved["cause"] == "canary-failed"
    assert json.loads((records / "canary-v1.4.0.json").read_text())["decision"] == "rollback"
    assert json.loads((records / "canary-v1.3.0.json").read_text())["decision"] == "promote"
    for version in ("1.3.0", "1.4.0"):
        assert (records / f"smoke-v{version}.json").is_file()


def test_bad_input_and_mutable_tags_are_refused_with_exit_2(
        demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    _, proc = demo_run
    assert "input 'bump': got 'huge'" in proc.stdout
    assert "input 'tag': got 'latest'" in proc.stdout
    assert proc.stdout.count("→ exit status 2") == 2


# -- the app service -----------------------------------------------------------------------------


def test_app_service_runs_the_version_it_is_given_and_counts_requests() -> None:
    service = AppService("canary", {"v2.0.0": 1.0})
    try:
        assert _get(service.url + "/health")[0] == 503
        service.set_version("v1.0.0")
        status, body = _get(service.url + "/health")
        assert (status, json.loads(body)) == (200, {"status": "ok", "version": "1.0.0"})
        assert _get(service.url + "/")[0] == 200
        service.set_version("2.0.0")
        assert _get(service.url + "/")[0] == 500
        metrics = _get(service.url + "/metrics")[1].decode()
        assert 'http_requests_total{code="200",track="canary",version="1.0.0"} 1.0' in metrics
        assert 'http_requests_total{code="500",track="canary",version="2.0.0"} 1.0' in metrics
        assert 'http_request_duration_seconds_count{track="canary"} 2.0' in metrics
        service.set_version(None)
        assert service.version is None and _get(service.url + "/")[0] == 503
    finally:
        service.close()


def test_traffic_reaches_every_url() -> None:
    services = [AppService("stable"), AppService("canary")]
    for service in services:
        service.set_version("1.0.0")
    traffic = Traffic([s.url + "/" for s in services], rate=40)
    try:
        import time

        deadline = time.monotonic() + 10
        while traffic.sent < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        traffic.close()
        for service in services:
            service.close()
    assert traffic.sent >= 20 and traffic.failed == 0


# -- the registry --------------------------------------------------------------------------------


def test_embedded_registry_serves_the_oci_layout_to_the_registry_client(tmp_path: Path) -> None:
    registry, why = start_registry(tmp_path, "embedded")
    try:
        published = registry.publish("org/app", "v1.3.0", "1.3.0")
        assert registry.kind == "embedded" and why
        assert (tmp_path / "oci" / "org" / "app" / "index.json").is_file()
        with RegistryClient() as client:
            by_tag = client.manifest(ImageRef.parse(published.reference))
            assert by_tag is not None and by_tag.digest == published.digest
            by_digest = client.manifest(ImageRef.parse(f"{registry.host}/org/app@{published.digest}"))
            assert by_digest is not None and by_digest.digest == published.digest
            assert client.manifest(ImageRef.parse(f"{registry.host}/org/app:v9.9.9")) is None
            assert client.manifest(ImageRef.parse(f"{registry.host}/org/other:v1.3.0")) is None
        status, _ = _get(f"http://{registry.host}/v2/org/app/blobs/{published.digest}")
        assert status == 200
        request = urllib.request.Request(f"http://{registry.host}/v2/org/app/manifests/v2", method="PUT", data=b"{}")
        assert _get_request(request) == 405
    finally:
        registry.close()


def _get_request(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


# -- the reconciler ------------------------------------------------------------------------------


def _seed(repo: GitRepo) -> None:
    repo.commit("feat: stable and canary", {"stable/kustomization.yaml": _kustomization("v1.0.0"),
                                            "canary/kustomization.yaml": _kustomization("v1.0.0")})
    repo.push()


def test_reconciler_follows_the_gitops_repository(git_repo: GitRepo) -> None:
    _seed(git_repo)
    stable, canary = AppService("stable"), AppService("canary")
    reconciler = Reconciler(str(git_repo.remote), "main", IMAGE,
                            {"stable": ("stable/kustomization.yaml", stable),
                             "canary": ("canary/kustomization.yaml", canary)}, interval=0.1)
    try:
        reconciler.start()
        first = reconciler.wait_for("stable", "1.0.0", timeout=10)
        reconciler.wait_for("canary", "v1.0.0", timeout=10)
        assert first == git_repo.git("rev-parse", "HEAD")
        git_repo.commit("chore: Bump app to v1.1.0", {"canary/kustomization.yaml": _kustomization("v1.1.0")})
        git_repo.push()
        bumped = reconciler.wait_for("canary", "1.1.0", timeout=10)
        assert bumped == git_repo.git("rev-parse", "HEAD")
        assert (canary.version, stable.version) == ("1.1.0", "1.0.0")
        git_repo.git("rm", "-q", "canary/kustomization.yaml")
        git_repo.commit("chore: remove the canary")
        git_repo.push()
        reconciler.wait_for("canary", None, timeout=10)
        assert canary.version is None
        assert [(w, v) for _, w, v, _ in reconciler.events] == [
            ("stable", "1.0.0"), ("canary", "1.0.0"), ("canary", "1.1.0"), ("canary", None)]
        with pytest.raises(TimeoutError, match=r"stable did not reach 9\.9\.9"):
            reconciler.wait_for("stable", "9.9.9", timeout=0.3)
    finally:
        reconciler.stop()
        stable.close()
        canary.close()


def test_reconciler_keeps_running_what_runs_when_a_manifest_is_ambiguous(git_repo: GitRepo) -> None:
    _seed(git_repo)
    stable = AppService("stable")
    reconciler = Reconciler(str(git_repo.remote), "main", IMAGE, {"stable": ("stable/kustomization.yaml", stable)},
                            interval=0.1)
    try:
        reconciler.start()
        reconciler.wait_for("stable", "1.0.0", timeout=10)
        two_tags = _kustomization("v1.1.0") + f"  - name: {IMAGE}\n    newTag: v1.2.0\n"
        git_repo.commit("chore: two tags", {"stable/kustomization.yaml": two_tags})
        git_repo.push()
        with pytest.raises(TimeoutError, match="more than one tag"):
            reconciler.wait_for("stable", "1.1.0", timeout=2)
        assert stable.version == "1.0.0"
    finally:
        reconciler.stop()
        stable.close()


def test_reconciler_fetches_over_smart_http(git_http: GitHttpServer, git_repo: GitRepo,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _seed(git_repo)
    run_git(git_http.root, "clone", "-q", "--bare", str(git_repo.remote), "gitops.git")
    # The reconciler carries no credentials; git's own configuration supplies them, as for Flux's secret.
    header = "Authorization: Basic " + base64.b64encode(f"x-access-token:{git_http.token}".encode()).decode()
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "http.extraHeader")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", header)
    stable = AppService("stable")
    reconciler = Reconciler(git_http.url("gitops.git"), "main", IMAGE, {"stable": ("stable/kustomization.yaml", stable)},
                            interval=0.1)
    try:
        reconciler.start()
        reconciler.wait_for("stable", "1.0.0", timeout=10)
    finally:
        reconciler.stop()
        stable.close()
    assert any("git-upload-pack" in line for line in git_http.requests)


def test_the_demo_ends_with_its_operations_report(demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    work, _ = demo_run
    report = (work / "report.md").read_text()
    section = report.split("The operations report, from the records", 1)[1]
    data = json.loads((work / "records" / "report" / "report.json").read_text())
    # The story: app 1.3.0 concluded, app 1.4.0 rolled back on the canary with the canary's reason; then the
    # router chapters' shop 1.5.0 (stopped at its first stage) and cart 1.4.1 (caught by the watch).
    production = [(d["app"], d["version"], d["outcome"]) for d in data["deployments"] if d["environment"] == "production"]
    assert production == [("app", "v1.3.0", "concluded"), ("app", "v1.4.0", "rolled-back"),
                          ("cart", "v1.4.1", "rolled-back"), ("shop", "v1.4.0", "superseded"),
                          ("shop", "v1.5.0", "rolled-back")]
    rate = data["dora"]["fleet"]["change_failure_rate"]
    assert (rate["failed"], rate["of"]) == (3, 4) and rate["value"] == 0.75
    assert sorted((r["app"], r["environment"], r["from_version"], r["to_version"]) for r in data["rollbacks"]) == [
        ("app", "production", "v1.4.0", "v1.3.0"), ("cart", "production", "v1.4.1", "v1.3.0"),
        ("shop", "production", "v1.5.0", "v1.4.0"), ("shop", "staging", "v1.4.0", "v1.3.0")]
    running = {(r["app"], r["environment"]): r for r in data["running"]}
    assert running[("app", "production")]["version"] == "v1.3.0" and running[("app", "production")]["via"] == "rollback"
    facts = json.loads((work / "records" / "summary.json").read_text())
    assert running[("app", "production")]["gitops_commit"] == facts["rollback_commit"]  # the commit that rolled back
    assert len(data["incidents"]) == 4
    # shop 1.4.0 reaches production's canary and staging's blue/green slot in chapters that run side by
    # side: whichever goes first, production to staging is never counted as a promotion.
    assert [d for d in data["deployments"] if (d["promoted_from"], d["environment"]) == ("production", "staging")] \
        == []
    # Every record the demo's commands wrote is one the report reads, the staged canary's traffic moves included.
    assert data["warnings"] == []
    for text in ("### Operations report:", "#### DORA keys (production)", "```mermaid", "| v1.4.0 | v1.3.0 |",
                 "(records/report/deployments-per-day.svg)"):
        assert text in section
    assert (work / "records" / "report" / "deployments-per-day.svg").is_file()


# -- the router chapters: each outcome read back from the GitOps repository, nginx and Prometheus -------

PROD, STAGING, CART = "apps/shop/production", "apps/shop/staging", "apps/cart/production"


def _commits(work: Path, *paths: str) -> list[tuple[str, str]]:
    """(sha, subject) of every GitOps commit (touching `paths`), oldest first."""
    log = run_git(work / "gitops.git", "log", "--reverse", "--format=%H %s", "main", "--", *paths).splitlines()
    return [(line[:40], line[41:]) for line in log]


def _yaml_at(work: Path, sha: str, path: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(run_git(work / "gitops.git", "show", f"{sha}:{path}")) if d]


def _route_weights(work: Path, sha: str) -> dict[str, int]:
    route = _yaml_at(work, sha, f"{PROD}/route.yaml")[0]
    return {b["name"]: b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]}


def _live_slot(work: Path, sha: str) -> str:
    return next(d["spec"]["selector"]["slot"] for d in _yaml_at(work, sha, f"{STAGING}/services.yaml")
                if d["metadata"]["name"] == "shop")


def _image(work: Path, sha: str, path: str) -> str:
    return str(_yaml_at(work, sha, path)[0]["spec"]["template"]["spec"]["containers"][0]["image"])


def _nginx(work: Path) -> dict[str, dict[str, dict[str, int]]]:
    """What each nginx router was configured with from each GitOps commit: that of the first commit the
    reconciler applied at or after it (it fetches the tip; a commit followed within its interval by
    another, from a chapter running alongside, is applied with it). The history is linear."""
    applied = {e["commit"]: e["nginx"] for e in map(json.loads, (work / "records" / "router.jsonl").read_text()
                                                     .splitlines())}
    shas = [sha for sha, _ in _commits(work)]
    return {sha: next(applied[later] for later in shas[i:] if later in applied) for i, sha in enumerate(shas)
            if any(later in applied for later in shas[i:])}


def _scenario(work: Path, name: str) -> dict:
    summary = json.loads((work / "records" / "summary.json").read_text())
    return next(s for s in summary["scenarios"] if s["scenario"] == name)


def _between(commits: list[tuple[str, str]], first: str, last_prefix: str) -> list[tuple[str, str]]:
    start = next(i for i, (_, s) in enumerate(commits) if s == first)
    end = next(i for i, (_, s) in enumerate(commits) if i > start and s.startswith(last_prefix))
    return commits[start:end + 1]


def test_a_good_release_walks_every_stage_and_nginx_follows_each_commit(
        demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    work, _ = demo_run
    nginx = _nginx(work)
    walk = _between(_commits(work, PROD), "chore: Shift shop canary to 10% in production",
                    "chore: Shift shop canary to 0% in production")
    shifts = [(sha, s) for sha, s in walk if "canary to" in s]
    assert [_route_weights(work, sha)["shop-canary"] for sha, _ in shifts] == [10, 30, 50, 90, 100, 0]
    for sha, _ in shifts:  # each stage was judged for at least a second: the reconciler applied every one
        weights = _route_weights(work, sha)
        assert nginx[sha]["production"] == weights, sha
        assert sum(weights.values()) == 100
    promote = next(sha for sha, s in walk if s == "chore: Bump shop to v1.4.0")
    assert _image(work, promote, f"{PROD}/stable/deployment.yaml").endswith("/org/shop:v1.4.0")
    assert [s for _, s in walk].index("chore: Shift shop canary to 100% in production") < [
        s for _, s in walk].index("chore: Bump shop to v1.4.0")  # the stable gets the tag only after 100 %
    scenario = _scenario(work, "staged canary, good release")
    assert scenario["through_router"] == {"at 100%": {"canary": 50}, "after": {"stable": 50}}
    # Prometheus saw the split each commit asked for: the users' requests nginx forwarded in each stage,
    # counted by the services (nginx's weighted round robin is exact, but the two services are scraped at
    # different moments of each interval, so a stage's two counts cover slightly different spans: a few
    # requests plus a tenth of the stage's, at most). A stage of a second or two may hold no scrape on a
    # loaded machine (Prometheus drops a scrape that times out): those are left out, but most stages must
    # be seen.
    stages = scenario["prometheus"]
    assert [st["nginx"]["shop-canary"] for st in stages] == [10, 30, 50, 90, 100]
    seen = [st for st in stages if sum(st["prometheus"].values()) >= 10]
    assert len(seen) >= 3, stages
    for st in seen:
        canary, total = st["prometheus"]["canary"], sum(st["prometheus"].values())
        assert abs(canary - total * st["nginx"]["shop-canary"] / 100) <= 3 + total / 10, st


def test_a_bad_release_is_stopped_at_its_first_stage_in_one_forward_commit(
        demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    work, _ = demo_run
    remote = work / "gitops.git"
    walk = _between(_commits(work, PROD), "chore: Bump shop to v1.5.0", "fix: Shift shop canary back to 0%")
    assert [s for _, s in walk][1] == "chore: Shift shop canary to 10% in production"
    assert len(walk) == 3  # the bump, its first stage, and the rollback: never more than 10 %
    fix, subject = walk[-1]
    # The demo gates on both the error rate and its increase over the baseline; on a loaded machine
    # either can be the first to cross, and both mean the bad release's errors stopped it.
    assert re.match(r"fix: Shift shop canary back to 0% due to stage 1/5 at 10%: error-(rate|increase) ",
                    subject), subject
    assert _route_weights(work, fix) == {"shop": 100, "shop-canary": 0}
    assert _image(work, fix, f"{PROD}/canary/deployment.yaml").endswith("/org/shop:v1.4.0")  # in the same commit
    files = run_git(remote, "show", "--format=", "--name-only", fix).splitlines()
    assert f"{PROD}/route.yaml" in files and f"{PROD}/canary/deployment.yaml" in files
    assert any(f.startswith("incidents/") and f.endswith("-shop.md") for f in files)
    assert "error rate" in run_git(remote, "log", "-1", "--format=%B", fix)
    assert _nginx(work)[fix]["production"] == {"shop": 100, "shop-canary": 0}
    scenario = _scenario(work, "staged canary, bad release")
    assert (scenario["stage"], scenario["through_router"]) == (1, {"after": {"stable": 50}})


def test_blue_green_switches_to_the_idle_slot_and_back_through_nginx(
        demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    work, _ = demo_run
    nginx = _nginx(work)
    walk = _between(_commits(work, STAGING), "chore: Switch shop to green (v1.4.0) in staging",
                    "fix: Switch shop back to blue")
    assert len(walk) == 2
    (switch, _), (back, subject) = walk
    assert subject == "fix: Switch shop back to blue (v1.3.0) due to the demo switches back"
    assert (_live_slot(work, switch), _live_slot(work, back)) == ("green", "blue")
    assert _image(work, switch, f"{STAGING}/green/deployment.yaml").endswith("/org/shop:v1.4.0")
    assert _image(work, back, f"{STAGING}/green/deployment.yaml").endswith("/org/shop:v1.4.0")  # still running
    assert (nginx[switch]["staging"], nginx[back]["staging"]) == ({"green": 1}, {"blue": 1})
    assert _scenario(work, "blue/green, switched and back")["through_router"] == {
        "before": {"blue": 20}, "switched": {"green": 20}, "back": {"blue": 20}}


def test_a_rolling_deploy_is_caught_by_the_watch_and_rolled_back(
        demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    work, _ = demo_run
    remote = work / "gitops.git"
    walk = _between(_commits(work, CART), "chore: Bump cart to v1.4.1", "fix: Rollback cart to v1.3.0 due to the watch")
    assert len(walk) == 2
    bump, rollback = walk[0][0], walk[1][0]
    assert _image(work, bump, f"{CART}/deployment.yaml").endswith("/org/cart:v1.4.1")
    assert _image(work, rollback, f"{CART}/deployment.yaml").endswith("/org/cart:v1.3.0")
    files = run_git(remote, "show", "--format=", "--name-only", rollback).splitlines()
    assert any(f.startswith("incidents/") and f.endswith("-cart.md") for f in files)
    ledger = [json.loads(line) for line in run_git(remote, "show", "main:deployments/production.jsonl").splitlines()]
    cart = [(r["event"], r["version"], r["strategy"]) for r in ledger if r["app"] == "cart"]
    assert cart == [("bump", "v1.4.1", "rolling"), ("rollback", "v1.3.0", "rolling")]
    watch = json.loads((work / "records" / "watch-cart-v1.4.1.json").read_text())
    assert watch["decision"] == "rollback" and watch["baseline"]["mode"] == "before-deploy"
    assert "before the deploy" in watch["baseline"]["described"]
    assert {v["metric"]: v["verdict"] for v in watch["verdicts"]}["error-rate"] == "fail"
    # Prometheus, read when the cart was back on v1.3.0: the bad version's 500s, none from the good one.
    served = _scenario(work, "rolling, caught by the watch")["prometheus"]
    assert served.get("1.4.1 500", 0) > 0 and "1.3.0 500" not in served and served["1.3.0 200"] > 0


def test_the_report_lists_the_router_chapters_deployments_with_their_strategy(
        demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    work, proc = demo_run
    report = (work / "report.md").read_text()
    for row in ("| staged canary, good release | shop | production | canary | v1.4.0 | promoted at stage 5/5 |",
                "| staged canary, bad release | shop | production | canary | v1.5.0 | rolled back at stage 1/5 |",
                "| blue/green, switched and back | shop | staging | blue-green | v1.4.0 | switched to green, and back "
                "to blue |",
                "| rolling, caught by the watch | cart | production | rolling | v1.4.1 | rolled back |"):
        assert row in report
    data = json.loads((work / "records" / "report" / "report.json").read_text())
    strategies = {(d["app"], d["environment"], d["version"]): d["strategy"] for d in data["deployments"]}
    assert strategies[("shop", "production", "v1.5.0")] == "canary"
    assert strategies[("shop", "staging", "v1.4.0")] == "blue-green"
    assert strategies[("cart", "production", "v1.4.1")] == "rolling"
    # Every GitOps commit is shown, and the shortened durations are said.
    for sha, _ in _commits(work):
        assert sha[:7] in proc.stdout
    assert "Durations are shortened for the demo" in proc.stdout and "10 minutes in the runbooks" in report
