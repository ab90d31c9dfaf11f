"""A monorepo released under act: the caller's `.deploy-actions.yml` lists its packages, one
`org/deploy-actions/version-bump@v1` step releases each changed one, the bare remote is the judge."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_release_flow import RECORD
from tests.plugins.act import Act
from tests.plugins.git_repos import GitRepo

pytestmark = pytest.mark.e2e

SETTINGS = """\
version-bump:
  packages:
    services/api: {version-files: [pyproject.toml]}
    services/web: {version-files: [package.json]}
"""

WORKFLOW = f"""\
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
      - id: bump
        uses: org/deploy-actions/version-bump@v1
        with:
          push: true
      - name: Record the outputs
        if: always()
        env:
          OUT_JOB: release
          OUT_RELEASED: ${{{{ steps.bump.outputs.released }}}}
          OUT_RELEASED_COUNT: ${{{{ steps.bump.outputs.released-count }}}}
          OUT_TAG: ${{{{ steps.bump.outputs.tag }}}}
          OUT_PACKAGES: ${{{{ steps.bump.outputs.packages }}}}
        run: {RECORD}
"""


def test_one_step_releases_each_changed_package_of_the_monorepo(act: Act, git_repo: GitRepo) -> None:
    git_repo.commit("chore: two services", {
        ".deploy-actions.yml": SETTINGS,
        "services/api/pyproject.toml": '[project]\nname = "api"\nversion = "2.1.0"\n',
        "services/web/package.json": '{"name": "web", "version": "1.0.0"}\n'})
    git_repo.tag("api-v2.1.0")
    git_repo.tag("web-v1.0.0")
    git_repo.commit("feat: bulk import", {"services/api/importer.py": "x"})
    git_repo.commit("ci: lint on push", {"ci/lint.sh": "x"})  # touches no package
    workflow = git_repo.write(".github/workflows/release.yml", WORKFLOW)
    git_repo.commit("ci: the release workflow")
    git_repo.push()

    run = act.run(workflow, cwd=git_repo.path, checkout_remote=git_repo.remote)

    assert run.ok, run.report
    out = run.record(job="release")
    assert (out["released"], out["released_count"], out["tag"]) == ("true", "1", "api-v2.2.0"), run.report
    (package,) = json.loads(out["packages"])
    assert (package["component"], package["previous-version"], package["version"]) == ("api", "2.1.0", "2.2.0")
    assert "bulk import" in package["release-notes"]
    head = git_repo.remote_git("rev-parse", "main")
    assert git_repo.remote_git("rev-parse", "api-v2.2.0^{commit}") == head
    assert "web-v1.0.1" not in git_repo.remote_git("tag", "--list").split()
    assert 'version = "2.2.0"' in git_repo.remote_git("show", f"{head}:services/api/pyproject.toml")
    assert "touch no package" in run.log, run.report


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
  report:
    needs: release
    runs-on: ubuntu-latest
    steps:
      - name: Record the outputs
        env:
          OUT_JOB: report
          OUT_RELEASED: ${{{{ needs.release.outputs.released }}}}
          OUT_RELEASED_COUNT: ${{{{ needs.release.outputs.released-count }}}}
          OUT_TAG: ${{{{ needs.release.outputs.tag }}}}
          OUT_PACKAGES: ${{{{ needs.release.outputs.packages }}}}
        run: {RECORD}
"""


def test_the_reusable_release_workflow_releases_the_packages_of_the_config_file(act: Act, git_repo: GitRepo) -> None:
    git_repo.commit("chore: two services", {
        ".deploy-actions.yml": SETTINGS,
        "services/api/pyproject.toml": '[project]\nname = "api"\nversion = "2.1.0"\n',
        "services/web/package.json": '{"name": "web", "version": "1.0.0"}\n'})
    git_repo.tag("api-v2.1.0")
    git_repo.tag("web-v1.0.0")
    git_repo.commit("fix: api and web agree on dates", {"services/api/dates.py": "x", "services/web/dates.js": "x"})
    workflow = git_repo.write(".github/workflows/release.yml", REUSABLE)
    git_repo.commit("ci: the release workflow")
    git_repo.push()

    run = act.run(workflow, cwd=git_repo.path, checkout_remote=git_repo.remote)

    assert run.ok, run.report
    out = run.record(job="report")
    assert (out["released"], out["released_count"]) == ("true", "2"), run.report
    assert sorted(out["tag"].split()) == ["api-v2.1.1", "web-v1.0.1"], run.report
    assert sorted(p["tag"] for p in json.loads(out["packages"])) == ["api-v2.1.1", "web-v1.0.1"]
    head = git_repo.remote_git("rev-parse", "main")
    for tag in ("api-v2.1.1", "web-v1.0.1"):
        assert git_repo.remote_git("rev-parse", f"{tag}^{{commit}}") == head
    assert '"version": "1.0.1"' in git_repo.remote_git("show", f"{head}:services/web/package.json")
