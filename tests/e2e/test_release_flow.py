"""The release half, end to end: a caller repository's workflows run under act and use
`org/deploy-actions/...@v1` exactly as users write them; the bare remote is the judge.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.fakes.github_api import GitHubAPIFake
from tests.plugins.act import REPO_ROOT, Act, ActRun
from tests.plugins.git_repos import GitRepo

pytestmark = pytest.mark.e2e

PYPROJECT = """\
# The app's metadata; version-bump changes the version and nothing else.
[project]
name = "app"
version = "1.2.0"   # kept in sync by the release workflow
description = "An app that is released by deploy-actions"
"""

CHANGELOG = """\
# Changelog

All notable changes to this project will be documented in this file.

The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).

## [Unreleased]

## [1.3.0] - 2026-01-02

### Added

- Export to CSV.

### Fixed

- Empty rows no longer crash the importer.

## [1.2.0] - 2026-01-01

### Added

- First public release.

[Unreleased]: https://github.com/org/app/compare/v1.3.0...HEAD
[1.3.0]: https://github.com/org/app/compare/v1.2.0...v1.3.0
[1.2.0]: https://github.com/org/app/releases/tag/v1.2.0
"""

# Each job appends its outputs, as one JSON object, to $DA_TEST_RESULTS (set by the harness);
# outputs reach the script through env:, as they must in real workflows.
RECORD = """|
          python3 - >> "$DA_TEST_RESULTS" <<'PY'
          import json, os
          print(json.dumps({k[4:].lower(): v for k, v in os.environ.items() if k.startswith("OUT_")}))
          PY"""

STEP_BY_STEP = f"""\
name: release
on: push
permissions:
  contents: write
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - name: Check out
        run: git clone --quiet "$DA_TEST_CHECKOUT_REMOTE" .
      - id: plan
        uses: org/deploy-actions/version-bump@v1
        with:
          dry-run: true
      - id: changelog
        if: steps.plan.outputs.released == 'true'
        uses: org/deploy-actions/changelog-check@v1
        with:
          version: ${{{{ steps.plan.outputs.version }}}}
      - id: bump
        if: steps.plan.outputs.released == 'true'
        uses: org/deploy-actions/version-bump@v1
        with:
          version-files: pyproject.toml
          push: true
      - name: Record the outputs
        if: always()
        env:
          OUT_JOB: release
          OUT_PLANNED: ${{{{ steps.plan.outputs.version }}}}
          OUT_VERSION: ${{{{ steps.bump.outputs.version }}}}
          OUT_PREVIOUS_VERSION: ${{{{ steps.bump.outputs.previous-version }}}}
          OUT_TAG: ${{{{ steps.bump.outputs.tag }}}}
          OUT_BUMP: ${{{{ steps.bump.outputs.bump }}}}
          OUT_RELEASED: ${{{{ steps.plan.outputs.released }}}}
          OUT_COMMIT_SHA: ${{{{ steps.bump.outputs.commit-sha }}}}
          OUT_RELEASE_NOTES: ${{{{ steps.bump.outputs.release-notes }}}}
          OUT_CHANGELOG_VERSION: ${{{{ steps.changelog.outputs.version }}}}
          OUT_CHANGELOG_FOUND: ${{{{ steps.changelog.outputs.found }}}}
          OUT_CHANGELOG_NOTES: ${{{{ steps.changelog.outputs.notes }}}}
        run: {RECORD}
"""

REUSABLE = f"""\
name: release
on: push
permissions:
  contents: read
jobs:
  release:
    permissions:
      contents: write
    uses: org/deploy-actions/.github/workflows/release.yml@v1
    with:
      version-files: pyproject.toml
  report:
    needs: release
    runs-on: ubuntu-latest
    steps:
      - name: Record the outputs
        env:
          OUT_JOB: report
          OUT_VERSION: ${{{{ needs.release.outputs.version }}}}
          OUT_TAG: ${{{{ needs.release.outputs.tag }}}}
          OUT_RELEASED: ${{{{ needs.release.outputs.released }}}}
        run: {RECORD}
