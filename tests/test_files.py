"""Paths users give stay inside their repository and out of .git; reports go only to regular files."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from deploy_actions.cli import main
from deploy_actions.errors import InputError
from deploy_actions.files import inside_repo, report_target, write_report


@pytest.mark.parametrize("relpath", [".git/hooks/pre-commit", "sub/.git/config", ".GIT/hooks/x", ".git./x",
                                     "a/.git /b"])
def test_a_path_inside_git_s_own_folder_is_refused(tmp_path, relpath):
    with pytest.raises(InputError, match=r"outside \.git"):
        inside_repo(tmp_path, relpath, "record")


def test_a_symlink_into_git_is_refused(tmp_path):
    (tmp_path / ".git" / "hooks").mkdir(parents=True)
    (tmp_path / "hooks").symlink_to(tmp_path / ".git" / "hooks")
    with pytest.raises(InputError, match=r"outside \.git"):
        inside_repo(tmp_path, "hooks/post-checkout", "incident")


def test_a_name_too_long_for_the_file_system_is_an_input_error_not_a_crash(tmp_path):
    with pytest.raises(InputError, match="at most 255 bytes"):
        inside_repo(tmp_path, "x" * 300 + ".jsonl", "record")


def test_reports_are_written_whole_and_their_folders_made(tmp_path):
    path = write_report(str(tmp_path / "deep" / "er" / "report.json"), b"{}\n", "report")
    assert (tmp_path / "deep" / "er" / "report.json").read_bytes() == b"{}\n" and path.endswith("report.json")
    assert [p.name for p in (tmp_path / "deep" / "er").iterdir()] == ["report.json"]


def test_a_report_replaces_a_regular_file(tmp_path):
    (tmp_path / "r.json").write_text("old")
    write_report(str(tmp_path / "r.json"), b"new", "report")
    assert (tmp_path / "r.json").read_bytes() == b"new"


def test_a_report_never_goes_through_a_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (tmp_path / "report.json").symlink_to(victim)
    with pytest.raises(InputError, match="symbolic link"):
        write_report(str(tmp_path / "report.json"), b"{}", "report")
    assert victim.read_text() == "keep me" and (tmp_path / "report.json").is_symlink()


@pytest.mark.parametrize("make", ["fifo", "folder", "device"])
def test_a_report_never_replaces_a_device_a_fifo_or_a_folder(tmp_path, make):
    target = tmp_path / "target"
    if make == "fifo":
        os.mkfifo(target)
    elif make == "folder":
        target.mkdir()
    else:
        target = tmp_path / "null"
        os.mknod(target, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers (the tests run as root)
    with pytest.raises(InputError, match="it is"):
        report_target(str(target), "junit")
    assert not stat.S_ISREG(os.lstat(target).st_mode)


def test_smoke_test_refuses_a_symlinked_junit_path_before_any_request(tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (tmp_path / "junit.xml").symlink_to(victim)
    code = main(["smoke-test", "--url", "http://127.0.0.1:9/health", "--timeout", "1s",
                 "--junit", str(tmp_path / "junit.xml"), "--report", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 2 and "input 'junit'" in err and "symbolic link" in err
    assert victim.read_text() == "keep me" and not (tmp_path / "r.json").exists()


def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_gitops_bump_refuses_a_record_path_inside_git(tmp_path, capsys):
    repo = tmp_path / "gitops"
    (repo / "apps").mkdir(parents=True)
    (repo / "apps" / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
        "        - name: app\n          image: ghcr.io/org/app:v1.0.0\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    hook = repo / ".git" / "hooks" / "post-commit"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    before = hook.read_bytes()
    code = main(["gitops-bump", "--path", str(repo / "apps"), "--image", "ghcr.io/org/app", "--tag", "v1.1.0",
                 "--verify-image", "false", "--mode", "commit", "--record", ".git/hooks/post-commit"])
    err = capsys.readouterr().err
    assert code == 2 and "input 'record'" in err and "Traceback" not in err
    assert hook.read_bytes() == before and os.access(hook, os.X_OK)
    assert "v1.0.0" in (repo / "apps" / "deploy.yaml").read_text()
    assert _git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize("command", [
    ["changelog-check", "--file", "{path}", "--version", "1.0.0"],
    ["smoke-test", "--spec", "{path}", "--timeout", "1s"],
    ["gitops-bump", "--path", ".", "--image", "ghcr.io/org/app", "--tag", "v1.0.1", "--rollback", "true",
     "--reason", "r", "--evidence", "{path}", "--verify-image", "false", "--mode", "none"],
])
@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_an_input_file_that_never_ends_is_refused_not_read(tmp_path, capsys, command, kind):
    if kind == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)  # nobody writes: open() would wait forever, read() too
    else:
        path = tmp_path / "zero"
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero's numbers (the tests run as root)
    code = main([part.replace("{path}", str(path)) for part in command])
    err = capsys.readouterr().err
    assert code == 2 and "not a regular file" in err and err.strip().count("\n") == 0


def test_an_input_file_larger_than_its_limit_is_refused(tmp_path):
    from deploy_actions.files import read_regular_file

    (tmp_path / "big").write_bytes(b"x" * 1001)
    assert read_regular_file(tmp_path / "big", 1001) == b"x" * 1001
    with pytest.raises(OSError, match="larger than 1,000 bytes"):
        read_regular_file(tmp_path / "big", 1000)
