"""`deploy-actions changelog-check` as users run it: flags or INPUT_* variables, real files in a
working directory, exit status 0 / 1 / 2, JSON on stdout, and inside GitHub Actions the outputs
file, the step summary and `::error file=…,line=…::` annotations."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.changelog_parse import generate_changelog
from deploy_actions.cli import main
from deploy_actions.release.changelog import parse_changelog, validate

CHANGELOG = """\
# Changelog

## [Unreleased]

### Changes
- Work in progress

## [1.3.0-rc.1] - 2024-04-01

### Changes
- Release candidate

## [1.2.0] - 2024-03-05

### Changes
- Faster startup

### Breaking Changes
- `--legacy` is gone

### Migration Steps
1. Drop `--legacy`.

### Rollback Plan
Deploy v1.1.0 again with gitops-bump.

## [1.1.0] - 2024-02-01 [YANKED]

### Changes
- Broken build

[Unreleased]: https://github.com/org/app/compare/v1.3.0-rc.1...HEAD
[1.3.0-rc.1]: https://github.com/org/app/compare/v1.2.0...v1.3.0-rc.1
[1.2.0]: https://github.com/org/app/compare/v1.1.0...v1.2.0
[1.1.0]: https://github.com/org/app/releases/tag/v1.1.0
"""
NOTES_120 = ("### Changes\n- Faster startup\n\n### Breaking Changes\n- `--legacy` is gone\n\n"
             "### Migration Steps\n1. Drop `--legacy`.\n\n### Rollback Plan\nDeploy v1.1.0 again with gitops-bump.")
OUTPUTS = {"version", "date", "status", "notes", "notes-file", "found"}


@pytest.fixture(autouse=True)
def workdir(tmp_path, monkeypatch) -> Path:
    """A working directory with CHANGELOG.md, and an environment with no Actions variables."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "INPUT_")) or name == "RUNNER_TEMP":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "CHANGELOG.md").write_text(CHANGELOG)
    return tmp_path


def check(capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["changelog-check", "--json", *args])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else {}), captured.err


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


# --------------------------------------------------------------------------------- extracting


def test_extracting_a_version_prints_its_outputs_as_json(capsys):
    code, out, err = check(capsys, "--version", "v1.2.0")
    assert code == 0, err
    assert out == {"version": "1.2.0", "date": "2024-03-05", "status": "released", "notes": NOTES_120,
                   "notes-file": "", "found": True}


@pytest.mark.parametrize(("version", "status", "date"), [
    ("1.3.0-rc.1", "prerelease", "2024-04-01"), ("1.1.0", "yanked", "2024-02-01"),
    ("Unreleased", "unreleased", ""),
])
def test_each_status_is_reported(capsys, version, status, date):
    code, out, _ = check(capsys, "--version", version)
    assert (code, out["status"], out["date"], out["found"]) == (0, status, date, True)


