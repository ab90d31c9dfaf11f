"""version-bump over a monorepo's packages (release-please's manifest releaser), on real repositories
with a real bare remote: each package released from its own commits, in one run."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy_actions.cli import main
from tests.plugins.git_repos import GitRepo, run_git

CONFIG = """\
version-bump:
  changelog: update
  packages:
    packages/api:
      component: api
      version-files: [pyproject.toml]
    packages/web:
      version-files: [package.json]
    packages/api/plugins:
      component: plugins
      tag-prefix: plugins/v
      version-files: [VERSION]
      changelog-sections: {feat: New, fix: Fixed}
"""


@pytest.fixture(autouse=True)
def no_action_inputs(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("INPUT_", "GITHUB_")):
            monkeypatch.delenv(name)


def bump(repo: GitRepo, capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["version-bump", "--repo", str(repo.path), "--json", *args])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else {}), captured.err


def by_component(out: dict) -> dict[str, dict]:
    return {p["component"]: p for p in out["packages"]}


@pytest.fixture
def mono(git_repo: GitRepo) -> GitRepo:
    """Three packages, one nested in another, each released once; then the commits to release."""
    git_repo.commit("chore: lay out the monorepo", {
        ".deploy-actions.yml": CONFIG,
        "packages/api/pyproject.toml": '[project]\nname = "api"\nversion = "1.4.0"\n',
        "packages/api/CHANGELOG.md": "# Changelog\n\n## [1.4.0] - 2025-12-01\n\n### Features\n\n- search\n",
        "packages/web/package.json": '{\n  "name": "web",\n  "version": "0.3.1"\n}\n',
        "packages/api/plugins/VERSION": "2.0.0\n",
    })
    git_repo.tag("api-v1.4.0")
    git_repo.tag("web-v0.3.1")
    git_repo.tag("plugins/v2.0.0")
    git_repo.push()
    return git_repo


def test_each_changed_package_is_released_from_its_own_commits_in_one_commit(mono, capsys):
    mono.commit("feat: stream uploads", {"packages/api/upload.py": "x"})
    mono.commit("fix: escape the query", {"packages/web/query.js": "x"})
    mono.commit("docs: a word on the layout", {"packages/api/plugins/README.md": "x"})
    before = mono.git("rev-parse", "HEAD")
    code, out, err = bump(mono, capsys, "--push")
    assert code == 0, err
    assert out["released"] is True and out["released-count"] == 2
    packages = by_component(out)
    assert set(packages) == {"api", "web"}  # plugins has only docs: nothing to release
    assert packages["api"] | {"release-notes": ""} == {
        "component": "api", "path": "packages/api", "previous-version": "1.4.0", "version": "1.5.0",
        "tag": "api-v1.5.0", "bump": "minor", "is-prerelease": False, "release-notes": "", "released": True}
    assert "stream uploads" in packages["api"]["release-notes"]
    assert "escape the query" not in packages["api"]["release-notes"]
    assert packages["web"]["tag"] == "web-v0.3.2" and "escape the query" in packages["web"]["release-notes"]
    assert out["tag"] == "api-v1.5.0 web-v0.3.2" and out["bump"] == "minor"
    assert out["version"] == "" and out["release-notes"].index("## api-v1.5.0") < \
        out["release-notes"].index("stream uploads") < out["release-notes"].index("## web-v0.3.2")
    assert "plugins: nothing to release (current: 2.0.0)" in err
    # One release commit holds both packages' files; each package has its own tag on it, pushed.
    sha = mono.git("rev-parse", "HEAD")
    assert mono.git("rev-parse", "HEAD~1") == before and out["commit-sha"] == sha
    assert mono.git("log", "-1", "--format=%s") == "chore: release api-v1.5.0, web-v0.3.2"
    assert set(mono.git("show", "--format=", "--name-only", "HEAD").split()) == {
        "packages/api/pyproject.toml", "packages/api/CHANGELOG.md", "packages/web/package.json",
        "packages/web/CHANGELOG.md"}
    assert 'version = "1.5.0"' in (mono.path / "packages/api/pyproject.toml").read_text()
    assert '"version": "0.3.2"' in (mono.path / "packages/web/package.json").read_text()
    assert (mono.path / "packages/api/plugins/VERSION").read_text() == "2.0.0\n"
    api_log = (mono.path / "packages/api/CHANGELOG.md").read_text()
    assert api_log.index("## [1.5.0]") < api_log.index("## [1.4.0]") and "stream uploads" in api_log
    for tag in ("api-v1.5.0", "web-v0.3.2"):
        assert mono.remote_git("rev-parse", f"{tag}^{{commit}}") == sha
    assert mono.remote_git("rev-parse", "main") == sha
    # The release commit touches the packages' files but is a chore: a second run releases nothing.
    code, out, err = bump(mono, capsys)
    assert code == 0 and out["released"] is False and out["released-count"] == 0 and out["packages"] == []
    assert mono.git("rev-parse", "HEAD") == sha


def test_a_rejected_push_takes_back_the_release_commit_and_every_tag(mono, capsys, tmp_path):
    mono.commit("feat: stream uploads", {"packages/api/upload.py": "x"})
    mono.commit("fix: escape the query", {"packages/web/query.js": "x"})
    other = tmp_path / "other"
    run_git(tmp_path, "clone", "-q", str(mono.remote), str(other))
    run_git(other, "-c", "user.name=o", "-c", "user.email=o@x", "commit", "-q", "--allow-empty", "-m", "chore: first")
    run_git(other, "push", "-q", "origin", "main")
    before = mono.git("rev-parse", "HEAD"), mono.tags()
    code, _out, err = bump(mono, capsys, "--push")
    assert code == 1, err
    assert (mono.git("rev-parse", "HEAD"), mono.tags()) == before
    assert mono.remote_git("tag", "--list", "*-v*").split() == ["api-v1.4.0", "web-v0.3.1"]
    assert (mono.path / "packages/api/pyproject.toml").read_text().count('version = "1.4.0"') == 1


def test_a_commit_touching_two_packages_releases_both(mono, capsys):
    mono.commit("fix: one header for every client", {"packages/api/http.py": "x", "packages/web/http.js": "x"})
    code, out, err = bump(mono, capsys, "--dry-run")
    assert code == 0, err
    assert {c: p["tag"] for c, p in by_component(out).items()} == {"api": "api-v1.4.1", "web": "web-v0.3.2"}


def test_a_file_belongs_to_the_deepest_package_holding_it(mono, capsys):
    mono.commit("feat!: a new plugin interface", {"packages/api/plugins/hooks.py": "x"})
    code, out, err = bump(mono, capsys, "--dry-run")
    assert code == 0, err
    packages = by_component(out)
    assert set(packages) == {"plugins"}  # not api, although plugins/ lies inside its folder
    assert packages["plugins"]["tag"] == "plugins/v3.0.0" and packages["plugins"]["bump"] == "major"
    assert "### Breaking Changes" in packages["plugins"]["release-notes"]


def test_a_breaking_change_in_one_package_bumps_only_that_package(mono, capsys):
    mono.commit("feat(api)!: drop the v1 routes\n\nBREAKING CHANGE: /v1 is gone", {"packages/api/routes.py": "x"})
    mono.commit("fix: focus ring", {"packages/web/app.css": "x"})
    code, out, err = bump(mono, capsys, "--dry-run")
    assert code == 0, err
    packages = by_component(out)
    assert packages["api"]["version"] == "2.0.0" and packages["api"]["bump"] == "major"
    assert packages["web"]["version"] == "0.3.2" and packages["web"]["bump"] == "patch"


def test_commits_touching_no_package_are_ignored_and_said_so(mono, capsys):
    mono.commit("feat: a new CI pipeline", {".github/workflows/ci.yml": "x"})
    mono.commit("fix!: the root README", {"README.md": "changed"})
    before = mono.git("rev-parse", "HEAD"), mono.tags()
    code, out, err = bump(mono, capsys)
    assert code == 0, err
    assert out["released"] is False and out["packages"] == []
    assert "ignored 2 commit(s) that touch no package" in err and "the root README" in err
    assert (mono.git("rev-parse", "HEAD"), mono.tags()) == before


def test_a_root_package_owns_every_file_no_other_package_does(git_repo, capsys):
    git_repo.commit("chore: config", {".deploy-actions.yml": (
        "version-bump:\n  packages:\n    .: {}\n    tools/lint: {component: lint}\n")})
    git_repo.tag("v3.1.0")
    git_repo.tag("lint-v0.1.0")
    git_repo.commit("feat: a root feature", {"src/main.py": "x"})
    git_repo.commit("fix: lint fix", {"tools/lint/rules.py": "x"})
    code, out, err = bump(git_repo, capsys, "--dry-run")
    assert code == 0, err
    assert {p["path"]: p["tag"] for p in out["packages"]} == {".": "v3.2.0", "tools/lint": "lint-v0.1.1"}
    assert "touch no package" not in err


def test_a_package_without_a_tag_reads_its_version_file_or_starts_from_nothing(git_repo, capsys):
    """release-please's manifest holds the current versions; with no tags yet, version-files say it."""
    git_repo.commit("chore: config", {
        ".deploy-actions.yml": "version-bump:\n  packages:\n"
                               "    svc: {version-files: [VERSION], version-source: version-files}\n"
                               "    cli: {version-files: [VERSION]}\n",
        "svc/VERSION": "4.2.0\n", "cli/VERSION": "3.0.0\n"})
    git_repo.commit("feat: a feature", {"svc/main.go": "x", "cli/main.go": "x"})
    code, out, err = bump(git_repo, capsys, "--dry-run")
    assert code == 0, err
    assert {c: p["tag"] for c, p in by_component(out).items()} == {"svc": "svc-v4.3.0", "cli": "cli-v0.1.0"}


