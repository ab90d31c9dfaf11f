"""`make demo` tells the whole story, and its parts (the app service, the registry, the reconciler
standing in for Flux) do what the story says they do."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

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
    rollback = run_git(remote, "log", "-1", "--format=%H", "--grep=^fix: Rollback", "main")
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
    # The story: 1.3.0 concluded, 1.4.0 rolled back on the canary with the canary's reason.
    assert data["dora"]["fleet"]["change_failure_rate"] == {**data["dora"]["fleet"]["change_failure_rate"],
                                                            "value": 0.5, "failed": 1, "of": 2}
    assert [(r["from_version"], r["to_version"]) for r in data["rollbacks"]] == [("v1.4.0", "v1.3.0")]
    assert data["running"][0]["version"] == "v1.3.0" and data["running"][0]["via"] == "rollback"
    facts = json.loads((work / "records" / "summary.json").read_text())
    assert data["running"][0]["gitops_commit"] == facts["rollback_commit"]  # the commit that rolled back
    assert data["warnings"] == [] and len(data["incidents"]) == 1
    for text in ("### Operations report:", "#### DORA keys (production)", "```mermaid", "| v1.4.0 | v1.3.0 |",
                 "(records/report/deployments-per-day.svg)"):
        assert text in section
    assert (work / "records" / "report" / "deployments-per-day.svg").is_file()
