"""gate: freeze periods, deploy windows, the pre-deploy checklist and the emergency override."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy_actions import gates
from deploy_actions.cli import main
from deploy_actions.errors import InputError
from deploy_actions.release.changelog import parse_changelog
from tests.plugins.git_repos import GitRepo, run_git

BERLIN = ZoneInfo("Europe/Berlin")
RUNBOOK_FREEZES = [gates.parse_freeze("12-24..12-26"), gates.parse_freeze("12-31..01-02")]
FRIDAY_AFTERNOON = [gates.parse_window("Fri 15:00-24:00")]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=BERLIN)


@pytest.mark.parametrize(("moment", "allowed"), [
    ("2026-12-23T12:00", True), ("2026-12-24T00:00", False), ("2026-12-26T23:59", False),
    ("2026-12-27T09:00", True), ("2026-12-31T09:00", False), ("2027-01-02T18:00", False), ("2027-01-03T09:00", True),
])
def test_the_runbook_freezes_close_christmas_and_new_year_every_year(moment, allowed):
    assert gates.decide(at(moment), RUNBOOK_FREEZES, []).allowed is allowed


@pytest.mark.parametrize(("moment", "allowed"), [
    ("2026-11-20T14:59", True), ("2026-11-20T15:00", False), ("2026-11-20T23:59", False), ("2026-11-21T09:00", True),
    ("2026-11-19T16:00", True),
])
def test_no_deploys_on_friday_after_three(moment, allowed):
    assert gates.decide(at(moment), [], FRIDAY_AFTERNOON).allowed is allowed


def test_windows_are_judged_in_the_teams_time_zone(capsys):
    # 14:30 UTC on a Friday in November is 15:30 in Berlin: closed there, open in UTC.
    args = ["gate", "--deny-windows", "Fri 15:00-24:00", "--now", "2026-11-20T14:30:00+00:00", "--json"]
    assert main([*args, "--timezone", "Europe/Berlin"]) == 1
    assert main([*args, "--timezone", "UTC"]) == 0
    capsys.readouterr()


def test_dated_freeze_applies_only_that_year():
    freeze = [gates.parse_freeze("2026-07-01..2026-07-03")]
    assert not gates.decide(at("2026-07-02T10:00"), freeze, []).allowed
    assert gates.decide(at("2027-07-02T10:00"), freeze, []).allowed


def test_emergency_override_needs_a_reason_and_is_reported(capsys):
    closed = gates.decide(at("2026-12-25T10:00"), RUNBOOK_FREEZES, [], emergency=True, reason="CVE-2026-1234 fix")
    assert closed.allowed and closed.override and "CVE-2026-1234 fix" in closed.reason
    with pytest.raises(InputError):
        gates.decide(at("2026-12-25T10:00"), RUNBOOK_FREEZES, [], emergency=True)
    code = main(["gate", "--freeze", "12-24..12-26", "--now", "2026-12-25T10:00", "--emergency",
                 "--reason", "security fix", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out == {"allowed": True, "override": True, "reason": out["reason"], "closed-by": "",
                                 "checklist": [], "failed": "", "soak-left": 0, "approvals": "[]",
                                 "approved-by": ""}
    assert "emergency override of freeze 12-24..12-26: security fix" == out["reason"]


def test_closed_gate_exits_1_with_the_rule_in_words(capsys):
    code = main(["gate", "--freeze", "12-24..12-26", "--now", "2026-12-24T09:00", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["allowed"] is False and "freeze 12-24..12-26" in out["reason"]


@pytest.mark.parametrize(("args", "name"), [
    (["--freeze", "Dec 24"], "freeze"), (["--freeze", "02-30..03-01"], "freeze"),
    (["--deny-windows", "Friday 15:00-24:00"], "deny-windows"), (["--deny-windows", "Fri 16:00-15:00"], "deny-windows"),
    (["--timezone", "Mars/Olympus"], "timezone"), (["--now", "yesterday"], "now"),
])
def test_bad_input_is_one_line_naming_the_input(capsys, args, name):
    assert main(["gate", *args]) == 2
    err = capsys.readouterr().err
    assert f"input '{name}'" in err and len(err.strip().splitlines()) == 1


@given(st.text(max_size=40))
def test_any_freeze_or_window_text_parses_or_is_an_input_error(text):
    for parse in (gates.parse_freeze, gates.parse_window):
        try:
            parse(text)
        except InputError:
            pass


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_a_wrapping_freeze_covers_exactly_the_days_it_names(moment):
    freeze = gates.parse_freeze("12-31..01-02")
    expected = (moment.month, moment.day) in {(12, 31), (1, 1), (1, 2)}
    assert freeze.covers(moment.date()) is expected


@given(st.text(max_size=30))
def test_any_time_zone_text_is_a_zone_or_an_input_error(text):
    try:
        gates.zone(text)
    except InputError as err:
        assert "input 'timezone'" in str(err)


# -- the pre-deploy checklist -------------------------------------------------------------------

CHANGELOG = """\
# Changelog