def test_a_package_prerelease_channel_is_its_own(mono, capsys):
    config = CONFIG.replace("      component: api\n", "      component: api\n      prerelease-id: rc\n")
    mono.commit("chore: api on rc", {".deploy-actions.yml": config})
    mono.commit("feat: two features", {"packages/api/a.py": "x", "packages/web/a.js": "x"})
    code, out, err = bump(mono, capsys, "--dry-run")
    assert code == 0, err
    assert {c: p["version"] for c, p in by_component(out).items()} == {"api": "1.5.0-rc.1", "web": "0.4.0"}
    assert out["is-prerelease"] is True


def test_the_readme_migration_from_a_release_please_manifest_keeps_the_next_versions(git_repo, capsys):
    """The README's `.deploy-actions.yml` for the release-please manifest it shows: the manifest's
    versions are the tags; a feature in client and a fix in packages/api then give what
    release-please gives (client and server linked)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("becomes\n\n  ```yaml\n", 1)[1].split("  ```", 1)[0]
    git_repo.commit("chore: config", {".deploy-actions.yml": textwrap.dedent(block),
                                      "packages/api/pyproject.toml": '[project]\nversion = "1.4.0"\n'})
    for tag in ("api-v1.4.0", "client-v2.0.1", "server-v2.0.1"):
        git_repo.tag(tag)
    git_repo.commit("feat: offline mode", {"client/offline.ts": "x"})
    git_repo.commit("fix: pagination", {"packages/api/pages.py": "x"})
    code, out, err = bump(git_repo, capsys, "--dry-run")
    assert code == 0, err
    assert {c: p["tag"] for c, p in by_component(out).items()} == {
        "api": "api-v1.4.1", "client": "client-v2.1.0", "server": "server-v2.1.0"}


LINKED = """\
version-bump:
  linked-versions: ["sdk: client, server"]
  packages:
    client: {version-files: [VERSION]}
    server: {version-files: [VERSION]}
    docs: {}