def test_a_missing_version_fails_with_an_annotation_at_the_file_and_line(capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out, err = check(capsys, "--version", "1.1.5")
    assert code == 1
    assert out["found"] is False and out["version"] == "" and out["notes"] == ""
    line = line_of(CHANGELOG, "## [1.1.0]")  # where the 1.1.5 entry belongs
    assert re.search(rf"^::error title=Changelog entry missing,file=CHANGELOG.md,line={line}::"
                     r"no entry for 1\.1\.5 in CHANGELOG\.md", err, re.M), err


def test_without_a_version_the_file_is_validated_and_the_newest_entry_reported(capsys):
    code, out, err = check(capsys)
    assert code == 0, err
    assert (out["version"], out["status"], out["found"]) == ("Unreleased", "unreleased", True)
    assert out["notes"] == "### Changes\n- Work in progress"


def test_a_changelog_without_entries_is_valid_and_reports_nothing_found(capsys, workdir):
    (workdir / "CHANGELOG.md").write_text("# Changelog\n")
    assert check(capsys)[:2] == (0, {**dict.fromkeys(OUTPUTS, ""), "found": False})


def test_inputs_come_from_input_variables_like_in_an_action(capsys, monkeypatch, workdir):
    (workdir / "docs").mkdir()
    (workdir / "docs" / "HISTORY.md").write_text(CHANGELOG)
    monkeypatch.setenv("INPUT_FILE", "docs/HISTORY.md")
    monkeypatch.setenv("INPUT_VERSION", "1.2.0")
    monkeypatch.setenv("INPUT_REQUIRE-SECTIONS", "Rollback Plan\nMigration Steps\n")
    code, out, err = check(capsys)
    assert (code, out["version"]) == (0, "1.2.0"), err


# --------------------------------------------------------------------------------- notes file


def test_notes_file_receives_the_notes(capsys, workdir):
    code, out, _ = check(capsys, "--version", "1.2.0", "--notes-file", "build/notes.md")
    assert code == 0
    assert out["notes-file"] == str(workdir.resolve() / "build" / "notes.md")
    assert (workdir / "build" / "notes.md").read_text() == NOTES_120 + "\n"


@pytest.mark.parametrize("target", ["../notes.md", "a/../../notes.md", "/tmp/notes.md", "."])
def test_notes_file_outside_the_working_directory_is_refused(capsys, target):
    code, out, err = check(capsys, "--version", "1.2.0", "--notes-file", target)
    assert (code, out) == (2, {})
    assert err.startswith("error: input 'notes-file': got ") and err.count("\n") == 1


def test_notes_file_through_a_symlink_that_leaves_the_working_directory_is_refused(capsys, workdir, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (workdir / "out").symlink_to(outside, target_is_directory=True)
    code, _, err = check(capsys, "--version", "1.2.0", "--notes-file", "out/notes.md")
    assert code == 2 and "input 'notes-file'" in err
    assert list(outside.iterdir()) == []


# --------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("args", "expected"), [
    (["--version", "latest"], "error: input 'version': got 'latest'; expected a semantic version"),
    (["--file", "NOPE.md"], "error: NOPE.md: no changelog at NOPE.md"),
    (["--strict", "maybe"], "error: input 'strict': got 'maybe'; expected true or false"),
])
def test_bad_input_exits_2_with_one_line(capsys, args, expected):
    code, out, err = check(capsys, *args)
    assert (code, out) == (2, {})
    assert err.startswith(expected) and err.count("\n") == 1, err


def test_undecodable_changelog_exits_2_naming_the_line(capsys, workdir):
    (workdir / "CHANGELOG.md").write_bytes(b"# Changelog\n\xff\xfe\n")
    code, _, err = check(capsys)
    assert code == 2 and "error: CHANGELOG.md:2: CHANGELOG.md is not UTF-8 text" in err


# --------------------------------------------------------------------------------- validation


BROKEN = "# Changelog\n\n## [1.0.0] - 2024-01-01\n- a\n\n## [1.1.0] - 2024-13-01\n### Added\n- b\n### Added\n- c\n"


def test_validation_problems_are_warnings_by_default(capsys, workdir):
    (workdir / "CHANGELOG.md").write_text(BROKEN)
    code, out, err = check(capsys, "--version", "1.0.0")
    assert code == 0 and out["found"] is True
    assert "warning: CHANGELOG.md:6: 1.1.0 is listed below 1.0.0 (line 3)" in err
    assert "warning: CHANGELOG.md:6: the date of 1.1.0, '2024-13-01', is not an ISO 8601 date" in err
    assert "warning: CHANGELOG.md:9: a second '### Added' in 1.1.0 (first at line 7)" in err


def test_validation_problems_fail_when_strict(capsys, workdir):
    (workdir / "CHANGELOG.md").write_text(BROKEN)
    code, out, err = check(capsys, "--version", "1.0.0", "--strict")
    assert code == 1 and out["version"] == "1.0.0"
    assert "error: CHANGELOG.md:6: 1.1.0 is listed below 1.0.0" in err


def test_a_valid_changelog_passes_strict(capsys):
    assert check(capsys, "--version", "1.2.0", "--strict", "true")[0] == 0


def test_a_missing_required_section_fails_even_when_not_strict(capsys):
    code, out, err = check(capsys, "--version", "1.3.0-rc.1", "--require-sections", "Changes\nRollback Plan")
    assert code == 1 and out["found"] is True
    line = line_of(CHANGELOG, "## [1.3.0-rc.1]")
    assert f"error: CHANGELOG.md:{line}: 1.3.0-rc.1 has no '### Rollback Plan' section" in err