"""


def caller_repository(repo: GitRepo, workflow: str, *, changelog: str = CHANGELOG) -> Path:
    """`repo` as released at v1.2.0, then three Conventional Commits (feat, fix, docs)."""
    repo.commit("feat: first public release", {"pyproject.toml": PYPROJECT})
    repo.tag("v1.2.0")
    repo.commit("feat: export to CSV", {"app/export.py": "def export(rows): ...\n"})
    repo.commit("fix: handle empty rows", {"app/importer.py": "def load(rows): ...\n"})
    workflow_file = repo.write(".github/workflows/release.yml", workflow)
    repo.commit("docs: changelog for 1.3.0", {"CHANGELOG.md": changelog})
    repo.push()
    return workflow_file


def remote_tags(repo: GitRepo) -> list[str]:
    return repo.remote_git("tag", "--list").split()


def assert_released_1_3_0(repo: GitRepo, run: ActRun) -> str:
    """The remote holds the release commit on main, tagged v1.3.0, with only the version changed;
    returns the release commit."""
    assert run.ok, run.report
    assert remote_tags(repo) == ["v1.2.0", "v1.3.0"], run.report
    head = repo.remote_git("rev-parse", "main")
    assert repo.remote_git("rev-parse", "v1.3.0^{commit}") == head
    assert repo.remote_git("log", "-1", "--format=%s", head) == "chore: Bump version to 1.3.0"
    assert repo.remote_git("cat-file", "-t", "v1.3.0") == "tag", "release tags are annotated"
    before = repo.git("rev-parse", "HEAD")
    assert repo.remote_git("rev-parse", f"{head}^") == before, "one commit on top of main"
    changed = repo.remote_git("diff", "--name-only", before, head).split()
    assert changed == ["pyproject.toml"]
    released = repo.remote_git("show", f"{head}:pyproject.toml")
    assert released == PYPROJECT.replace('version = "1.2.0"', 'version = "1.3.0"').rstrip("\n")
    return head


def test_step_by_step_release_tags_commits_and_pushes(act: Act, git_repo: GitRepo) -> None:
    workflow = caller_repository(git_repo, STEP_BY_STEP)

    run = act.run(workflow, cwd=git_repo.path, checkout_remote=git_repo.remote)

    head = assert_released_1_3_0(git_repo, run)
    out = run.record(job="release")
    assert out["planned"] == "1.3.0"
    assert out["version"] == "1.3.0"
    assert out["previous_version"] == "1.2.0"
    assert out["tag"] == "v1.3.0"
    assert out["bump"] == "minor"
    assert out["released"] == "true"
    assert out["commit_sha"] == head
    assert "export to CSV" in out["release_notes"]
    assert "handle empty rows" in out["release_notes"]
    assert out["changelog_version"] == "1.3.0"
    assert out["changelog_found"] == "true"
    assert "- Export to CSV." in out["changelog_notes"]
    # Three uses of the actions in one job, and the warm environment was reused by all of them.
    assert "deploy-actions: setting up" not in run.log, run.report


def test_reusable_workflow_releases_and_passes_outputs_on(act: Act, git_repo: GitRepo) -> None:
    workflow = caller_repository(git_repo, REUSABLE)

    run = act.run(workflow, cwd=git_repo.path, checkout_remote=git_repo.remote)

    assert_released_1_3_0(git_repo, run)
    out = run.record(job="report")
    assert (out["version"], out["tag"], out["released"]) == ("1.3.0", "v1.3.0", "true")


def test_a_second_run_releases_nothing(act: Act, git_repo: GitRepo, tmp_path: Path) -> None:
    workflow = caller_repository(git_repo, STEP_BY_STEP)
    first = act.run(workflow, cwd=git_repo.path, checkout_remote=git_repo.remote)
    head = assert_released_1_3_0(git_repo, first)

    # The caller's next push is the release commit itself: nothing releasable since v1.3.0.
    git_repo.git("pull", "-q", "--ff-only", "origin", "main")
    again = act.run(workflow, cwd=git_repo.path, checkout_remote=git_repo.remote)

    assert again.ok, again.report
    assert remote_tags(git_repo) == ["v1.2.0", "v1.3.0"]
    assert git_repo.remote_git("rev-parse", "main") == head
    out = again.record(job="release")
    assert out["released"] == "false"
    assert out["version"] == ""


def test_missing_changelog_entry_stops_the_release_before_anything_is_pushed(
        act: Act, git_repo: GitRepo) -> None:
    without_entry = CHANGELOG.replace("## [1.3.0] - 2026-01-02", "## [1.2.1] - 2026-01-02")
    workflow = caller_repository(git_repo, STEP_BY_STEP, changelog=without_entry)
    before = git_repo.remote_git("rev-parse", "main")

    run = act.run(workflow, cwd=git_repo.path, checkout_remote=git_repo.remote)

    assert run.returncode != 0, run.report
    assert "1.3.0" in run.log and "::error" in run.log, run.report
    assert remote_tags(git_repo) == ["v1.2.0"]
    assert git_repo.remote_git("rev-parse", "main") == before
    assert run.record(job="release")["version"] == ""


def test_bad_input_fails_with_one_line_naming_it(act: Act, git_repo: GitRepo) -> None:
    workflow = caller_repository(git_repo, textwrap.dedent("""\
        name: bad input
        on: push
        jobs:
          release:
            runs-on: ubuntu-latest
            steps:
              - run: git clone --quiet "$DA_TEST_CHECKOUT_REMOTE" .
              - uses: org/deploy-actions/version-bump@v1
                with:
                  bump: sideways
        """))

    run = act.run(workflow, cwd=git_repo.path, checkout_remote=git_repo.remote)

    assert run.returncode != 0, run.report
    assert "input 'bump': got 'sideways'; expected one of auto, major, minor" in run.log, run.report
    assert "Traceback" not in run.log, run.report
    assert remote_tags(git_repo) == ["v1.2.0"]


def test_reusable_workflow_publishes_the_github_release(act: Act, git_repo: GitRepo,
                                                        github_api: GitHubAPIFake) -> None:
    workflow = caller_repository(git_repo, REUSABLE.replace(
        "      version-files: pyproject.toml\n",
        "      version-files: pyproject.toml\n      github-release: true\n"))

    run = act.run(workflow, cwd=git_repo.path, checkout_remote=git_repo.remote,
                  env={"GITHUB_API_URL": github_api.url,
                       "GITHUB_REPOSITORY": github_api.repository},
                  secrets={"GITHUB_TOKEN": github_api.token})

    assert_released_1_3_0(git_repo, run)
    release = github_api.release_for_tag("v1.3.0")
    assert release is not None, run.report
    assert not release.prerelease and not release.draft
    assert "export to CSV" in (release.body or "")
    assert github_api.token not in run.log


def test_starter_workflow_releases_as_copied(act: Act, git_repo: GitRepo,
                                             github_api: GitHubAPIFake) -> None:
    """workflows/release.yml, copied unchanged into a caller: its release job releases. (Its
    publish job builds a container, which act's host mode cannot run; tests/e2e/test_deploy_flow.py
    pushes the image in its place and runs the deploy leg.)"""
    starter = (REPO_ROOT / "workflows" / "release.yml").read_text(encoding="utf-8")
    workflow = caller_repository(git_repo, starter)

    run = act.run(workflow, cwd=git_repo.path, checkout_remote=git_repo.remote, job="release",
                  env={"GITHUB_API_URL": github_api.url,
                       "GITHUB_REPOSITORY": github_api.repository},
                  secrets={"GITHUB_TOKEN": github_api.token})

    assert_released_1_3_0(git_repo, run)
    assert github_api.release_for_tag("v1.3.0") is not None, run.report