"""


@pytest.fixture
def linked(git_repo: GitRepo) -> GitRepo:
    git_repo.commit("chore: config", {".deploy-actions.yml": LINKED, "client/VERSION": "1.2.0\n",
                                      "server/VERSION": "1.2.0\n"})
    for tag in ("client-v1.2.0", "server-v1.2.0", "docs-v0.4.0"):
        git_repo.tag(tag)
    return git_repo


def test_linked_versions_share_the_highest_next_version_even_without_changes(linked, capsys):
    linked.commit("feat: a new endpoint", {"server/api.py": "x"})
    linked.commit("fix: a typo", {"docs/index.md": "x"})
    code, out, err = bump(linked, capsys)
    assert code == 0, err
    packages = by_component(out)
    assert {c: p["version"] for c, p in packages.items()} == {"client": "1.3.0", "server": "1.3.0", "docs": "0.4.1"}
    assert "synchronize sdk versions" in packages["client"]["release-notes"]
    assert "a new endpoint" in packages["server"]["release-notes"]
    assert (linked.path / "client/VERSION").read_text() == "1.3.0\n"
    assert {"client-v1.3.0", "server-v1.3.0", "docs-v0.4.1"} <= set(linked.tags())


def test_linked_versions_take_the_highest_level_of_the_group(linked, capsys):
    linked.commit("fix: reconnect", {"client/net.py": "x"})
    linked.commit("feat!: streaming only", {"server/api.py": "x"})
    code, out, err = bump(linked, capsys, "--dry-run")
    assert code == 0, err
    assert {c: p["version"] for c, p in by_component(out).items()} == {"client": "2.0.0", "server": "2.0.0"}


def test_nothing_changed_in_a_linked_group_releases_none_of_it(linked, capsys):
    linked.commit("fix: a typo", {"docs/index.md": "x"})
    code, out, err = bump(linked, capsys, "--dry-run")
    assert code == 0, err
    assert [p["component"] for p in out["packages"]] == ["docs"]


def test_a_file_two_packages_would_rewrite_is_refused_before_anything_is_written(git_repo, capsys):
    git_repo.commit("chore: config", {".deploy-actions.yml": (
        "version-bump:\n  packages:\n    .: {version-files: [a/VERSION]}\n    a: {version-files: [VERSION]}\n"),
        "a/VERSION": "1.0.0\n"})
    git_repo.tag("v1.0.0")
    git_repo.tag("a-v1.0.0")
    git_repo.commit("fix: x", {"a/x": "x", "y": "y"})
    before = git_repo.git("rev-parse", "HEAD"), git_repo.tags(), (git_repo.path / "a/VERSION").read_text()
    code, _out, err = bump(git_repo, capsys)
    assert code == 2 and "input 'packages': got 'a/VERSION'; expected each file edited by one package only (. and a" in err, err
    assert len(err.strip().splitlines()) == 1
    assert (git_repo.git("rev-parse", "HEAD"), git_repo.tags(), (git_repo.path / "a/VERSION").read_text()) == before


def test_version_files_outside_the_package_folder_are_refused(git_repo, capsys):
    git_repo.commit("chore: config", {".deploy-actions.yml": (
        "version-bump:\n  packages:\n    a: {version-files: ['../VERSIONS:a=(.+)']}\n"), "VERSIONS": "a=1.0.0\n"})
    git_repo.tag("a-v1.0.0")
    git_repo.commit("fix: x", {"a/x": "x"})
    code, _out, err = bump(git_repo, capsys)
    assert code == 2 and "input 'packages[a].version-files'" in err and "'..'" in err, err


def test_a_merged_release_of_a_package_without_version_files_is_told_by_the_release_commit(
        git_repo, gh_env, capsys):
    """A package that keeps no version file: the merged release commit, which lists each package's
    message with its tag, says what landed; the same version of another package does not count."""
    git_repo.commit("chore: config", {".deploy-actions.yml": (
        "version-bump:\n  packages:\n    a: {}\n    b: {version-files: [VERSION]}\n    c: {}\n"),
        "b/VERSION": "1.0.0\n"})
    for tag in ("a-v1.0.0", "b-v1.0.0", "c-v1.0.0"):
        git_repo.tag(tag)
    git_repo.commit("fix: a and b", {"a/x": "x", "b/x": "x"})
    git_repo.push()
    code, out, err = bump(git_repo, capsys, "--mode", "pull-request", "--push")
    assert code == 0 and [p["released"] for p in out["packages"]] == [False, False], err
    git_repo.git("fetch", "-q", "origin", "release/next")
    git_repo.git("merge", "-q", "--no-ff", "-m", "Merge pull request #1 from org/release/next", "FETCH_HEAD")
    git_repo.commit("fix: c", {"c/x": "x"})
    git_repo.push()
    code, out, err = bump(git_repo, capsys, "--mode", "pull-request", "--push")
    assert code == 0, err
    assert [(p["tag"], p["released"]) for p in out["packages"]] == [
        ("a-v1.0.1", True), ("b-v1.0.1", True), ("c-v1.0.1", False)]
    assert git_repo.remote_git("tag", "--list", "[abc]-v1.0.1").split() == ["a-v1.0.1", "b-v1.0.1"]
    (pr,) = gh_env.pulls.values()
    assert pr.title == "chore: release c-v1.0.1"


def test_without_packages_the_single_release_is_unchanged(git_repo, capsys):
    git_repo.tag("v1.0.0")
    git_repo.commit("feat: x")
    code, out, _err = bump(git_repo, capsys, "--dry-run")
    assert code == 0 and out["version"] == "1.1.0" and out["tag"] == "v1.1.0" and out["released-count"] == 1


def test_packages_given_as_an_action_input_work_as_from_the_file(git_repo, capsys, monkeypatch):
    git_repo.tag("api-v1.0.0")
    git_repo.commit("fix: x", {"api/x.py": "x"})
    monkeypatch.setenv("INPUT_PACKAGES", "- api\n- path: web\n  component: site\n")
    code, out, err = bump(git_repo, capsys, "--dry-run")
    assert code == 0, err
    assert [p["tag"] for p in out["packages"]] == ["api-v1.0.1"]
    assert "site: nothing to release (current: no release yet)" in err


@pytest.mark.parametrize(("packages", "message"), [
    ("api: {tag-prefix: 'a b'}", "input 'packages[api].tag-prefix': got 'a b'; expected a tag prefix"),
    ("api: {bump: major}", "input 'packages[api].bump'"),
    ("api: {component: 'x y'}", "input 'packages[api].component'"),
    ("api: {component: 'x..y'}", "input 'packages[api].component': got 'x..y'"),
    ("x..y: {}", "input 'packages[x..y].component'"),
    ("api: {version-files: {a: [b]}}", "input 'packages[api].version-files'"),
    ("api: {major-on-zero: maybe}", "expected true or false"),
    ("api: {prerelease-id: 'a..b'}", "input 'packages[api].prerelease-id'"),
    ("api: {release-as: banana}", "input 'packages[api].release-as'"),
    ("../elsewhere: {}", "input 'packages[../elsewhere]'"),
    ("/etc: {}", "input 'packages[/etc]'"),
    ("/: {}", "input 'packages[/]'"),
    (".git/hooks: {}", "input 'packages[.git/hooks]'"),
    ("api: {}\napi/: {}", "each folder listed once"),
    ("a/api: {}\nb/api: {}", "input 'packages[b/api].component'"),
    ("a: {tag-prefix: x-}\nb: {tag-prefix: x-}", "a tag prefix of its own; a has it already"),
    (".: {}\nb: {tag-prefix: v}", "input 'packages[b].tag-prefix': got 'v'; expected a tag prefix of its own; . has"),
    ("api: [1, 2]", "a mapping of the package's settings"),
    ("just text", "a mapping of package folders"),
    ("api: {", "input 'packages': got"),
    ("!!python/object:os.system x: {}", "input 'packages'"),
    ("api: {version-files: ['x.txt']}", "input 'packages[api].version-files': got 'api/x.txt'"),
])
def test_a_bad_packages_value_is_one_line_naming_the_field_and_nothing_changes(git_repo, capsys, packages, message):
    git_repo.commit("chore: config", {".deploy-actions.yml": "version-bump:\n  packages: |\n" + "".join(
        f"    {line}\n" for line in packages.splitlines())})
    git_repo.tag("api-v1.0.0")
    git_repo.commit("feat: x", {"api/x": "x"})
    before = git_repo.git("rev-parse", "HEAD"), git_repo.tags(), git_repo.git("status", "--porcelain")
    code, _out, err = bump(git_repo, capsys)
    assert code == 2 and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (git_repo.git("rev-parse", "HEAD"), git_repo.tags(), git_repo.git("status", "--porcelain")) == before


@pytest.mark.parametrize(("config", "message"), [
    ("  packages: [api]\n  linked-versions: ['g: api, nope']\n", "input 'linked-versions': got 'nope'"),
    ("  packages: [api, web]\n  linked-versions: ['g: api']\n", "at least two components"),
    ("  packages: [api, web, cli]\n  linked-versions: ['api web', 'web cli']\n", "each component in one group"),
    ("  linked-versions: ['api web']\n", "no packages are configured"),
    ("  packages: [api]\n  paths: [api]\n", "input 'paths'"),
    ("  packages: {api: {floating-tags: {x: [1]}}}\n", "packages[api].floating-tags"),
    ("  packages: 3\n", "input 'packages'"),
    ("  packages:\n    a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"    {n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)),
     "version-bump.packages must be YAML of at most 100,000 values"),
])
def test_bad_linked_versions_and_package_shapes_from_the_file_are_one_line(git_repo, capsys, config, message):
    git_repo.commit("chore: config", {".deploy-actions.yml": "version-bump:\n" + config})
    git_repo.commit("feat: x", {"api/x": "x"})
    before = git_repo.git("rev-parse", "HEAD"), git_repo.tags()
    code, _out, err = bump(git_repo, capsys)
    assert code == 2 and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (git_repo.git("rev-parse", "HEAD"), git_repo.tags()) == before


_FIELDS = ["component", "tag-prefix", "version-files", "changelog", "changelog-file", "changelog-sections",
           "commit-types", "major-on-zero", "prerelease-id", "release-as", "floating-tags", "path", "bump", "x"]
_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
              st.sampled_from(["api", "../x", "/", ".", "-", "a b", "v", "1.2.3", "rc", "update", "*", ":x",
                               ".git", "x\n::warning::y", "feat: New", "docs: patch", "VERSION", "\x00"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
_PACKAGE = st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=4)
_PACKAGES = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(["api", "web", ".", "api/sub", "../x", "a//b", "./api/"]),
                              st.text(max_size=10)), st.one_of(st.none(), _PACKAGE), max_size=4),
    st.lists(st.one_of(st.sampled_from(["api", "web"]), _PACKAGE), max_size=4),
    _VALUES)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_PACKAGES, linked=st.lists(st.sampled_from(["api web", "g: api, web", "api", "x: nope", ":", "a b c"]),
                                       max_size=2))
def test_any_packages_config_is_packages_or_one_error_naming_the_field(data, linked):
    """What the command reads from `packages` (the file's YAML, turned into the input's text first):
    typed packages, or an InputError naming `packages` (or `linked-versions`) and never anything else."""
    from deploy_actions.commands import COMMANDS
    from deploy_actions.commands.version_bump import _package_setting
    from deploy_actions.config import input_text
    from deploy_actions.errors import InputError
    from deploy_actions.release import packages

    option = next(o for o in COMMANDS["version-bump"].options if o.name == "packages")
    text = input_text(option, data)
    if text is None:
        return  # the file's reader refuses the shape itself (a tested one-line FileError)
    try:
        parsed = packages.parse(text, _package_setting)
        groups = packages.parse_linked(tuple(linked), parsed)
    except InputError as err:
        assert err.name.startswith(("packages", "linked-versions")), err
        assert "\n" not in str(err).replace("\\n", "")
    else:
        assert len({p.path for p in parsed}) == len(parsed)
        assert all(p.path == "." or (".." not in p.path.split("/") and not p.path.startswith("/")) for p in parsed)
        components = [p.component for p in parsed if p.component]
        assert len(set(components)) == len(components)
        assert all(len(g.components) >= 2 for g in groups)


@pytest.fixture
def gh_env(github_api, monkeypatch):
    for key, value in github_api.env.items():
        monkeypatch.setenv(key, value)
    import deploy_actions.github as gh

    monkeypatch.setattr(gh, "SECONDS_BETWEEN_REQUESTS", 0.0, raising=False)
    monkeypatch.setattr(gh, "SECONDS_BETWEEN_WRITES", 0.0, raising=False)
    return github_api


def test_one_release_pull_request_covers_every_changed_package_then_each_is_tagged(mono, gh_env, capsys):
    mono.commit("feat: stream uploads", {"packages/api/upload.py": "x"})
    mono.commit("fix: escape the query", {"packages/web/query.js": "x"})
    mono.push()
    before = mono.git("rev-parse", "HEAD"), (mono.path / "packages/api/pyproject.toml").read_text()
    code, out, err = bump(mono, capsys, "--mode", "pull-request", "--push")
    assert code == 0, err
    assert out["released"] is False and out["released-count"] == 0 and out["pull-request-url"]
    assert [(p["tag"], p["released"]) for p in out["packages"]] == [("api-v1.5.0", False), ("web-v0.3.2", False)]
    assert (mono.git("rev-parse", "HEAD"), (mono.path / "packages/api/pyproject.toml").read_text()) == before
    assert 'version = "1.5.0"' in mono.remote_git("show", "release/next:packages/api/pyproject.toml")
    assert '"version": "0.3.2"' in mono.remote_git("show", "release/next:packages/web/package.json")
    (pr,) = gh_env.pulls.values()
    assert pr.base == "main" and pr.title == "chore: release api-v1.5.0, web-v0.3.2"
    assert "**api-v1.5.0** (a minor bump from 1.4.0)" in pr.body and "**web-v0.3.2** (a patch bump" in pr.body
    assert pr.body.index("## api-v1.5.0") < pr.body.index("stream uploads") < pr.body.index("## web-v0.3.2")

    # Another change lands first: the same pull request is updated, and lists the new package too.
    mono.commit("fix: plugin loading", {"packages/api/plugins/load.py": "x"})
    mono.push()
    code, out, err = bump(mono, capsys, "--mode", "pull-request", "--push")
    assert code == 0, err
    (pr,) = gh_env.pulls.values()
    assert "plugins/v2.0.1" in pr.title and "### Fixed\n\n- plugin loading" in pr.body  # its own sections

    # Merged: each package is tagged on the merge and gets its GitHub release; the next run does nothing.
    mono.git("fetch", "-q", "origin", "release/next")
    mono.git("merge", "-q", "--no-ff", "-m", "Merge pull request #1 from org/release/next", "FETCH_HEAD")
    mono.push()
    code, out, err = bump(mono, capsys, "--mode", "pull-request", "--push", "--github-release")
    assert code == 0, err
    assert out["released-count"] == 3 and out["tag"] == "api-v1.5.0 web-v0.3.2 plugins/v2.0.1"
    head = mono.git("rev-parse", "HEAD")
    for tag in ("api-v1.5.0", "web-v0.3.2", "plugins/v2.0.1"):
        assert mono.remote_git("rev-parse", f"{tag}^{{commit}}") == head
        assert gh_env.release_for_tag(tag) is not None
    assert "stream uploads" in gh_env.release_for_tag("api-v1.5.0").body
    assert "stream uploads" not in gh_env.release_for_tag("web-v0.3.2").body
    code, out, err = bump(mono, capsys, "--mode", "pull-request", "--push")
    assert code == 0 and out["released-count"] == 0 and out["packages"] == [] and len(gh_env.pulls) == 1
    assert gh_env.token not in err
