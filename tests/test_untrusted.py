"""Values from outside, checked where they enter: the checks agree with git, and refuse what forges."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy_actions import untrusted
from deploy_actions.errors import InputError


def git_accepts_branch(name: str) -> bool:
    proc = subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True, check=False)
    return proc.returncode == 0


REF_ALPHABET = st.sampled_from([*"abAZ09-_./@{}~^:?*[\\ \t\n\x7f", "..", ".lock", "é"])


@settings(max_examples=300, deadline=None)
@given(st.lists(REF_ALPHABET, min_size=1, max_size=12).map("".join))
def test_every_ref_we_accept_git_accepts_too_and_none_looks_like_an_option(name):
    if untrusted.ref_problem(name) is None:
        assert git_accepts_branch(name), name
        assert not name.startswith("-")


@pytest.mark.parametrize("name", ["main", "deploy/app-staging", "release/1.x", "hotfix/v1.2.4", "feature_x",
                                  "v1.2.3", "a/b/c", "renovate/ghcr.io-org-app-1.x"])
def test_ordinary_branch_names_are_accepted(name):
    assert untrusted.ref_name("ref", name) == name and git_accepts_branch(name)


@pytest.mark.parametrize("name", ["--upload-pack=touch x", "-b", "main..dev", "a b", "x.lock", ".hidden", "a//b",
                                  "trailing/", "trailing.", "@", "x@{1}", "tab\there", "new\nline", "a:b", "*"])
def test_names_git_or_an_attacker_would_misread_are_refused(name):
    with pytest.raises(InputError, match="input 'ref'"):
        untrusted.ref_name("ref", name)


@pytest.mark.parametrize(("value", "ok"), [
    ("a" * 7, True), ("0123456789abcdef0123456789abcdef01234567", True), ("f" * 64, True),
    ("ABCDEF1", True), ("abc123", False), ("g" * 7, False), ("a" * 41, False), ("abc1234\nSigned-off-by: x", False),
    ("abc1234 ", True), ("", False),
])
def test_commit_ids_are_hex_of_a_git_length(value, ok):
    if ok:
        assert untrusted.commit_sha("source-commit", value) == value.strip().lower()
    else:
        with pytest.raises(InputError, match="hex"):
            untrusted.commit_sha("source-commit", value)


@pytest.mark.parametrize(("value", "ok"), [
    ("org/app", True), ("octo-org/app.js", True), ("a/b", True), ("org/app\nX: y", False), ("org", False),
    ("-org/app", False), ("org/app/extra", False), ("org/.git", False), ("org/app.git", False), ("o" * 40 + "/a", False),
])
def test_repositories_are_owner_slash_name(value, ok):
    if ok:
        assert untrusted.repository("source-repository", value) == value
    else:
        with pytest.raises(InputError):
            untrusted.repository("source-repository", value)


@pytest.mark.parametrize(("value", "https_only", "ok"), [
    ("https://github.com/org/app/actions/runs/1", True, True), ("http://127.0.0.1:8080/run", True, True),
    ("http://[::1]:80/x", True, True), ("http://localhost/x", True, True), ("http://evil.example/run", True, False),
    ("http://prometheus:9090", False, True), ("http://[::1", False, False), ("https://u:p@host/", False, False),
    ("ftp://host/x", False, False), ("javascript:alert(1)", False, False), ("https://host:99999/", False, False),
    ("https://host/x\nApproved-by: y", True, False), ("//host/path", False, False),
])
def test_urls_are_absolute_http_and_https_off_loopback_when_asked(value, https_only, ok):
    if ok:
        assert untrusted.url("run-url", value, https_only=https_only) == value
    else:
        with pytest.raises(InputError):
            untrusted.url("run-url", value, https_only=https_only)


@given(st.text(max_size=200))
def test_url_checks_never_crash(value):
    try:
        untrusted.url("url", value)
    except InputError:
        pass


def test_one_line_text_refuses_line_breaks_and_control_characters():
    assert untrusted.one_line("actor", "octocat") == "octocat"
    for bad in ("a\nb", "a\rb", "a\x1b[31m", "a\u2028b"):
        with pytest.raises(InputError, match="one line"):
            untrusted.one_line("actor", bad)


def test_paths_within_the_file_system_s_limits():
    assert untrusted.path_text("record", " deployments/x.jsonl ") == "deployments/x.jsonl"
    for bad in ("x" * 256, "a/" * 2100, "a\x00b", "a\nb"):
        with pytest.raises(InputError, match="input 'record'"):
            untrusted.path_text("record", bad)
