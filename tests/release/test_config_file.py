"""`.deploy-actions.yml`: every setting works from the file, and a flag or an action input wins."""

from __future__ import annotations

import json
import os

import pytest

from deploy_actions.cli import main
from tests.plugins.git_repos import GitRepo

SQUASHED = "fix: retry EPIPE (#2040)\n\n* feat: add epipe as retryable error"


@pytest.fixture(autouse=True)
def no_action_inputs(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("INPUT_", "GITHUB_")):
            monkeypatch.delenv(name)


def bump(repo: GitRepo, capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["version-bump", "--repo", str(repo.path), "--json", "--dry-run", *args])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else {}), captured.err


@pytest.fixture
def configured(git_repo: GitRepo) -> GitRepo:
    git_repo.commit("chore: configure releases", {".deploy-actions.yml": (
        "# release settings, as release-please-config.json would hold them\n"
        "version-bump:\n"
        "  squash-bodies: always\n"
        "  tag-prefix: release-\n"
        "  changelog-sections:\n"
        "    feat: New\n"
        "    fix: Bug Fixes\n"
        "    '*': hidden\n"
        "  major-on-zero: false\n"
        "changelog-check:\n"
        "  require-sections: [Rollback Plan]\n")})
    git_repo.tag("release-0.4.0")
    git_repo.commit(SQUASHED)
    return git_repo


def test_settings_come_from_the_file(configured, capsys):
    code, out, err = bump(configured, capsys)
    assert code == 0, err
    assert out["tag"] == "release-0.5.0" and out["bump"] == "minor"  # squash-bodies: always
    assert "### New" in out["release-notes"] and "### Bug Fixes" in out["release-notes"]


def test_a_flag_wins_over_the_file(configured, capsys):
    code, out, _ = bump(configured, capsys, "--squash-bodies", "auto")
    assert code == 0 and out["tag"] == "release-0.4.1"


def test_an_action_input_wins_over_the_file_and_an_unset_one_lets_it_speak(configured, capsys, monkeypatch):
    monkeypatch.setenv("INPUT_SQUASH_BODIES", "")  # what the composite action passes when unset
    assert bump(configured, capsys)[1]["tag"] == "release-0.5.0"
    monkeypatch.setenv("INPUT_SQUASH_BODIES", "never")
    assert bump(configured, capsys)[1]["tag"] == "release-0.4.1"


def test_changelog_check_reads_its_section(configured, capsys, monkeypatch):
    (configured.path / "CHANGELOG.md").write_text("# Changelog\n\n## [0.5.0] - 2024-01-02\n\n### Fixed\n- x\n")
    monkeypatch.chdir(configured.path)
    code = main(["changelog-check", "--version", "0.5.0"])
    err = capsys.readouterr().err
    assert code == 1 and "Rollback Plan" in err


@pytest.mark.parametrize(("text", "message"), [
    ("version-bump:\n  squash-body: always\n", ".deploy-actions.yml:2: version-bump: 'squash-body' is not a setting"),
    ("version-bump:\n  token: abc\n", "'token' is not a setting"),
    ("version-bump:\n  repo: elsewhere\n", "'repo' is not a setting"),
    ("version-bump:\n  squash-bodies: sometimes\n", ".deploy-actions.yml:2: version-bump.squash-bodies: got 'sometimes'; "
                                                   "expected one of auto, always, never"),
    ("version-bump:\n  tag: maybe\n", "version-bump.tag: got 'maybe'; expected true or false"),
    ("version-bump:\n  commit-types: {docs: [patch]}\n", "version-bump.commit-types must be a list"),
    ("version-bump:\n  tag-prefix: [a, b]\n", "version-bump.tag-prefix must be a single value"),
    ("version-bumps:\n  tag: true\n", "'version-bumps' is not a command"),
    ("gitops-bump:\n  app: x\n", "gitops-bump takes no settings"),
    ("- just\n- a list\n", "must be a mapping of command names"),
    ("version-bump:\n  tag: true\n  tag: false\n", "is not valid YAML"),
    ("version-bump: [\n", "is not valid YAML"),
])
def test_a_bad_file_is_one_line_naming_it_and_nothing_changes(git_repo, capsys, text, message):
    git_repo.commit("chore: config", {".deploy-actions.yml": text})
    git_repo.commit("feat: x")
    before = git_repo.git("rev-parse", "HEAD"), git_repo.tags()
    code = main(["version-bump", "--repo", str(git_repo.path)])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (git_repo.git("rev-parse", "HEAD"), git_repo.tags()) == before


def test_every_setting_of_both_commands_is_accepted_from_the_file(tmp_path, capsys):
    """Each configurable option is a key the file takes (the file, the action and the CLI share one list)."""
    from deploy_actions.commands import COMMANDS
    from deploy_actions.config import configurable, load_settings

    for name in ("version-bump", "changelog-check"):
        spec = COMMANDS[name]
        keys = [o for o in spec.options if configurable(o)]
        assert keys and all(not o.secret for o in keys)
        body = "".join(f"  {o.name}: {json.dumps(o.default or 'x') if o.kind != 'lines' else '[a]'}\n"
                       for o in keys)
        (tmp_path / ".deploy-actions.yml").write_text(f"{name}:\n{body}")
        assert set(load_settings(spec, tmp_path)) == {o.dest for o in keys}


def test_a_settings_file_that_links_out_of_the_repository_is_refused(git_repo, capsys, tmp_path):
    outside = tmp_path / "elsewhere.yml"
    outside.write_text("version-bump:\n  tag-prefix: x\n")
    (git_repo.path / ".deploy-actions.yml").symlink_to(outside)
    code = main(["version-bump", "--repo", str(git_repo.path), "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2 and "outside the repository" in err and "Traceback" not in err


def test_a_fifo_as_settings_file_is_refused_without_waiting(git_repo, capsys):
    os.mkfifo(git_repo.path / ".deploy-actions.yml")
    code = main(["version-bump", "--repo", str(git_repo.path), "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2 and "not a regular file" in err
