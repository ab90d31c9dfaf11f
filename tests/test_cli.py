"""The command-line contract shared by every command."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy_actions.cli import main
from deploy_actions.commands import COMMANDS
from deploy_actions.commands.spec import Option
from deploy_actions.errors import InputError
from deploy_actions.untrusted import duration as parse_duration


def test_console_script_and_module_are_the_same_command():
    a = subprocess.run([sys.executable, "-m", "deploy_actions", "--help"], capture_output=True, text=True, check=True)
    exe = os.path.join(os.path.dirname(sys.executable), "deploy-actions")
    b = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True)
    assert a.stdout == b.stdout and "version-bump" in a.stdout and "changelog-check" in a.stdout


def test_help_does_not_import_heavy_libraries():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "deploy_actions", "--help"],
                          capture_output=True, text=True, check=True)
    modules = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    for heavy in ("github", "ruamel.yaml", "requests", "tomlkit", "semver"):
        assert heavy not in modules, f"{heavy} is imported by --help"


def test_unknown_flag_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["version-bump", "--no-such-flag"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "unrecognized arguments" in err


def test_every_spec_input_is_a_hyphenated_flag_and_outputs_are_unique():
    for spec in COMMANDS.values():
        names = [o.name for o in spec.all_options()]
        assert len(names) == len(set(names))
        assert all(re.fullmatch(r"[a-z][a-z0-9-]*", n) for n in names)
        outs = [o.name for o in spec.outputs]
        assert len(outs) == len(set(outs))


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("10m", 600), ("1h30m", 5400), ("250ms", 0.25), ("7", 7)])
def test_durations(text, seconds):
    assert parse_duration("timeout", text) == seconds


@given(st.text(max_size=20))
def test_bad_durations_are_input_errors(text):
    try:
        assert parse_duration("timeout", text) >= 0
    except InputError as err:
        assert "input 'timeout'" in str(err)


@given(st.sampled_from(["bool", "int", "float", "choice", "lines", "duration", "str"]), st.text(max_size=30))
def test_any_input_text_converts_or_is_an_input_error(kind, text):
    from deploy_actions.commands.spec import convert

    option = Option("x", "x", kind=kind, choices=("a", "b"))  # type: ignore[arg-type]
    try:
        convert(option, text)
    except InputError as err:
        assert str(err).startswith("input 'x': got ")


def test_secret_values_are_never_echoed_in_errors():
    option = Option("token", "t", kind="bool", secret=True)
    from deploy_actions.commands.spec import convert

    with pytest.raises(InputError) as err:
        convert(option, "ghp_supersecret")
    assert "ghp_supersecret" not in str(err.value)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
                max_size=4))
def test_fuzzed_version_bump_arguments_never_trace_back(tmp_path_factory, args):
    repo = tmp_path_factory.mktemp("fuzz")
    proc = subprocess.run([sys.executable, "-m", "deploy_actions", "version-bump", "--repo", str(repo),
                           "--dry-run", "--bump", *args[:1], "--tag-prefix", *args[1:2]],
                          capture_output=True, text=True, check=False)
    assert proc.returncode in (0, 1, 2)
    assert "Traceback" not in proc.stderr