# --------------------------------------------------------------------------------- GitHub Actions


def test_in_github_actions_outputs_go_to_github_output_and_markdown_to_the_summary(capsys, workdir, monkeypatch):
    output, summary = workdir / "output.txt", workdir / "summary.md"
    output.touch()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("INPUT_VERSION", "v1.2.0")
    assert main(["changelog-check"]) == 0
    written = output.read_text()
    notes = re.search(r"^notes<<(ghadelimiter_[0-9a-f-]+)\n(.*?)\n\1$", written, re.S | re.M)
    assert notes is not None and notes.group(2) == NOTES_120
    names = [m[0] for m in re.findall(r"^([a-z-]+)<<(ghadelimiter_[0-9a-f-]+)\n.*?\n\2$", written, re.S | re.M)]
    assert sorted(names) == sorted(OUTPUTS)
    for name, expected in {"version": "1.2.0", "date": "2024-03-05", "status": "released", "found": "true"}.items():
        assert re.search(rf"^{name}<<(\S+)\n{re.escape(expected)}\n\1$", written, re.M), name
    markdown = summary.read_text()
    assert markdown.startswith("### Changelog: `CHANGELOG.md`\n")
    assert "| 1.2.0 | released | 2024-03-05 |" in markdown and "<summary>Release notes</summary>" in markdown
    assert "CHANGELOG.md: 1.2.0 (released 2024-03-05)" in capsys.readouterr().out


def test_in_github_actions_problems_are_annotations_with_file_and_line(capsys, workdir, monkeypatch):
    (workdir / "CHANGELOG.md").write_text(BROKEN)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["changelog-check", "--strict"]) == 1
    out = capsys.readouterr().out
    assert "::error title=Changelog%3A order,file=CHANGELOG.md,line=6::1.1.0 is listed below 1.0.0" in out


# --------------------------------------------------------------------------------- pull requests


def pull_request_event(workdir: Path, monkeypatch, labels: list[str], event: str = "pull_request") -> None:
    payload = {"action": "synchronize", "number": 7,
               "pull_request": {"number": 7, "labels": [{"name": name} for name in labels]},
               "repository": {"full_name": "org/app"}}
    path = workdir / "event.json"
    path.write_text(json.dumps(payload))
    monkeypatch.setenv("GITHUB_EVENT_NAME", event)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/app")


class StubGitHubClient:
    """Stands in for deploy_actions.github.GitHubClient: records calls, returns set files."""

    files: ClassVar[list[str]] = []
    calls: ClassVar[list[tuple[str, str, str | None, int]]] = []

    def __init__(self, repository: str, token: str, api_url: str | None = None) -> None:
        self.args = (repository, token, api_url)

    def pull_request_files(self, number: int) -> list[str]:
        StubGitHubClient.calls.append((*self.args, number))
        return list(self.files)


@pytest.fixture
def stub_github(monkeypatch) -> type[StubGitHubClient]:
    monkeypatch.setattr("deploy_actions.github.GitHubClient", StubGitHubClient)
    monkeypatch.setattr(StubGitHubClient, "files", [])
    monkeypatch.setattr(StubGitHubClient, "calls", [])
    return StubGitHubClient


@pytest.mark.parametrize("event", ["pull_request", "pull_request_target"])
def test_a_pull_request_that_changes_the_changelog_passes(capsys, workdir, monkeypatch, stub_github, event):
    pull_request_event(workdir, monkeypatch, labels=[], event=event)
    stub_github.files = ["src/app.py", "CHANGELOG.md"]
    monkeypatch.setenv("INPUT_TOKEN", "ghs_stub_token_1")  # tokens come from inputs, never flags
    code, _, err = check(capsys)
    assert code == 0, err
    assert stub_github.calls == [("org/app", "ghs_stub_token_1", None, 7)]


