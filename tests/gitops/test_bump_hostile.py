"""gitops-bump against hostile input: option injection, forged provenance, a deploy branch that is
the base, records read back, huge messages, and failures after the edit. Real repositories over the
authenticated HTTP git server; nothing is mocked but the moment a concurrent push lands."""

from __future__ import annotations

import json

import pytest

from deploy_actions.cli import main
from tests.gitops.test_bump import bump, gh, gitops, show  # noqa: F401 -- gh, gitops: fixtures
from tests.plugins.git_repos import run_git

OPTION_LIKE = ["--upload-pack=touch {marker}", "-c core.sshCommand=touch {marker}", "main..dev", "ma in",
               "main\n--upload-pack=x", "refs/heads/../x", "@", ".hidden", "x.lock", "a//b"]


@pytest.mark.parametrize("ref", OPTION_LIKE)
def test_a_ref_that_is_not_a_branch_name_is_refused_before_git_sees_it(gitops, capsys, monkeypatch, tmp_path, ref):
    marker = tmp_path / "pwned"
    before = run_git(gitops["bare"], "rev-parse", "main")
    code, _, err = bump(capsys, "--repository", gitops["url"], "--image", "ghcr.io/org/app", "--tag", "v0.7.3",
                        "--ref", ref.format(marker=marker), token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 2 and err.count("\n") == 1 and "input 'ref'" in err and "Traceback" not in err
    assert not marker.exists() and run_git(gitops["bare"], "rev-parse", "main") == before


def test_version_bump_refuses_an_option_like_remote(git_repo, capsys, tmp_path):
    marker = tmp_path / "pwned"
    code = main(["version-bump", "--repo", str(git_repo.path), "--push", "true",
                 "--remote", f"--receive-pack=touch {marker}"])
    err = capsys.readouterr().err
    assert code == 2 and "input 'remote'" in err and not marker.exists()


@pytest.mark.parametrize(("flag", "value"), [
    ("--source-commit", "abc1234\nSigned-off-by: Mallory <m@evil>"),
    ("--source-commit", "not-a-commit"),
    ("--source-repository", "org/app\nWorkflow-Run: https://evil.example/run"),
    ("--run-url", "https://github.com/org/app/actions/runs/1\nApproved-by: nobody"),
    ("--run-url", "http://evil.example/run"),
    ("--actor", "octocat\nSigned-off-by: Mallory"),
])
def test_provenance_that_would_forge_trailers_is_refused(gitops, capsys, monkeypatch, flag, value):
    before = run_git(gitops["bare"], "rev-parse", "main")
    code, _, err = bump(capsys, "--repository", gitops["url"], "--image", "ghcr.io/org/app", "--tag", "v0.7.3",
                        "--path", "apps/app/overlays/staging", flag, value, token=gitops["token"],
                        monkeypatch=monkeypatch)
    assert code == 2 and f"input '{flag[2:]}'" in err and err.count("\n") == 1
    assert run_git(gitops["bare"], "rev-parse", "main") == before


def test_a_forged_record_read_back_by_a_promotion_stops_it(gitops, capsys, monkeypatch, tmp_path):
    work = tmp_path / "work"
    run_git(tmp_path, "clone", "-q", str(gitops["bare"]), str(work))
    (work / "deployments").mkdir()
    forged = {"event": "bump", "app": "app", "version": "v0.7.2", "environment": "staging",
              "source_commit": "abc1234\nSigned-off-by: Mallory", "source_repository": "org/app"}
    (work / "deployments" / "staging.jsonl").write_text(json.dumps(forged) + "\n")
    run_git(work, "add", "-A")
    run_git(work, "-c", "user.name=m", "-c", "user.email=m@x", "commit", "-qm", "a record")
    run_git(work, "push", "-q", "origin", "main")
    before = run_git(gitops["bare"], "rev-parse", "main")
    code, _, err = bump(capsys, "--repository", gitops["url"], "--image", "ghcr.io/org/app",
                        "--promote-from", "staging", "--path", "apps/app/overlays/{environment}",
                        "--environment", "production", token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 2 and "deployments/staging.jsonl" in err and "source_commit" in err and "Traceback" not in err
    assert run_git(gitops["bare"], "rev-parse", "main") == before


@pytest.mark.parametrize("branch", ["main", "master", "release/1.x", "production"])
def test_pull_request_mode_never_rewrites_the_base_or_a_protected_branch(gitops, capsys, monkeypatch, branch):
    before = run_git(gitops["bare"], "rev-parse", "main")
    code, _, err = bump(capsys, "--repository", gitops["url"], "--github-repository", "org/gitops",
                        "--image", "ghcr.io/org/app", "--tag", "v0.7.3", "--path", "apps/app/overlays/staging",
                        "--mode", "pull-request", "--branch", branch, token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 2 and "input 'branch'" in err
    assert run_git(gitops["bare"], "rev-parse", "main") == before


def test_the_deploy_branch_is_leased_against_the_tip_this_run_started_from(gitops, gh, capsys, monkeypatch,
                                                                           tmp_path):
    import deploy_actions.gitops.bump as bump_module

    monkeypatch.setattr(gh, "token", gitops["token"], raising=False)
    bare = gitops["bare"]
    run_git(bare, "branch", "deploy/app-staging", "main")
    real_plan = bump_module._plan

    def plan_while_someone_pushes(*args, **kwargs):  # a person pushes a review fix to the deploy branch meanwhile
        other = tmp_path / "other"
        if not other.exists():
            run_git(tmp_path, "clone", "-q", "--branch", "deploy/app-staging", str(bare), str(other))
            (other / "NOTE.md").write_text("a reviewer's fix\n")
            run_git(other, "add", "-A")
            run_git(other, "-c", "user.name=r", "-c", "user.email=r@x", "commit", "-qm", "review fix")
            run_git(other, "push", "-q", "origin", "deploy/app-staging")
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(bump_module, "_plan", plan_while_someone_pushes)
    code, _, err = bump(capsys, "--repository", gitops["url"], "--github-repository", gh.repository,
                        "--image", "ghcr.io/org/app", "--tag", "v0.7.3", "--path", "apps/app/overlays/staging",
                        "--environment", "staging", "--mode", "pull-request", token=gitops["token"],
                        monkeypatch=monkeypatch)
    assert code == 1 and "Traceback" not in err
    assert show(bare, "deploy/app-staging", "NOTE.md") == "a reviewer's fix\n"  # the person's push survives


def _local_gitops(tmp_path):
    repo = tmp_path / "local"
    (repo / "apps").mkdir(parents=True)
    (repo / "apps" / "deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
        "        - name: app\n          image: ghcr.io/org/app:v2.0.0\n")
    run_git(tmp_path, "init", "-q", "-b", "main", str(repo))
    run_git(repo, "add", "-A")
    run_git(repo, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "seed")
    return repo


def test_a_70000_character_reason_is_committed_through_stdin(tmp_path, capsys):
    repo = _local_gitops(tmp_path)
    reason = "the canary said so; " * 3500
    code = main(["gitops-bump", "--path", str(repo / "apps"), "--image", "ghcr.io/org/app", "--tag", "v1.0.0",
                 "--verify-image", "false", "--mode", "commit", "--rollback", "true", "--reason", reason,
                 "--record", "", "--incident", ""])
    err = capsys.readouterr().err
    assert code == 0, err
    assert len(run_git(repo, "log", "-1", "--format=%B")) > 70_000


def test_a_commit_that_fails_after_the_edit_leaves_files_and_index_as_they_were(tmp_path, capsys):
    repo = _local_gitops(tmp_path)
    (repo / "staged.txt").write_text("someone's staged work\n")
    run_git(repo, "add", "staged.txt")
    index_before = (repo / ".git" / "index").read_bytes()
    manifest_before = (repo / "apps" / "deployment.yaml").read_bytes()
    hooks = repo / ".git" / "hooks"
    # git refuses to update a ref whose lock file exists: the failure comes after our edit and `git add`.
    (repo / ".git" / "refs" / "heads" / "main.lock").write_text("")
    code = main(["gitops-bump", "--path", str(repo / "apps"), "--image", "ghcr.io/org/app", "--tag", "v2.1.0",
                 "--verify-image", "false", "--mode", "commit", "--record", "deployments/{environment}.jsonl"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and err.strip().count("\n") == 0
    assert (repo / "apps" / "deployment.yaml").read_bytes() == manifest_before
    assert (repo / ".git" / "index").read_bytes() == index_before
    assert not (repo / "deployments").exists() and hooks.exists()