## [Unreleased]

## [1.3.0] - 2026-01-02

### Fixed

- The checkout no longer double-charges.

### Rollback Plan

Deploy v1.2.0 again with gitops-bump (rollback: true); the schema is unchanged.

## [1.2.0] - 2025-12-01

### Added

- Gift cards.
"""
NO_ROLLBACK = CHANGELOG.replace("### Rollback Plan\n\nDeploy v1.2.0 again with gitops-bump (rollback: true); "
                                "the schema is unchanged.\n\n", "")
EMPTY_ROLLBACK = CHANGELOG.replace("Deploy v1.2.0 again with gitops-bump (rollback: true); the schema is "
                                   "unchanged.", "<!-- how to roll back -->")
ALL_CHECKS = "changelog\ntag\nimage\nrollback-plan"


def changelog_line(text: str, line: str) -> int:
    return text.splitlines().index(line) + 1


def code_repo(git_repo: GitRepo, changelog: str = CHANGELOG, tag: str | None = "v1.3.0") -> GitRepo:
    git_repo.commit("docs: changelog for 1.3.0", {"CHANGELOG.md": changelog})
    if tag:
        git_repo.tag(tag)
    return git_repo


def gate(capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["gate", "--json", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def checklist(out: dict) -> dict[str, bool]:
    return {item["check"]: item["ok"] for item in out["checklist"]}


@pytest.mark.parametrize(("lines", "expected"), [
    (("changelog",), ("changelog",)),
    (("changelog", "tag", "image", "rollback-plan"), ("changelog", "tag", "image", "rollback-plan")),
    (("image, tag", " Changelog "), ("image", "tag", "changelog")),
    (("tag", "tag,tag"), ("tag",)),
    ((), ()),
])
def test_require_names_checks_in_order_once_each(lines, expected):
    assert tuple(r.name for r in gates.parse_require(lines)) == expected


def test_an_unknown_check_is_one_line_listing_the_valid_names(capsys):
    assert main(["gate", "--require", "changelog\nsmoke-tests"]) == 2
    err = capsys.readouterr().err
    assert "input 'require': got 'smoke-tests'" in err and len(err.strip().splitlines()) == 1
    assert all(name in err for name in gates.CHECKS)


@given(st.lists(st.text(max_size=30), max_size=5))
def test_any_require_text_parses_or_is_an_input_error(lines):
    from deploy_actions.commands.gate import SPEC
    from deploy_actions.commands.spec import convert

    option = next(o for o in SPEC.options if o.name == "require")
    try:
        names = gates.parse_require(convert(option, "\n".join(lines)))
    except InputError as err:
        assert "input 'require'" in str(err) and "\n" not in str(err)
    else:
        assert {r.name for r in names} <= set(gates.CHECKS) and len(names) == len(set(names))


# changelog and rollback plan: pure checks over the parsed file

def test_changelog_entry_for_the_version_passes_with_or_without_v():
    parsed = parse_changelog(CHANGELOG)
    for version in ("1.3.0", "v1.3.0"):
        result = gates.changelog_entry_check(parsed, version)
        assert result.ok and result.line == changelog_line(CHANGELOG, "## [1.3.0] - 2026-01-02")


def test_missing_changelog_entry_fails_where_it_belongs():
    result = gates.changelog_entry_check(parse_changelog(CHANGELOG), "1.4.0")
    assert not result.ok and "no entry for 1.4.0" in result.detail
    assert result.line == changelog_line(CHANGELOG, "## [1.3.0] - 2026-01-02")  # goes above the newest


def test_a_yanked_release_fails_the_changelog_check():
    text = CHANGELOG.replace("## [1.3.0] - 2026-01-02", "## [1.3.0] - 2026-01-02 [YANKED]")
    result = gates.changelog_entry_check(parse_changelog(text), "1.3.0")
    assert not result.ok and "YANKED" in result.detail


@pytest.mark.parametrize("title", ["Rollback Plan", "Rollback", "ROLLBACK PLAN", "rollback plan:", "How to roll back",
                                   "Roll-back procedure"])
def test_a_filled_rollback_section_passes_whatever_its_case(title):
    text = CHANGELOG.replace("### Rollback Plan", f"### {title}")
    result = gates.rollback_plan_check(parse_changelog(text), "1.3.0")
    assert result.ok, result.detail


def test_a_rollback_plan_must_say_something():
    result = gates.rollback_plan_check(parse_changelog(EMPTY_ROLLBACK), "1.3.0")
    assert not result.ok and "is empty" in result.detail
    assert result.line == changelog_line(EMPTY_ROLLBACK, "### Rollback Plan")


def test_a_rollback_plan_of_another_version_does_not_count():
    text = NO_ROLLBACK.replace("### Added", "### Rollback Plan\n\nNothing to undo.\n\n### Added")
    result = gates.rollback_plan_check(parse_changelog(text), "1.3.0")
    assert not result.ok and "no '### Rollback Plan'" in result.detail
    assert result.line == changelog_line(text, "## [1.3.0] - 2026-01-02")
    assert gates.rollback_plan_check(parse_changelog(text), "1.2.0").ok


def test_changelog_checks_through_the_cli_read_the_file_in_the_repo(git_repo, capsys):
    code_repo(git_repo)
    args = ["--require", "changelog\nrollback-plan", "--repo", str(git_repo.path)]
    code, out, err = gate(capsys, *args, "--version", "v1.3.0")
    assert code == 0, err
    assert checklist(out) == {"changelog": True, "rollback-plan": True} and out["failed"] == ""
    git_repo.write("CHANGELOG.md", NO_ROLLBACK)
    code, out, err = gate(capsys, *args, "--version", "1.3.0")
    assert code == 1 and out["failed"] == "rollback-plan" and out["allowed"] is False
    code, out, err = gate(capsys, *args, "--version", "1.4.0")
    assert code == 1 and out["failed"] == "changelog,rollback-plan"


def test_a_missing_changelog_file_fails_the_check_not_the_run(git_repo, capsys):
    code, out, err = gate(capsys, "--require", "changelog", "--version", "1.3.0", "--repo", str(git_repo.path),
                          "--changelog-file", "docs/CHANGES.md")
    assert code == 1 and out["failed"] == "changelog"
    assert "no changelog at" in out["checklist"][0]["detail"] and "changelog-file" in out["checklist"][0]["detail"]


# tag: locally, or on origin only

def test_a_local_tag_passes(git_repo, capsys):
    code_repo(git_repo)
    code, out, err = gate(capsys, "--require", "tag", "--version", "1.3.0", "--repo", str(git_repo.path))
    assert code == 0, err
    assert "exists in the repository" in out["checklist"][0]["detail"]


def test_a_tag_only_on_the_remote_passes(git_repo, capsys):
    code_repo(git_repo)
    git_repo.push()
    git_repo.git("tag", "-d", "v1.3.0")
    assert git_repo.tags() == [] and "v1.3.0" in git_repo.remote_git("tag", "--list")
    code, out, err = gate(capsys, "--require", "tag", "--version", "v1.3.0", "--repo", str(git_repo.path))
    assert code == 0, err
    assert "on origin" in out["checklist"][0]["detail"]


def test_a_shallow_checkout_without_tags_still_finds_the_release_tag(git_repo, tmp_path, capsys):
    code_repo(git_repo)
    git_repo.push()
    shallow = tmp_path / "shallow"
    run_git(tmp_path, "clone", "-q", "--depth", "1", "--no-tags", f"file://{git_repo.remote}", str(shallow))
    assert run_git(shallow, "tag", "--list") == "" and run_git(shallow, "rev-parse", "--is-shallow-repository") == "true"
    code, out, err = gate(capsys, "--require", "tag", "--version", "1.3.0", "--repo", str(shallow))
    assert code == 0, err
    code, out, err = gate(capsys, "--require", "tag", "--version", "1.3.1", "--repo", str(shallow))
    assert code == 1 and "neither in the repository nor on origin" in out["checklist"][0]["detail"]


def test_a_tag_that_was_never_pushed_anywhere_fails(git_repo, capsys):
    code_repo(git_repo, tag=None)
    git_repo.tag("v1.3.0-rc.1")  # a near miss does not count
    git_repo.push()
    code, out, err = gate(capsys, "--require", "tag", "--version", "1.3.0", "--repo", str(git_repo.path))
    assert code == 1 and out["failed"] == "tag"
    assert "error: tag: v1.3.0 exists neither" in err


def test_the_tag_prefix_names_the_release_tag(git_repo, capsys):
    code_repo(git_repo, tag="api-v1.3.0")
    args = ["--require", "tag", "--repo", str(git_repo.path), "--tag-prefix", "api-v"]
    assert gate(capsys, *args, "--version", "1.3.0")[0] == 0
    assert gate(capsys, *args, "--version", "api-v1.3.0")[0] == 0
    assert gate(capsys, "--require", "tag", "--repo", str(git_repo.path), "--version", "1.3.0")[0] == 1


def test_a_tag_on_an_authenticated_http_remote_is_found_with_the_token_in_a_header(git_http, git_repo, tmp_path):
    code_repo(git_repo)
    git_repo.push()
    served = git_http.root / "app.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(git_repo.remote), str(served))
    git_repo.git("remote", "set-url", "origin", git_http.url("app.git"))
    git_repo.git("tag", "-d", "v1.3.0")
    argv = [sys.executable, "-m", "deploy_actions", "gate", "--json", "--require", "tag", "--version", "1.3.0",
            "--repo", str(git_repo.path)]
    env = clean_env(tmp_path, GITHUB_TOKEN=git_http.token)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["failed"] == ""
    for text in (proc.stdout, proc.stderr, "\n".join(git_http.requests), "\n".join(git_http.header_dump),
                 (git_repo.path / ".git" / "config").read_text()):
        assert git_http.token not in text

    env = clean_env(tmp_path)  # no token: the remote refuses, the check fails, no traceback
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "origin could not be asked" in json.loads(proc.stdout)["checklist"][0]["detail"]


# image: the real registry

def test_a_pushed_image_passes_and_a_missing_one_fails(registry, capsys):
    registry.push("gate/app", "v1.3.0")
    image = f"{registry.host}/gate/app"
    code, out, err = gate(capsys, "--require", "image", "--version", "1.3.0", "--image", image)
    assert code == 0, err
    assert f"{image}:v1.3.0 is in the registry (sha256:" in out["checklist"][0]["detail"]
    code, out, err = gate(capsys, "--require", "image", "--version", "1.4.0", "--image", image)
    assert code == 1 and out["failed"] == "image" and "is not in the registry" in err


def test_image_tag_overrides_the_release_tag(registry, capsys):
    registry.push("gate/plain", "1.3.0")  # docker/metadata-action's {{version}}: no v
    image = f"{registry.host}/gate/plain"
    assert gate(capsys, "--require", "image", "--version", "1.3.0", "--image", image)[0] == 1
    assert gate(capsys, "--require", "image", "--version", "1.3.0", "--image", image, "--image-tag", "1.3.0")[0] == 0


def test_the_image_check_authenticates_with_the_registry_credentials(registry_basic, capsys, monkeypatch):
    registry_basic.push("gate/private", "v1.3.0")
    args = ["--require", "image", "--version", "1.3.0", "--image", f"{registry_basic.host}/gate/private"]
    code, out, err = gate(capsys, *args)
    assert code == 1 and "username and password" in out["checklist"][0]["detail"] and "Traceback" not in err
    monkeypatch.setenv("REGISTRY_PASSWORD", registry_basic.password)
    code, out, err = gate(capsys, *args, "--registry-username", registry_basic.username)
    assert code == 0, err
    assert registry_basic.password not in err + json.dumps(out)


def test_a_bearer_registry_is_asked_with_a_token(registry_bearer, capsys, monkeypatch):
    registry_bearer.push("gate/bearer", "v1.3.0")
    monkeypatch.setenv("REGISTRY_PASSWORD", registry_bearer.password)
    code, out, err = gate(capsys, "--require", "image", "--version", "1.3.0", "--image",
                          f"{registry_bearer.host}/gate/bearer", "--registry-username", "ci-bot")
    assert code == 0, err


# every check runs, and is reported

def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("INPUT_", "GITHUB_", "RUNNER_")) and k != "REGISTRY_PASSWORD"}
    return {**env, **extra}


def actions_env(tmp_path: Path, workspace: Path, **extra: str) -> dict[str, str]:
    (tmp_path / "output").write_text("")
    (tmp_path / "summary").write_text("")
    return clean_env(tmp_path, GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(tmp_path / "output"),
                     GITHUB_STEP_SUMMARY=str(tmp_path / "summary"), GITHUB_WORKSPACE=str(workspace), **extra)


def test_every_check_runs_and_each_failure_is_annotated(git_repo, registry, tmp_path):
    code_repo(git_repo, NO_ROLLBACK.replace("1.3.0", "1.2.9"), tag=None)
    env = actions_env(tmp_path, git_repo.path, INPUT_REQUIRE=ALL_CHECKS, INPUT_VERSION="1.3.0",
                      INPUT_IMAGE=f"{registry.host}/gate/absent")
    proc = subprocess.run([sys.executable, "-m", "deploy_actions", "gate"], cwd=git_repo.path, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 4
    heading = changelog_line(NO_ROLLBACK, "## [1.3.0] - 2026-01-02")  # the 1.2.9 entry: 1.3.0 goes above it
    assert any("file=CHANGELOG.md,line=" + str(heading) in e and "changelog: no entry for 1.3.0" in e for e in errors)
    assert any("title=Pre-deploy check failed%3A image" in e for e in errors)  # ":" is escaped in properties
    outputs = (tmp_path / "output").read_text()
    assert "failed<<" in outputs and "changelog,tag,image,rollback-plan" in outputs
    summary = (tmp_path / "summary").read_text()
    assert "### Pre-deploy checklist" in summary
    assert summary.count("- [ ] **") == 4 and "The gate is **closed**" in summary


def test_the_summary_ticks_what_holds(git_repo, registry, tmp_path):
    code_repo(git_repo)
    registry.push("gate/summary", "v1.3.0")
    env = actions_env(tmp_path, git_repo.path, INPUT_REQUIRE=ALL_CHECKS, INPUT_VERSION="v1.3.0",
                      INPUT_IMAGE=f"{registry.host}/gate/summary")
    proc = subprocess.run([sys.executable, "-m", "deploy_actions", "gate"], cwd=git_repo.path, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = (tmp_path / "summary").read_text()
    for name in gates.RELEASE_CHECKS:
        assert f"- [x] **{name}**" in summary
    outputs = (tmp_path / "output").read_text()
    document = outputs.split("checklist<<", 1)[1].split("\n", 1)[1].split("\n", 1)[0]
    assert [item["ok"] for item in json.loads(document)] == [True] * 4


# the emergency override and the checklist

def result(name: str, ok: bool) -> gates.CheckResult:
    return gates.CheckResult(name, ok, "passed" if ok else "failed")


def test_emergency_waives_paperwork_but_never_a_missing_artifact():
    noon = at("2026-11-18T12:00")  # a Wednesday: no window, no freeze
    paperwork = [result("changelog", False), result("rollback-plan", False), result("tag", True)]
    opened = gates.decide(noon, [], [], emergency=True, reason="hotfix", checklist=paperwork)
    assert opened.allowed and opened.override and opened.waived == ("changelog", "rollback-plan")
    assert opened.failed == ("changelog", "rollback-plan")
    for artifact in ("tag", "image"):
        closed = gates.decide(noon, [], [], emergency=True, reason="hotfix",
                              checklist=[result(artifact, False), result("changelog", False)])
        assert not closed.allowed and not closed.override and closed.closed_by == "checklist"
        assert artifact in closed.reason and "never a missing tag or image" in closed.reason
    plain = gates.decide(noon, [], [], checklist=paperwork)
    assert not plain.allowed and plain.waived == () and plain.closed_by == "checklist"


def test_emergency_during_a_freeze_still_needs_the_artifacts(git_repo, capsys):
    code_repo(git_repo, tag=None)
    args = ["--freeze", "12-24..12-26", "--now", "2026-12-25T10:00", "--require", "tag\nchangelog",
            "--version", "1.3.0", "--repo", str(git_repo.path)]
    code, out, err = gate(capsys, *args, "--emergency", "--reason", "CVE fix")
    assert code == 1 and out["allowed"] is False and out["override"] is False and out["failed"] == "tag"
    git_repo.tag("v1.3.0")
    code, out, err = gate(capsys, *args, "--emergency", "--reason", "CVE fix")
    assert code == 0 and out["override"] is True and out["failed"] == ""
    assert out["reason"] == "emergency override of freeze 12-24..12-26: CVE fix"


def test_emergency_waives_a_missing_rollback_plan_with_a_warning(git_repo, capsys):
    code_repo(git_repo, NO_ROLLBACK)
    args = ["--require", "changelog\ntag\nrollback-plan", "--version", "1.3.0", "--repo", str(git_repo.path)]
    code, out, err = gate(capsys, *args, "--emergency", "--reason", "payments down")
    assert code == 0 and out["allowed"] is True and out["override"] is True
    assert out["failed"] == "rollback-plan" and "failed check rollback-plan: payments down" in out["reason"]
    assert "CHANGELOG.md:" in err and "waived by the emergency override" in err and "error:" not in err
    assert gate(capsys, *args)[0] == 1


def test_an_emergency_that_would_waive_something_needs_a_reason(git_repo, capsys):
    code_repo(git_repo, NO_ROLLBACK)
    code, _, err = gate(capsys, "--require", "rollback-plan", "--version", "1.3.0", "--repo", str(git_repo.path),
                        "--emergency")
    assert code == 2 and "input 'reason'" in err


def test_fail_false_only_reports_a_time_closed_gate_but_a_failed_checklist_still_fails(git_repo, capsys):
    code_repo(git_repo, tag=None)
    frozen = ["--freeze", "12-24..12-26", "--now", "2026-12-25T10:00", "--fail", "false"]
    code, out, _ = gate(capsys, *frozen)
    assert code == 0 and out["allowed"] is False and out["closed-by"] == "freeze"
    code, out, _ = gate(capsys, "--deny-windows", "Fri 15:00-24:00", "--now", "2026-11-20T16:00", "--fail", "false")
    assert code == 0 and out["closed-by"] == "window"
    code, out, _ = gate(capsys, *frozen, "--require", "tag", "--version", "1.3.0", "--repo", str(git_repo.path))
    assert code == 1 and out["closed-by"] == "freeze" and out["failed"] == "tag"
    code, out, _ = gate(capsys, "--freeze", "12-24..12-26", "--now", "2026-12-25T10:00")
    assert code == 1 and out["closed-by"] == "freeze"


# the command line contract, through a real process

def run_cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy_actions", "gate", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False, timeout=120)


@pytest.mark.parametrize(("args", "name"), [
    (["--require", "changelog\nsmoke"], "require"),
    (["--require", "image", "--version", "1.3.0"], "image"),
    (["--require", "tag"], "version"),
    (["--require", "changelog", "--version", "latest"], "version"),
    (["--require", "changelog", "--version", "Unreleased"], "version"),
    (["--require", "image", "--version", "1.3.0", "--image", "ghcr.io/org/app:v1.3.0"], "image"),
    (["--require", "image", "--version", "1.3.0", "--image", "ghcr.io/Org/App"], "image"),
    (["--require", "image", "--version", "1.3.0+build.7", "--image", "ghcr.io/org/app"], "image-tag"),
    (["--require", "changelog", "--version", "1.3.0", "--changelog-file", "../CHANGELOG.md"], "changelog-file"),
    (["--require", "changelog", "--version", "1.3.0", "--changelog-file", "/etc/passwd"], "changelog-file"),
    (["--require", "tag", "--version", "1.3.0", "--tag-prefix=-x"], "tag-prefix"),
    (["--require", "tag", "--version", "1.3.0", "--tag-prefix", "re lease"], "tag-prefix"),
    (["--require", "tag", "--version", "1.3.0", "--repo", "does-not-exist"], "repo"),
    (["--require", "changelog", "--version", "1.3.0", "--repo", "does-not-exist"], "repo"),
])
def test_bad_checklist_input_exits_2_with_one_line_naming_it(git_repo, tmp_path, args, name):
    proc = run_cli(git_repo.path, clean_env(tmp_path), *args, "--json")
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and f"input '{name}'" in proc.stderr


def test_the_cli_exits_0_open_and_1_closed_with_json_outputs(git_repo, registry, tmp_path):
    code_repo(git_repo)
    registry.push("gate/cli", "v1.3.0")
    env = clean_env(tmp_path)
    args = ["--json", "--require", ALL_CHECKS, "--version", "1.3.0", "--image", f"{registry.host}/gate/cli"]
    proc = run_cli(git_repo.path, env, *args)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"allowed", "reason", "override", "closed-by", "checklist", "failed", "soak-left", "approvals",
                        "approved-by"}
    assert out["allowed"] is True and out["closed-by"] == "" and \
        checklist(out) == dict.fromkeys(gates.RELEASE_CHECKS, True)
    assert all(set(item) == {"check", "ok", "detail"} for item in out["checklist"])
    proc = run_cli(git_repo.path, env, *args, "--freeze", "12-24..12-26", "--now", "2026-12-24T09:00")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    out = json.loads(proc.stdout)
    assert out["allowed"] is False and out["failed"] == "" and out["closed-by"] == "freeze"


def test_the_registry_password_never_shows(git_repo, registry_basic, tmp_path):
    code_repo(git_repo)
    registry_basic.push("gate/secret", "v1.3.0")
    image = f"{registry_basic.host}/gate/secret"
    basic = base64.b64encode(f"{registry_basic.username}:{registry_basic.password}".encode()).decode()
    wrong = "wrong-" + registry_basic.password[::-1]
    for password, expected in ((registry_basic.password, 0), (wrong, 1)):
        env = actions_env(tmp_path, git_repo.path, INPUT_REQUIRE="image\nchangelog", INPUT_VERSION="1.3.0",
                          INPUT_IMAGE=image, INPUT_REGISTRY_USERNAME=registry_basic.username or "",
                          REGISTRY_PASSWORD=password)
        proc = run_cli(git_repo.path, env)  # without --json every command and log line is on stdout
        assert proc.returncode == expected, proc.stdout + proc.stderr
        assert proc.stdout.startswith(f"::add-mask::{password}")
        everything = [proc.stdout.replace(f"::add-mask::{password}", ""), proc.stderr,
                      (tmp_path / "output").read_text(), (tmp_path / "summary").read_text()]
        for text in everything:
            assert password not in text and basic not in text
        if expected:
            assert "refused the credentials" in proc.stdout