def test_a_pull_request_that_does_not_change_the_changelog_fails(capsys, workdir, monkeypatch, stub_github):
    pull_request_event(workdir, monkeypatch, labels=["bug"])
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example.com/api/v3")
    stub_github.files = ["src/app.py"]
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_stub_token_2")  # outside an action, as `gh` does
    code, out, err = check(capsys, "--version", "1.2.0")
    assert code == 1 and out["version"] == "1.2.0"
    assert (f"error: CHANGELOG.md:{line_of(CHANGELOG, '## [Unreleased]')}: this pull request does not "
            "change CHANGELOG.md; add an entry under [Unreleased] or add the label 'skip-changelog'") in err
    assert stub_github.calls[0][2] == "https://ghe.example.com/api/v3"


def test_the_skip_label_from_the_event_waives_the_rule_without_calling_the_api(capsys, workdir, monkeypatch,
                                                                              stub_github):
    pull_request_event(workdir, monkeypatch, labels=["no-changelog"])
    code, _, err = check(capsys, "--skip-label", "no-changelog")
    assert code == 0, err
    assert stub_github.calls == []


def test_a_push_event_does_not_check_the_pull_request_rule(capsys, monkeypatch, stub_github):
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    assert check(capsys)[0] == 0 and stub_github.calls == []


def test_a_pull_request_without_a_token_is_bad_input(capsys, workdir, monkeypatch, stub_github):
    pull_request_event(workdir, monkeypatch, labels=[])
    code, _, err = check(capsys)
    assert code == 2 and err.startswith("error: input 'token': got ''")


def test_a_pull_request_event_without_payload_is_a_file_error(capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    monkeypatch.setenv("INPUT_TOKEN", "ghs_stub_token_3")
    code, _, err = check(capsys)
    assert code == 2 and "GITHUB_EVENT_PATH is not set" in err


def test_pull_request_files_come_from_the_paginated_api(capsys, workdir, monkeypatch, github_api):
    # 130 files: with 100 per page the changelog is on the second page of the PR-files API
    files = [f"src/module_{n:03}.py" for n in range(129)] + ["CHANGELOG.md"]
    pull = github_api.seed_pull_request(files=files, labels=["enhancement"])
    other = github_api.seed_pull_request(head="no-changelog", files=files[:-1])
    for name, value in github_api.env.items():
        monkeypatch.setenv(name, value)
    for number, expected in ((pull.number, 0), (other.number, 1)):
        path = workdir / f"event-{number}.json"
        path.write_text(json.dumps({"number": number, "pull_request": {
            "number": number, "labels": [{"name": "enhancement"}]}}))
        monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
        monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
        code, _, err = check(capsys)
        assert code == expected, err
        assert github_api.token not in err
    pages = github_api.calls("GET", f"/repos/org/app/pulls/{pull.number}/files")
    assert len(pages) >= 2
    assert "this pull request does not change CHANGELOG.md" in err


# --------------------------------------------------------------------------------- the real command


def run_command(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))}
    return subprocess.run([sys.executable, "-m", "deploy_actions", "changelog-check", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_the_installed_command_exits_0_1_2_without_tracebacks(workdir):
    found = run_command(workdir, "--file", "CHANGELOG.md", "--version", "1.2.0", "--json")
    assert found.returncode == 0, found.stderr
    assert set(json.loads(found.stdout)) == OUTPUTS
    missing = run_command(workdir, "--version", "9.9.9", "--json")
    assert missing.returncode == 1 and json.loads(missing.stdout)["found"] is False
    assert "error: CHANGELOG.md:" in missing.stderr
    bad = run_command(workdir, "--version", "not-a-version")
    assert bad.returncode == 2 and bad.stdout == ""
    for result in (found, missing, bad):
        assert "Traceback" not in result.stderr


def test_a_300_kb_changelog_parses_every_entry_and_validates_clean(workdir):
    # Its speed is measured side by side in benchmarks/changelog_parse.py; tests never time.
    text = generate_changelog(300_000)
    assert len(text) > 290_000
    changelog = parse_changelog(text)
    assert changelog.entry(changelog.entries[-1].version) is not None
    assert validate(changelog) == ()


# --------------------------------------------------------------------------------- fuzzing


LINES = st.sampled_from([
    "## [Unreleased]", "## [1.2.0] - 2024-03-05", "## [1.2.0] - 2024-03-05 [YANKED]", "## 0.1.0",
    "## [1.0.0-rc.1] - 2024-13-40", "## [1.2]", "### Rollback Plan", "### Changes", "- item", "",
    "```", "<!--", "[1.2.0]: https://x/compare/v1.1.0...v1.2.0", "[@a]: https://x/a", "##", "## [",
])


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=300),
                         st.lists(st.one_of(LINES, st.text(max_size=20)), max_size=30)
                         .map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))),
       version=st.sampled_from(["", "1.2.0", "v0.1.0", "Unreleased", "9.9.9", "bogus"]),
       strict=st.booleans())
