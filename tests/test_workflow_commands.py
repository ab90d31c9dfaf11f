"""Text from outside never becomes a workflow command: not in our log lines, not in the workflows' echoes.

`runner_commands` reads output the way the GitHub Actions runner does (lines split on CR, LF or
CRLF; a line whose trimmed start is `::` is a command; `##[` anywhere is an old-style command;
`::stop-commands::T` turns commands off until `::T::`).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy_actions import actions_runtime as rt
from deploy_actions.cli import main
from tests.plugins.http_services import Phase, Reply

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ("1.2.3\n::add-mask::1.2.3\n::warning title=x::pwned\r::stop-commands::abc\n##[error]old style\n"
           "  ::set-output name=x::y")


def runner_commands(output: str) -> list[tuple[str, str]]:
    commands: list[tuple[str, str]] = []
    stop_token: str | None = None
    for line in re.split(r"\r\n|\r|\n", output):
        text = line.strip()
        if stop_token is not None:
            if text == f"::{stop_token}::":
                stop_token = None
            continue
        if text.startswith("::"):
            name, _, rest = text[2:].partition("::")
            command = name.split(" ", 1)[0]
            if command == "stop-commands":
                stop_token = rest
            commands.append((command, rest))
        elif "##[" in text:
            commands.append(("v1:" + text.split("##[", 1)[1].split("]", 1)[0], text))
    return commands


@pytest.fixture
def actions(monkeypatch, tmp_path):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        (tmp_path / name).touch()
        monkeypatch.setenv(name, str(tmp_path / name))
    monkeypatch.setattr(rt, "_secrets", set())
    rt.set_json_mode(False)


def test_a_hostile_log_line_is_shown_but_runs_nothing(actions, capsys):
    rt.log(f"service answered: version {HOSTILE}")
    out = capsys.readouterr().out
    assert [c for c, _ in runner_commands(out) if c != "stop-commands"] == []
    assert "pwned" in out and "old style" in out  # shown, not hidden


def test_plain_log_lines_are_left_as_they_are(actions, capsys):
    rt.log("deployed v1.2.3: 4 files\nall good")
    assert capsys.readouterr().out == "deployed v1.2.3: 4 files\nall good\n"


def test_a_health_endpoint_s_version_cannot_issue_commands_through_smoke_test(actions, capsys, http_service,
                                                                               tmp_path):
    service = http_service({"/health": [Phase(Reply(json={"version": HOSTILE}))]})
    code = main(["smoke-test", "--url", service.url("/health"), "--expect-version", "9.9.9", "--timeout", "1s",
                 "--report", str(tmp_path / "report.json")])
    captured = capsys.readouterr()
    commands = runner_commands(captured.out + "\n" + captured.err)
    assert code == 1
    assert {c for c, _ in commands} <= {"group", "endgroup", "error", "notice", "stop-commands"}
    assert not any("pwned" in text for c, text in commands if c != "error")
    # The error annotation carries the version as data: one escaped message, not extra lines.
    assert all("\n" not in text and "\r" not in text for _, text in commands)


def _deploy_summary_step() -> str:
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    for job in doc["jobs"].values():
        for step in job.get("steps") or []:
            if "CANARY_REASON" in (step.get("env") or {}) and 'echo "::error::' in step.get("run", ""):
                return str(step["run"])
    raise AssertionError("deploy.yml has no step that reports the canary's reason as an error")


def test_deploy_yml_escapes_the_reason_it_reports_as_an_error(tmp_path):
    env = {**os.environ, "SMOKE": "success", "DECISION": "rollback", "CANARY_REASON": HOSTILE,
           "HAS_CANARY": "true", "PREVIOUS": "v1.0.0", "TAG": "v1.1.0", "APP": "app", "ENVIRONMENT": "staging",
           "FAIL_ON_ROLLBACK": "true", "CONCLUDED": "", "SHELVED": "paused", "ROLLBACK_COMMIT": "a" * 40,
           "PROMOTE_COMMIT": "", "BUMP_COMMIT": "b" * 40, "GITHUB_OUTPUT": str(tmp_path / "out"),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    proc = subprocess.run(["bash", "-c", _deploy_summary_step()], env=env, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    commands = runner_commands(proc.stdout)
    assert [c for c, _ in commands] == ["error"]
    assert "%0A::add-mask::" in commands[0][1] and "%0D::stop-commands::abc" in commands[0][1]
