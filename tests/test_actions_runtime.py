"""The GitHub Actions runtime: what the runner reads from us."""

from __future__ import annotations

import pytest

from deploy_actions import actions_runtime as rt


@pytest.fixture
def in_actions(monkeypatch, tmp_path):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    output, summary = tmp_path / "output", tmp_path / "summary"
    output.touch()
    summary.touch()
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setattr(rt, "_secrets", set())
    rt.set_json_mode(False)
    return output, summary


def test_inputs_are_read_with_hyphens_or_underscores(monkeypatch):
    monkeypatch.setenv("INPUT_TAG-PREFIX", "api-v")
    assert rt.get_input("tag-prefix") == "api-v"
    monkeypatch.delenv("INPUT_TAG-PREFIX")
    monkeypatch.setenv("INPUT_TAG_PREFIX", "web-v")
    assert rt.get_input("tag-prefix") == "web-v"
    monkeypatch.setenv("INPUT_TAG_PREFIX", "  ")
    assert rt.get_input("tag-prefix") is None


def test_every_output_value_gets_its_own_delimiter(in_actions):
    output, _ = in_actions
    rt.write_outputs({"notes": "line 1\nline 2", "released": True, "empty": None, "list": [1, 2]})
    text = output.read_text()
    delimiters = [line.split("<<", 1)[1] for line in text.splitlines() if "<<" in line]
    assert len(delimiters) == 4 and len(set(delimiters)) == 4
    assert "notes<<" in text and "\nline 1\nline 2\n" in text
    assert "released<<" in text and "\ntrue\n" in text
    assert "\n[1, 2]\n" in text


def test_mask_is_issued_before_the_secret_could_print(in_actions, capsys):
    rt.mask("s3cr3t-token")
    rt.log("using s3cr3t-token now")
    out = capsys.readouterr().out
    assert out.index("::add-mask::s3cr3t-token") < out.index("using *** now")
    assert "using s3cr3t-token" not in out


def test_multiline_secrets_mask_each_line(in_actions, capsys):
    rt.mask("line-one\nline-two")
    assert "::add-mask::line-one" in capsys.readouterr().out
    assert rt.redact("x line-two y") == "x *** y"


def test_error_annotation_has_file_and_line(in_actions, capsys):
    rt.annotate("error", "missing entry", file="CHANGELOG.md", line=12, title="changelog")
    assert "::error title=changelog,file=CHANGELOG.md,line=12::missing entry" in capsys.readouterr().out


def test_annotation_data_is_escaped(in_actions, capsys):
    rt.annotate("warning", "100%\nnext")
    assert "::warning::100%25%0Anext" in capsys.readouterr().out


def test_outside_actions_problems_are_plain_lines_on_stderr(monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    rt.annotate("error", "bad", file="f.txt", line=3)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "error: f.txt:3: bad\n"


def test_groups_fold_in_actions(in_actions, capsys):
    with rt.group("Reading commits"):
        rt.log("inside")
    out = capsys.readouterr().out
    assert out.splitlines() == ["::group::Reading commits", "inside", "::endgroup::"]


def test_json_mode_keeps_stdout_clean(in_actions, capsys):
    rt.set_json_mode(True)
    try:
        rt.mask("tok")
        rt.log("hello")
    finally:
        rt.set_json_mode(False)
    captured = capsys.readouterr()
    assert captured.out == "" and "::add-mask::tok" in captured.err


def test_summary_is_appended_and_capped_at_one_mebibyte(in_actions):
    _, summary = in_actions
    rt.write_summary("# first")
    rt.write_summary("x" * (2 * 1024 * 1024))
    data = summary.read_bytes()
    assert data.startswith(b"# first\n")
    assert len(data) <= len(b"# first\n") + rt.SUMMARY_LIMIT + 1
    assert b"summary truncated" in data


def test_a_missing_output_file_is_one_clear_line_not_a_traceback(git_repo, tmp_path, monkeypatch, capsys):
    from deploy_actions.cli import main

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "missing"))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    code = main(["version-bump", "--repo", str(git_repo.path), "--dry-run"])
    out = capsys.readouterr().out
    assert code == 1 and "GITHUB_OUTPUT" in out and "Traceback" not in out