def test_any_changelog_content_exits_0_1_or_2_without_a_traceback(capsys, workdir, content, version, strict):
    (workdir / "CHANGELOG.md").write_bytes(content)
    args = ["changelog-check", "--json", "--require-sections", "Rollback Plan", "--notes-file", "n.md"]
    if version:
        args += ["--version", version]
    if strict:
        args.append("--strict")
    code = main(args)
    captured = capsys.readouterr()
    assert code in (0, 1, 2)
    assert "Traceback" not in captured.err and "internal error" not in captured.err
    if code != 2:
        assert set(json.loads(captured.out)) == OUTPUTS


def test_a_release_please_level_three_patch_entry_is_found_and_clean(capsys, workdir):
    from tests.release.test_changelog import RELEASE_PLEASE

    (workdir / "CHANGELOG.md").write_text(RELEASE_PLEASE)
    code, out, err = check(capsys, "--version", "2.0.1", "--strict")
    assert code == 0, err
    assert out["version"] == "2.0.1" and out["date"] == "2023-02-10" and "gaxios" in out["notes"]
    code, out, err = check(capsys, "--version", "2.1.0", "--strict")
    assert code == 0 and "gaxios" not in out["notes"] and "second" not in err


@pytest.mark.parametrize("kind", ["fifo", "device", "huge"])
def test_an_endless_or_huge_file_is_refused_with_one_line(capsys, workdir, kind):
    from deploy_actions.release.changelog import MAX_CHANGELOG_BYTES

    target = workdir / "CHANGELOG.md"
    target.unlink()
    if kind == "fifo":
        os.mkfifo(target)  # reading it would wait for a writer forever
    elif kind == "device":
        target.symlink_to("/dev/zero")  # endless
    else:
        target.write_bytes(b"## [1.0.0] - 2024-01-01\n" + b"x" * MAX_CHANGELOG_BYTES)
    code, out, err = check(capsys, "--version", "1.0.0")
    assert code == 2 and out == {}
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "CHANGELOG.md" in err
    assert ("larger than 16 MiB" if kind == "huge" else "not a regular file") in err


@pytest.mark.parametrize("asked", ["1.2.0b3", "v1.2.0b3", "1.2.0-beta.3"])
def test_pep440_versions_are_versions_in_the_file_and_the_input(capsys, workdir, asked):
    (workdir / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [1.2.0b3] - 2024-05-02\n\n### Fixed\n- Wheels for 3.13\n\n"
        "## [0.13.0.dev1] - 2024-04-01\n\n### Added\n- Preview\n")
    code, out, err = check(capsys, "--version", asked, "--strict")
    assert code == 0, err
    assert (out["version"], out["status"], out["notes"]) == ("1.2.0b3", "prerelease", "### Fixed\n- Wheels for 3.13")


def test_a_version_that_is_neither_semver_nor_pep440_is_refused(capsys):
    code, out, err = check(capsys, "--version", "1.2.0.post1x")
    assert code == 2 and "version" in err and "1.2.0.post1x" in err and "PEP 440" in err


def test_a_restructuredtext_changelog_is_checked_like_a_markdown_one(capsys, workdir):
    from tests.release.test_changelog_rst import PSR

    (workdir / "CHANGELOG.rst").write_text(PSR)
    code, out, err = check(capsys, "--file", "CHANGELOG.rst", "--version", "v1.0.1", "--strict")
    assert code == 0, err
    assert out["date"] == "2024-01-02" and out["notes"].startswith("Bug Fixes\n---------\n\n* Handle EOF")
    code, out, err = check(capsys, "--file", "CHANGELOG.rst", "--version", "1.0.5")
    assert code == 1 and out["found"] is False
