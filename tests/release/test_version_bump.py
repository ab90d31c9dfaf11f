"""version-bump on real repositories with a real bare remote."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from deploy_actions.cli import main
from tests.plugins.git_repos import GitRepo, run_git


def bump(repo: GitRepo, *args: str, capsys=None) -> tuple[int, dict]:
    code = main(["version-bump", "--repo", str(repo.path), "--json", *args])
    out = capsys.readouterr().out if capsys else ""
    return code, (json.loads(out) if out.strip() else {})


@pytest.fixture
def released(git_repo: GitRepo) -> GitRepo:
    """main at v1.2.0, with pyproject.toml saying so, then a feature and a fix."""
    git_repo.commit("chore: add pyproject", {"pyproject.toml": '[project]\nname = "app"\nversion = "1.2.0"\n'})
    git_repo.tag("v1.2.0")
    git_repo.commit("feat(api): add search")
    git_repo.commit("fix: escape query")
    git_repo.push()
    return git_repo


def test_dry_run_reports_every_output_and_changes_nothing(released, capsys):
    before = released.git("rev-parse", "HEAD"), released.tags(), released.git("status", "--porcelain")
    code, out = bump(released, "--dry-run", "--version-files", "pyproject.toml", capsys=capsys)
    assert code == 0
    assert set(out) == {"version", "previous-version", "tag", "bump", "released", "is-prerelease",
                        "release-notes", "commit-sha", "pull-request-url", "floating-tags", "packages",
                        "released-count"}
    assert out["released-count"] == 1 and [p["tag"] for p in out["packages"]] == ["v1.3.0"]
    assert out["version"] == "1.3.0" and out["previous-version"] == "1.2.0" and out["tag"] == "v1.3.0"
    assert out["bump"] == "minor" and out["released"] is True and out["is-prerelease"] is False
    assert "### Features\n\n- **api:** add search" in out["release-notes"]
    assert "### Fixes\n\n- escape query" in out["release-notes"]
    assert (released.git("rev-parse", "HEAD"), released.tags(), released.git("status", "--porcelain")) == before


def test_release_commits_version_file_tags_and_pushes(released, capsys):
    code, out = bump(released, "--version-files", "pyproject.toml", "--push", capsys=capsys)
    assert code == 0 and out["released"] is True
    assert (released.path / "pyproject.toml").read_text() == '[project]\nname = "app"\nversion = "1.3.0"\n'
    assert released.git("log", "-1", "--format=%s") == "chore: Bump version to 1.3.0"
    assert released.git("cat-file", "-t", "v1.3.0") == "tag"  # annotated
    assert released.git("rev-parse", "v1.3.0^{commit}") == out["commit-sha"]
    assert released.remote_git("rev-parse", "v1.3.0^{commit}") == out["commit-sha"]
    assert released.remote_git("rev-parse", "main") == out["commit-sha"]


def test_second_run_on_the_released_commit_creates_nothing(released, capsys):
    assert bump(released, "--version-files", "pyproject.toml", capsys=capsys)[0] == 0
    head, tags = released.git("rev-parse", "HEAD"), released.tags()
    code, out = bump(released, "--version-files", "pyproject.toml", capsys=capsys)
    assert code == 0 and out["released"] is False and out["version"] == "1.3.0" and out["bump"] == "none"
    assert (released.git("rev-parse", "HEAD"), released.tags()) == (head, tags)


def test_only_chores_since_the_tag_release_nothing(git_repo, capsys):
    git_repo.tag("v0.3.0")
    git_repo.commit("docs: readme")
    git_repo.commit("chore: tidy")
    code, out = bump(git_repo, capsys=capsys)
    assert code == 0 and out["released"] is False and out["version"] == "0.3.0"
    assert "v0.3.1" not in git_repo.tags()


def test_tags_without_the_prefix_or_not_semver_are_ignored(git_repo, capsys):
    git_repo.tag("v1.0.0")
    git_repo.commit("feat: one")
    git_repo.tag("v9.9")  # not semver
    git_repo.tag("release-5.0.0")  # other prefix
    git_repo.tag("vnext")
    git_repo.commit("fix: two")
    _code, out = bump(git_repo, "--dry-run", capsys=capsys)
    assert out["previous-version"] == "1.0.0" and out["version"] == "1.1.0"


def test_tags_not_reachable_from_head_are_ignored(git_repo, capsys):
    git_repo.tag("v1.0.0")
    git_repo.git("checkout", "-q", "-b", "other")
    git_repo.commit("feat: elsewhere")
    git_repo.tag("v5.0.0")
    git_repo.git("checkout", "-q", "main")
    git_repo.commit("fix: here")
    _code, out = bump(git_repo, "--dry-run", capsys=capsys)
    assert out["previous-version"] == "1.0.0" and out["version"] == "1.0.1"


def test_merge_commit_messages_do_not_count(git_repo, capsys):
    git_repo.tag("v1.0.0")
    git_repo.git("checkout", "-q", "-b", "topic")
    git_repo.commit("fix: small thing")
    git_repo.git("checkout", "-q", "main")
    git_repo.git("merge", "--no-ff", "-q", "-m", "feat!: a merge message that must not count", "topic")
    _code, out = bump(git_repo, "--dry-run", capsys=capsys)
    assert out["bump"] == "patch" and out["version"] == "1.0.1"


def test_monorepo_prefix_and_paths_count_only_that_component(git_repo, capsys):
    git_repo.tag("api-v2.0.0")
    git_repo.tag("web-v7.1.0")
    git_repo.commit("feat: web feature", {"web/app.js": "x"})
    git_repo.commit("fix: api fix", {"api/main.py": "x"})
    code, out = bump(git_repo, "--dry-run", "--tag-prefix", "api-v", "--paths", "api", capsys=capsys)
    assert out["tag"] == "api-v2.0.1" and out["bump"] == "patch"
    _code, out = bump(git_repo, "--dry-run", "--tag-prefix", "web-v", "--paths", "web", capsys=capsys)
    assert out["tag"] == "web-v7.2.0"


def test_detached_head_works(released, capsys):
    released.git("checkout", "-q", "--detach", "HEAD")
    code, out = bump(released, capsys=capsys)
    assert code == 0 and out["version"] == "1.3.0"
    assert "v1.3.0" in released.tags()


def test_shallow_clone_is_deepened_to_the_tag(released, tmp_path, capsys):
    for i in range(30):
        released.commit(f"chore: filler {i}")
    released.commit("feat: the newest feature")
    released.push()
    clone = tmp_path / "shallow"
    run_git(tmp_path, "clone", "-q", "--depth", "1", "--no-tags", f"file://{released.remote}", str(clone))
    assert run_git(clone, "rev-parse", "--is-shallow-repository") == "true"
    code = main(["version-bump", "--repo", str(clone), "--dry-run", "--json"])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert code == 0 and out["previous-version"] == "1.2.0" and out["version"] == "1.3.0"
    assert "fix" in out["release-notes"].lower()  # the older fix was found after deepening
    assert "shallow clone" in captured.err


def test_prerelease_then_next_prerelease_then_final(released, capsys):
    files = ("--version-files", "pyproject.toml")
    code, out = bump(released, "--prerelease-id", "rc", *files, capsys=capsys)
    assert out["version"] == "1.3.0-rc.1" and out["is-prerelease"] is True
    released.commit("fix: found in rc")
    code, out = bump(released, "--prerelease-id", "rc", *files, capsys=capsys)
    assert out["version"] == "1.3.0-rc.2"
    code, out = bump(released, *files, capsys=capsys)
    assert code == 0 and out["version"] == "1.3.0" and out["previous-version"] == "1.3.0-rc.2"
    assert 'version = "1.3.0"' in (released.path / "pyproject.toml").read_text()


def test_changelog_update_prepends_a_section(released, capsys):
    changelog = "# Changelog\n\n## [Unreleased]\n\n## [1.2.0] - 2026-01-01\n\n### Added\n\n- first\n"
    released.commit("docs: changelog", {"CHANGELOG.md": changelog})
    os.environ["SOURCE_DATE_EPOCH"] = "1780000000"
    try:
        code, _out = bump(released, "--changelog", "update", capsys=capsys)
    finally:
        del os.environ["SOURCE_DATE_EPOCH"]
    text = (released.path / "CHANGELOG.md").read_text()
    assert code == 0
    assert text.index("## [1.3.0]") < text.index("## [1.2.0]")
    assert "add search" in text
    assert released.git("show", "--name-only", "--format=", "HEAD").split() == ["CHANGELOG.md"]


def test_missing_current_version_in_a_file_is_an_error_and_changes_nothing(released, capsys):
    released.commit("chore: drift", {"package.json": '{"name": "app", "version": "1.1.0"}\n'})
    head = released.git("rev-parse", "HEAD")
    code = main(["version-bump", "--repo", str(released.path), "--version-files", "pyproject.toml\npackage.json"])
    err = capsys.readouterr().err
    assert code == 2 and "package.json" in err and "Traceback" not in err
    assert released.git("rev-parse", "HEAD") == head and "v1.3.0" not in released.tags()
    assert released.git("status", "--porcelain") == ""


def test_push_rejected_rolls_back_the_local_release(released, tmp_path, capsys):
    other = tmp_path / "other"
    run_git(tmp_path, "clone", "-q", str(released.remote), str(other))
    run_git(other, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-q", "--allow-empty", "-m", "fix: race")
    run_git(other, "push", "-q", "origin", "main")
    head = released.git("rev-parse", "HEAD")
    code = main(["version-bump", "--repo", str(released.path), "--version-files", "pyproject.toml", "--push"])
    err = capsys.readouterr().err
    assert code == 1 and "push failed" in err
    assert released.git("rev-parse", "HEAD") == head and "v1.3.0" not in released.tags()
    assert released.git("status", "--porcelain") == ""
    assert "v1.3.0" not in released.remote_git("tag", "--list").split()


@pytest.mark.parametrize(("args", "needle"), [
    (["--bump", "huge"], "input 'bump'"),
    (["--prerelease-id", "r c"], "input 'prerelease-id'"),
    (["--tag-prefix", "v..x"], "input 'tag-prefix'"),
    (["--commit-types", "docs -> patch"], "input 'commit-types'"),
    (["--paths", "../elsewhere"], "input 'paths'"),
    (["--push", "maybe"], "input 'push'"),
])
def test_bad_input_is_one_line_and_exit_2(released, capsys, args, needle):
    code = main(["version-bump", "--repo", str(released.path), *args])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_not_a_repository_is_bad_input(tmp_path, capsys):
    assert main(["version-bump", "--repo", str(tmp_path)]) == 2
    assert "input 'repo'" in capsys.readouterr().err


def test_inputs_come_from_the_environment_like_in_actions(released, tmp_path, monkeypatch):
    output = tmp_path / "out.txt"
    summary = tmp_path / "summary.md"
    output.touch()
    summary.touch()
    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary),
           "INPUT_REPO": str(released.path), "INPUT_DRY-RUN": "true", "INPUT_TAG_PREFIX": "v"}
    proc = subprocess.run([sys.executable, "-m", "deploy_actions", "version-bump"], env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    text = output.read_text()
    assert "version<<ghadelimiter_" in text and "\n1.3.0\n" in text
    notes_block = text.split("release-notes<<")[1]
    delimiter = notes_block.split("\n", 1)[0]
    assert notes_block.count(delimiter) == 2  # a unique delimiter opens and closes the value
    assert "version-bump" in summary.read_text()


# --------------------------------------------------------------------------- real history shapes


def test_a_version_tagged_on_a_hotfix_branch_is_stepped_over(git_repo, capsys):
    # kubernetes-style maintenance: v1.2.1 was cut on release-1.2, which main never merges.
    git_repo.tag("v1.2.0")
    git_repo.git("checkout", "-q", "-b", "release-1.2")
    git_repo.commit("fix: backport crash fix")
    git_repo.tag("v1.2.1")
    git_repo.git("checkout", "-q", "main")
    git_repo.commit("fix: crash on empty config")
    code, out = bump(git_repo, capsys=capsys)
    assert code == 0 and out["version"] == "1.2.2" and out["previous-version"] == "1.2.0"
    assert "v1.2.2" in git_repo.tags()


def test_the_hotfix_branch_itself_releases_its_own_next_patch(git_repo, capsys):
    git_repo.tag("v1.2.0")
    git_repo.git("checkout", "-q", "-b", "hotfix/1.2")
    git_repo.git("checkout", "-q", "main")
    git_repo.commit("feat: new thing")
    git_repo.tag("v1.3.0")
    git_repo.git("checkout", "-q", "hotfix/1.2")
    git_repo.commit("fix: urgent")
    code, out = bump(git_repo, capsys=capsys)
    assert code == 0 and out["version"] == "1.2.1"


def test_moving_from_alpha_to_beta_without_new_commits_cuts_the_first_beta(git_repo, capsys):
    git_repo.tag("v1.0.0")
    git_repo.commit("fix: handle EOF")
    assert bump(git_repo, "--prerelease-id", "alpha", capsys=capsys)[1]["version"] == "1.0.1-alpha.1"
    code, out = bump(git_repo, "--prerelease-id", "alpha", capsys=capsys)
    assert out["released"] is False  # the same channel with nothing new: nothing to do
    git_repo.commit("docs: no release")
    code, out = bump(git_repo, "--prerelease-id", "beta", capsys=capsys)
    assert code == 0 and out["version"] == "1.0.1-beta.1" and out["bump"] == "prerelease"


def test_release_as_footer_sets_the_version(git_repo, capsys):
    git_repo.tag("v1.4.2")
    git_repo.commit("chore: prepare 2.0\n\nrelease-as: 2.0.0")
    git_repo.commit("fix: small")
    code, out = bump(git_repo, "--dry-run", capsys=capsys)
    assert code == 0 and out["version"] == "2.0.0" and out["bump"] == "major"


def test_release_as_below_the_last_release_is_ignored_with_a_note(git_repo, capsys):
    git_repo.tag("v1.4.2")
    git_repo.commit("fix: small\n\nRelease-As: 1.0.0")
    code = main(["version-bump", "--repo", str(git_repo.path), "--dry-run"])
    err = capsys.readouterr().err
    assert code == 0 and "would release v1.4.3" in err and "ignored a Release-As footer 1.0.0" in err


def test_release_as_input_must_be_a_version(git_repo, capsys):
    code = main(["version-bump", "--repo", str(git_repo.path), "--release-as", "two"])
    err = capsys.readouterr().err
    assert code == 2 and "release-as" in err and "two" in err and "Traceback" not in err


def test_squash_bodies_choice_from_the_command_line(git_repo, capsys):
    git_repo.tag("v3.1.0")
    git_repo.commit("fix: retry EPIPE (#2040)\n\n* feat: add epipe as retryable error\n\n* test: cover it")
    assert bump(git_repo, "--dry-run", capsys=capsys)[1]["version"] == "3.1.1"
    assert bump(git_repo, "--dry-run", "--squash-bodies", "always", capsys=capsys)[1]["version"] == "3.2.0"
    git_repo.commit("Add retries (#2041)\n\n* feat: retry on reset")
    assert bump(git_repo, "--dry-run", "--squash-bodies", "never", capsys=capsys)[1]["version"] == "3.1.1"
    assert bump(git_repo, "--dry-run", capsys=capsys)[1]["version"] == "3.2.0"


def test_a_python_project_moves_from_rc_to_final_through_pep440_version_files(git_repo, capsys):
    # python-semantic-release-style history: semver tags, PEP 440 in pyproject.toml and __init__.py.
    git_repo.commit("chore: init", {"pyproject.toml": '[project]\nname = "app"\nversion = "1.2.0"\n',
                                    "src/app/__init__.py": '__version__ = "1.2.0"\n'})
    git_repo.tag("v1.2.0")
    git_repo.commit("feat: streaming")
    files = ["--version-files", "pyproject.toml\nsrc/app/__init__.py:__version__ = \"(.+)\""]
    code, out = bump(git_repo, "--prerelease-id", "rc", *files, capsys=capsys)
    assert code == 0 and out["version"] == "1.3.0-rc.1"
    assert 'version = "1.3.0rc1"' in (git_repo.path / "pyproject.toml").read_text()
    assert '__version__ = "1.3.0rc1"' in (git_repo.path / "src/app/__init__.py").read_text()
    code, out = bump(git_repo, *files, capsys=capsys)
    assert code == 0 and out["version"] == "1.3.0" and out["previous-version"] == "1.3.0-rc.1"
    assert 'version = "1.3.0"' in (git_repo.path / "pyproject.toml").read_text()


def test_pep440_tags_count_as_releases(git_repo, capsys):
    git_repo.tag("v2.48.0rc0")
    git_repo.commit("fix: a bug")
    code, out = bump(git_repo, "--dry-run", capsys=capsys)
    assert code == 0 and out["previous-version"] == "2.48.0-rc.0" and out["version"] == "2.48.0"


def test_changelog_sections_shape_the_release_notes(git_repo, capsys):
    git_repo.tag("v1.0.0")
    git_repo.commit("docs: explain retries")
    git_repo.commit("fix: retry on reset")
    git_repo.commit("refactor: split the client")
    code, out = bump(git_repo, "--dry-run", "--changelog-sections",
                     "fix: Bug Fixes\ndocs: Documentation\n*: hidden", capsys=capsys)
    assert code == 0 and out["version"] == "1.0.1"
    notes = out["release-notes"]
    assert notes.index("### Bug Fixes") < notes.index("### Documentation")
    assert "explain retries" in notes and "split the client" not in notes


def test_a_shown_type_that_releases_nothing_does_not_cut_a_release(git_repo, capsys):
    git_repo.tag("v1.0.0")
    git_repo.commit("docs: explain retries")
    code, out = bump(git_repo, "--dry-run", "--changelog-sections", "docs: Documentation", capsys=capsys)
    assert code == 0 and out["released"] is False


def test_prerelease_channel_per_branch(git_repo, capsys):
    # semantic-release's branches: [main, {name: next, prerelease: rc}, {name: alpha, prerelease: true}]
    table = ["--prerelease-branches", "next: rc\nalpha: alpha\nbeta/*: beta"]
    git_repo.tag("v2.3.0")
    git_repo.git("checkout", "-q", "-b", "next")
    git_repo.commit("feat: new engine")
    code, out = bump(git_repo, *table, capsys=capsys)
    assert code == 0 and out["version"] == "2.4.0-rc.1"
    git_repo.git("checkout", "-q", "-b", "beta/engine")
    git_repo.commit("fix: engine stall")
    assert bump(git_repo, *table, "--dry-run", capsys=capsys)[1]["version"] == "2.4.0-beta.1"
    assert bump(git_repo, *table, "--dry-run", "--prerelease-id", "alpha", capsys=capsys)[1]["version"] == \
        "2.4.0-alpha.1"
    git_repo.git("checkout", "-q", "main")
    git_repo.git("merge", "-q", "--ff-only", "beta/engine")
    assert bump(git_repo, *table, "--dry-run", capsys=capsys)[1]["version"] == "2.4.0"


def test_prerelease_branches_lines_are_checked(git_repo, capsys):
    code = main(["version-bump", "--repo", str(git_repo.path), "--prerelease-branches", "next rc"])
    err = capsys.readouterr().err
    assert code == 2 and "prerelease-branches" in err and "next rc" in err


def test_without_tags_the_current_version_can_come_from_the_version_file(git_repo, capsys):
    # a project that versioned by hand in pyproject.toml adopts version-bump (commitizen's version_provider)
    git_repo.commit("chore: init", {"pyproject.toml": '[project]\nname = "app"\nversion = "1.4.0rc2"\n'})
    git_repo.commit("feat: export to CSV")
    args = ("--version-files", "pyproject.toml", "--version-source", "version-files")
    code, out = bump(git_repo, *args, capsys=capsys)
    assert code == 0 and out["previous-version"] == "1.4.0-rc.2" and out["version"] == "1.4.0"
    assert 'version = "1.4.0"' in (git_repo.path / "pyproject.toml").read_text()
    git_repo.commit("feat: export to JSON")
    assert bump(git_repo, *args, "--dry-run", capsys=capsys)[1]["version"] == "1.5.0"  # now the tag speaks


def test_version_source_from_files_needs_a_file(git_repo, capsys):
    code = main(["version-bump", "--repo", str(git_repo.path), "--version-source", "version-files"])
    err = capsys.readouterr().err
    assert code == 2 and "version-files" in err


def test_floating_tags_follow_the_newest_release_of_their_line(git_repo, capsys):
    git_repo.tag("v1.2.0")
    git_repo.tag("v1", "HEAD")
    git_repo.commit("feat: inputs from a file")
    git_repo.push()
    old_v1 = git_repo.remote_git("rev-parse", "v1^{commit}")
    code, out = bump(git_repo, "--floating-tags", "--push", capsys=capsys)
    assert code == 0 and out["version"] == "1.3.0" and out["floating-tags"] == "v1 v1.3"
    sha = out["commit-sha"]
    assert git_repo.remote_git("rev-parse", "v1^{commit}") == sha != old_v1
    assert git_repo.remote_git("rev-parse", "v1.3^{commit}") == sha
    # a backport to 1.2 moves v1.2 only
    git_repo.git("checkout", "-q", "-b", "release/1.2", "v1.2.0")
    git_repo.commit("fix: backport")
    code, out = bump(git_repo, "--floating-tags", "--push", capsys=capsys)
    assert out["version"] == "1.2.1" and out["floating-tags"] == "v1.2"
    assert git_repo.remote_git("rev-parse", "v1^{commit}") == sha


def test_a_floating_tag_moved_by_someone_else_meanwhile_fails_the_push_and_nothing_stays(
        git_repo, capsys, monkeypatch):
    from deploy_actions.git import Git

    git_repo.commit("chore: version file", {"VERSION": "1.2.0\n"})
    git_repo.tag("v1.2.0")
    git_repo.commit("feat: x")
    git_repo.push()
    git_repo.remote_git("tag", "v1", git_repo.remote_git("rev-parse", "v1.2.0^{commit}"))
    other = git_repo.remote_git("rev-parse", "main^{commit}")  # not where the release commit will be
    before = git_repo.git("rev-parse", "HEAD"), git_repo.tags()
    real_run = Git.run

    def racing_run(self, *args, **kwargs):
        answer = real_run(self, *args, **kwargs)
        if args[:1] == ("ls-remote",) and "refs/tags/v1" in args:
            git_repo.remote_git("tag", "--force", "v1", other)  # someone moves v1 right after our read
        return answer

    monkeypatch.setattr(Git, "run", racing_run)
    code = main(["version-bump", "--repo", str(git_repo.path), "--floating-tags", "--push",
                 "--version-files", "VERSION"])
    assert code == 1, capsys.readouterr().err
    assert git_repo.remote_git("rev-parse", "v1^{commit}") == other  # their move stands
    assert "v1.3.0" not in git_repo.remote_git("tag", "--list")
    assert (git_repo.git("rev-parse", "HEAD"), git_repo.tags()) == before


def test_a_new_channel_on_the_very_commit_of_the_last_prerelease(git_repo, capsys):
    git_repo.tag("v1.0.0")
    git_repo.commit("fix: handle EOF")
    assert bump(git_repo, "--prerelease-id", "alpha", capsys=capsys)[1]["version"] == "1.0.1-alpha.1"
    code, out = bump(git_repo, "--prerelease-id", "beta", capsys=capsys)  # not one commit since
    assert code == 0 and out["released"] is True and out["version"] == "1.0.1-beta.1"
    code, out = bump(git_repo, "--prerelease-id", "alpha", capsys=capsys)  # alpha again: a rerun
    assert out["released"] is False and out["version"] == "1.0.1-alpha.1"
    code, out = bump(git_repo, capsys=capsys)  # the final, still on the same commit
    assert out["released"] is True and out["version"] == "1.0.1"
    assert bump(git_repo, capsys=capsys)[1]["released"] is False


def test_version_bump_prepends_to_a_restructuredtext_changelog(git_repo, capsys, monkeypatch):
    from tests.release.test_changelog_rst import PSR

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1706745600")  # 2024-02-01
    git_repo.commit("docs: changelog", {"CHANGELOG.rst": PSR})
    git_repo.tag("v1.1.0")
    git_repo.commit("feat(api): add search")
    code, out = bump(git_repo, "--changelog", "update", "--changelog-file", "CHANGELOG.rst", capsys=capsys)
    assert code == 0 and out["version"] == "1.2.0"
    text = (git_repo.path / "CHANGELOG.rst").read_text()
    assert text.index("v1.2.0 (2024-02-01)\n===================") < text.index("v1.1.0 (2024-01-10)")
    assert "* **api:** add search" in text
