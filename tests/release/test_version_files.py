"""Version files: the diff is the version text and nothing else, or an error naming the file."""

from __future__ import annotations

import itertools
import json
import os
import re
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from deploy_actions.errors import DeployActionsError, FileError, InputError
from deploy_actions.files import FileEdit, write_edits
from deploy_actions.release import pep440
from deploy_actions.release.version_files import (
    plan_version_files,
)


def write(root: Path, relpath: str, content: bytes) -> Path:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def bump(
    root: Path, relpath: str, content: bytes, current: str | None = "1.2.3", new: str = "1.3.0",
    entry: str | None = None,
) -> bytes:
    """The new content of one file after a planned bump."""
    write(root, relpath, content)
    edits = plan_version_files(root, [entry or relpath], current, new)
    assert len(edits) == 1
    assert edits[0].path == (root / relpath).resolve()
    assert edits[0].relpath == relpath
    assert edits[0].before == content
    return edits[0].after


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- pyproject.toml

PYPROJECT = b"""\
[build-system]
requires = ["setuptools>=68"]  # 1.2.3 in a comment stays

[project]
name = "app"
# the version below is bumped by the release job
version = "1.2.3"
dependencies = ["lib==1.2.3"]
"""


def test_pyproject_project_version_is_the_only_change(tmp_path: Path) -> None:
    after = bump(tmp_path, "pyproject.toml", PYPROJECT)
    assert after == PYPROJECT.replace(b'version = "1.2.3"', b'version = "1.3.0"')


def test_pyproject_with_poetry_and_project_rewrites_both(tmp_path: Path) -> None:
    before = b"""[project]
name = "app"
version = "1.2.3"

[tool.poetry]
name = "app"
version   =   "1.2.3"   # keep me

[tool.poetry.dependencies]
lib = "1.2.3"
"""
    after = bump(tmp_path, "pyproject.toml", before)
    assert after == before.replace(b'version = "1.2.3"', b'version = "1.3.0"').replace(
        b'version   =   "1.2.3"', b'version   =   "1.3.0"'
    )


def test_pyproject_literal_string_quotes_are_kept(tmp_path: Path) -> None:
    before = b"[project]\nname = 'app'\nversion = '1.2.3'\n"
    assert bump(tmp_path, "pyproject.toml", before) == b"[project]\nname = 'app'\nversion = '1.3.0'\n"


def test_pyproject_crlf_line_endings_survive(tmp_path: Path) -> None:
    before = b'[project]\r\nname = "app"\r\nversion = "1.2.3"\r\n\r\n# end\r\n'
    assert bump(tmp_path, "pyproject.toml", before) == before.replace(b"1.2.3", b"1.3.0")


def test_pyproject_without_final_newline_stays_so(tmp_path: Path) -> None:
    before = b'[project]\nname = "app"\nversion = "1.2.3"'
    assert bump(tmp_path, "pyproject.toml", before) == b'[project]\nname = "app"\nversion = "1.3.0"'


def test_pyproject_version_before_the_same_text_elsewhere(tmp_path: Path) -> None:
    # the first occurrence of the text is a different value: only the field changes
    before = b'[tool.x]\nversion = "1.2.3"\n\n[project]\nname = "app"\nversion = "1.2.3"\n'
    after = bump(tmp_path, "pyproject.toml", before)
    assert after == b'[tool.x]\nversion = "1.2.3"\n\n[project]\nname = "app"\nversion = "1.3.0"\n'


def test_pyproject_dotted_key_and_inline_table(tmp_path: Path) -> None:
    before = b'project = { name = "app", version = "1.2.3" }\n'
    assert bump(tmp_path, "pyproject.toml", before) == before.replace(b"1.2.3", b"1.3.0")


def test_pyproject_dynamic_version_says_where_to_look(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", b'[project]\nname = "app"\ndynamic = ["version"]\n')
    with pytest.raises(FileError, match=r"dynamic.*PATH:REGEX") as info:
        plan_version_files(tmp_path, ["pyproject.toml"], "1.2.3", "1.3.0")
    assert info.value.file == "pyproject.toml"


def test_pyproject_with_another_version_names_found_and_expected(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", b'[project]\nname = "app"\nversion = "1.2.2"\n')
    with pytest.raises(FileError) as info:
        plan_version_files(tmp_path, ["pyproject.toml"], "1.2.3", "1.3.0")
    assert info.value.file == "pyproject.toml"
    assert info.value.line == 3
    assert str(info.value).startswith(
        "pyproject.toml:3: [project].version is 1.2.2, expected 1.2.3 (the version of the newest "
        "release tag)"
    )


def test_already_bumped_file_is_nothing_to_do(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", b'[project]\nname = "app"\nversion = "1.3.0"\n')
    assert plan_version_files(tmp_path, ["pyproject.toml"], "1.2.3", "1.3.0") == []


def test_only_the_field_not_yet_bumped_changes(tmp_path: Path) -> None:
    before = b'[project]\nversion = "1.3.0"\n[tool.poetry]\nversion = "1.2.3"\n'
    assert bump(tmp_path, "pyproject.toml", before) == before.replace(b"1.2.3", b"1.3.0")


def test_no_previous_release_accepts_the_version_in_the_file(tmp_path: Path) -> None:
    before = b'[project]\nname = "app"\nversion = "0.0.0"\n'
    assert bump(tmp_path, "pyproject.toml", before, current=None, new="0.1.0") == before.replace(
        b"0.0.0", b"0.1.0"
    )


def test_invalid_toml_is_a_file_error_with_line(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", b'[project]\nversion = "1.2.3"\nname = \n')
    with pytest.raises(FileError, match="not valid TOML") as info:
        plan_version_files(tmp_path, ["pyproject.toml"], "1.2.3", "1.3.0")
    assert info.value.line == 3


def test_non_string_version_is_a_file_error(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", b"[project]\nversion = 1\n")
    with pytest.raises(FileError, match="not a version string"):
        plan_version_files(tmp_path, ["pyproject.toml"], "1.2.3", "1.3.0")


# --------------------------------------------------------------------------- package.json

PACKAGE_JSON = b"""{
  "name": "app",
  "dependencies": {
    "left-pad": "1.2.3",
    "lib": { "version": "1.2.3" }
  },
  "version": "1.2.3",
  "config": {"version": "1.2.3"}
}"""


def test_package_json_top_level_version_only(tmp_path: Path) -> None:
    after = bump(tmp_path, "package.json", PACKAGE_JSON)
    assert after == PACKAGE_JSON.replace(b'  "version": "1.2.3",', b'  "version": "1.3.0",')
    assert json.loads(after)["dependencies"]["lib"]["version"] == "1.2.3"


def test_package_json_with_bom_keeps_it(tmp_path: Path) -> None:
    before = b'\xef\xbb\xbf{"name": "app", "version": "1.2.3"}\n'
    assert bump(tmp_path, "package.json", before) == before.replace(b"1.2.3", b"1.3.0")


def test_package_json_duplicate_key_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "package.json", b'{"version": "1.2.3", "version": "1.2.3"}')
    with pytest.raises(FileError, match="appears twice"):
        plan_version_files(tmp_path, ["package.json"], "1.2.3", "1.3.0")


def test_package_json_without_version_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "package.json", b'{"name": "app"}')
    with pytest.raises(FileError, match='no version to rewrite; expected a top-level "version"'):
        plan_version_files(tmp_path, ["package.json"], "1.2.3", "1.3.0")


# --------------------------------------------------------------------------- Chart.yaml

CHART = b"""\
apiVersion: v2
name: app
# chart 1.2.3
version: 1.2.3
appVersion: "v1.2.3"
dependencies:
  - name: redis
    version: 1.2.3
    repository: https://charts.example.com
"""


def test_chart_version_and_app_version_keep_quotes_and_v(tmp_path: Path) -> None:
    after = bump(tmp_path, "charts/app/Chart.yaml", CHART)
    assert after == CHART.replace(b"version: 1.2.3\nappVersion", b"version: 1.3.0\nappVersion")\
        .replace(b'appVersion: "v1.2.3"', b'appVersion: "v1.3.0"')
    assert b"    version: 1.2.3\n" in after  # the dependency is untouched


def test_chart_single_quoted_app_version(tmp_path: Path) -> None:
    before = b"apiVersion: v2\nname: app\nversion: '1.2.3'\nappVersion: '1.2.3'\n"
    assert bump(tmp_path, "Chart.yaml", before) == before.replace(b"1.2.3", b"1.3.0")


def test_chart_value_shared_through_an_anchor_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "Chart.yaml", b"name: app\nversion: &v 1.2.3\nextra: *v\n")
    with pytest.raises(FileError, match="without changing anything else") as info:
        plan_version_files(tmp_path, ["Chart.yaml"], "1.2.3", "1.3.0")
    assert info.value.line == 2


def test_chart_app_version_behind_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "Chart.yaml", b"name: app\nversion: 1.2.3\nappVersion: 1.0.0\n")
    with pytest.raises(FileError, match=re.escape("appVersion is 1.0.0, expected 1.2.3")) as info:
        plan_version_files(tmp_path, ["Chart.yaml"], "1.2.3", "1.3.0")
    assert info.value.line == 3


# --------------------------------------------------------------------------- VERSION


@pytest.mark.parametrize(
    "before",
    [b"1.2.3\n", b"1.2.3", b"1.2.3\r\n", b"\xef\xbb\xbf1.2.3\n", b"v1.2.3\n"],
    ids=["newline", "no-newline", "crlf", "bom", "v-prefix"],
)
def test_version_file_whole_content(tmp_path: Path, before: bytes) -> None:
    assert bump(tmp_path, "VERSION", before) == before.replace(b"1.2.3", b"1.3.0")


def test_version_file_with_more_than_the_version_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "VERSION", b"1.2.3\nbuilt by ci\n")
    with pytest.raises(FileError, match="only the version"):
        plan_version_files(tmp_path, ["VERSION"], "1.2.3", "1.3.0")


def test_empty_version_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "VERSION", b"\n")
    with pytest.raises(FileError, match="no version to rewrite"):
        plan_version_files(tmp_path, ["VERSION"], "1.2.3", "1.3.0")


# --------------------------------------------------------------------------- Erlang *.app.src


def test_erlang_app_src_vsn(tmp_path: Path) -> None:
    before = b"""%% {vsn, "1.2.3"} in a comment stays
{application, app,
 [{description, "app 1.2.3"},
  {vsn, "1.2.3"},
  {registered, []}]}.
"""
    after = bump(tmp_path, "src/app.app.src", before)
    assert after == before.replace(b'  {vsn, "1.2.3"}', b'  {vsn, "1.3.0"}')


@pytest.mark.parametrize("vsn", [b"git", b'"%VSN%"', b'{cmd, "cat VERSION"}'])
def test_erlang_vsn_set_by_the_build_is_skipped(tmp_path: Path, vsn: bytes) -> None:
    write(tmp_path, "src/app.app.src", b"{application, app, [{vsn, " + vsn + b"}]}.\n")
    assert plan_version_files(tmp_path, ["src/app.app.src"], "1.2.3", "1.3.0") == []


def test_erlang_unterminated_vsn_string_is_an_error_not_skipped(tmp_path: Path) -> None:
    write(tmp_path, "src/app.app.src", b'{application, app, [{vsn, "1.2.3}]}.\n')
    with pytest.raises(FileError, match="no version to rewrite"):
        plan_version_files(tmp_path, ["src/app.app.src"], "1.2.3", "1.3.0")


# --------------------------------------------------------------------------- Elixir mix.exs


def test_mix_exs_version_keyword(tmp_path: Path) -> None:
    before = b"""defmodule App.MixProject do
  use Mix.Project
  # version: "1.2.3" in a comment stays

  def project do
    [app: :app, version: "1.2.3", elixir: "~> 1.2.3"]
  end
end
"""
    after = bump(tmp_path, "mix.exs", before)
    assert after == before.replace(b'app: :app, version: "1.2.3"', b'app: :app, version: "1.3.0"')


def test_mix_exs_version_attribute(tmp_path: Path) -> None:
    before = b"""defmodule App.MixProject do
  use Mix.Project

  @version "1.2.3"
  @source_url "https://example.com/app"

  def project do
    [app: :app, version: @version, docs: [source_ref: "v#{@version}"]]
  end
end
"""
    assert bump(tmp_path, "mix.exs", before) == before.replace(b'@version "1.2.3"', b'@version "1.3.0"')


def test_mix_exs_heredoc_example_is_not_a_field(tmp_path: Path) -> None:
    before = b"""defmodule App.MixProject do
  @moduledoc \"\"\"
  Use it as [version: "0.9.0"].
  \"\"\"
  def project, do: [app: :app, version: "1.2.3"]
end
"""
    assert bump(tmp_path, "mix.exs", before) == before.replace(b"1.2.3", b"1.3.0")


def test_mix_exs_version_read_from_elsewhere_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "mix.exs", b'@version File.read!("VERSION")\ndef project, do: [version: @version]\n')
    with pytest.raises(FileError, match="list that file instead"):
        plan_version_files(tmp_path, ["mix.exs"], "1.2.3", "1.3.0")


# --------------------------------------------------------------------------- Cargo.toml


def test_cargo_package_version_leaves_dependencies(tmp_path: Path) -> None:
    before = b"""[package]
name = "app"
version = "1.2.3"

[dependencies]
serde = { version = "1.2.3", features = ["derive"] }
lib = "1.2.3"
"""
    after = bump(tmp_path, "Cargo.toml", before)
    assert after == before.replace(b'version = "1.2.3"\n', b'version = "1.3.0"\n')


def test_cargo_workspace_root_version(tmp_path: Path) -> None:
    before = b'[workspace]\nmembers = ["a"]\n\n[workspace.package]\nversion = "1.2.3"\n'
    assert bump(tmp_path, "Cargo.toml", before) == before.replace(b"1.2.3", b"1.3.0")


def test_cargo_member_inheriting_the_workspace_version_points_to_the_root(tmp_path: Path) -> None:
    write(tmp_path, "crates/a/Cargo.toml", b'[package]\nname = "a"\nversion.workspace = true\n')
    with pytest.raises(FileError, match=re.escape("list the workspace root's Cargo.toml")) as info:
        plan_version_files(tmp_path, ["crates/a/Cargo.toml"], "1.2.3", "1.3.0")
    assert (info.value.file, info.value.line) == ("crates/a/Cargo.toml", 3)


# --------------------------------------------------------------------------- PATH:REGEX


def test_regex_entry_rewrites_the_capture_group(tmp_path: Path) -> None:
    before = b'"""App."""\n\n__version__ = "1.2.3"\nOTHER = "1.2.3"\n'
    after = bump(tmp_path, "src/app/__init__.py", before,
                 entry='src/app/__init__.py:__version__ = "(.+)"')
    assert after == b'"""App."""\n\n__version__ = "1.3.0"\nOTHER = "1.2.3"\n'


def test_regex_entry_with_named_group_and_crlf(tmp_path: Path) -> None:
    before = b"name: app\r\nrelease: (1.2.3)\r\nversion: 1.2.3\r\n"
    after = bump(tmp_path, "meta.txt", before, entry=r"meta.txt:^(v)?ersion: (?P<version>.+)$")
    assert after == b"name: app\r\nrelease: (1.2.3)\r\nversion: 1.3.0\r\n"


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("app.py:__version__ = (", "missing \\)"),
        ("app.py:__version__ = .+", "it has 0 groups"),
        ("app.py:(a)(b)", "it has 2 groups"),
        ("app.py:", "exactly one"),
    ],
)
def test_bad_regex_is_an_input_error(tmp_path: Path, entry: str, why: str) -> None:
    write(tmp_path, "app.py", b'__version__ = "1.2.3"\n')
    with pytest.raises(InputError, match=why) as info:
        plan_version_files(tmp_path, [entry], "1.2.3", "1.3.0")
    assert info.value.name == "version-files"
    assert info.value.value == entry


def test_regex_without_match_is_a_file_error(tmp_path: Path) -> None:
    write(tmp_path, "app.py", b"VERSION = '1.2.3'\n")
    with pytest.raises(FileError, match="no match") as info:
        plan_version_files(tmp_path, ['app.py:__version__ = "(.+)"'], "1.2.3", "1.3.0")
    assert info.value.file == "app.py"


# --------------------------------------------------------------------------- entries and paths


@pytest.mark.parametrize("entry", ["../pyproject.toml", "sub/../../pyproject.toml",
                                   "/etc/pyproject.toml", "../x.py:v = (.+)"])
def test_paths_outside_the_repository_are_refused(tmp_path: Path, entry: str) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    write(tmp_path, "pyproject.toml", b'[project]\nversion = "1.2.3"\n')
    with pytest.raises(InputError) as info:
        plan_version_files(repo, [entry], "1.2.3", "1.3.0")
    assert info.value.name == "version-files"


def test_symlink_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    outside = write(tmp_path, "secret/package.json", b'{"version": "1.2.3"}')
    repo.mkdir()
    (repo / "package.json").symlink_to(outside)
    (repo / "linked").symlink_to(outside.parent, target_is_directory=True)
    for entry in ["package.json", "linked/package.json"]:
        with pytest.raises(InputError, match="outside"):
            plan_version_files(repo, [entry], "1.2.3", "1.3.0")
    assert outside.read_bytes() == b'{"version": "1.2.3"}'


def test_symlink_inside_the_repository_edits_the_target(tmp_path: Path) -> None:
    target = write(tmp_path, "packages/app/package.json", b'{"version": "1.2.3"}')
    (tmp_path / "package.json").symlink_to(target)
    edits = plan_version_files(tmp_path, ["package.json"], "1.2.3", "1.3.0")
    assert [e.path for e in edits] == [target.resolve()]
    write_edits(edits)
    assert (tmp_path / "package.json").is_symlink()
    assert target.read_bytes() == b'{"version": "1.3.0"}'


def test_missing_file_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="not found") as info:
        plan_version_files(tmp_path, ["charts/app/Chart.yaml"], "1.2.3", "1.3.0")
    assert info.value.file == "charts/app/Chart.yaml"


def test_unknown_file_kind_is_an_input_error(tmp_path: Path) -> None:
    write(tmp_path, "setup.cfg", b"[metadata]\nversion = 1.2.3\n")
    with pytest.raises(InputError, match="PATH:REGEX"):
        plan_version_files(tmp_path, ["setup.cfg"], "1.2.3", "1.3.0")


def test_non_utf8_file_is_a_file_error(tmp_path: Path) -> None:
    write(tmp_path, "VERSION", b"1.2.3\xff\n")
    with pytest.raises(FileError, match="not UTF-8"):
        plan_version_files(tmp_path, ["VERSION"], "1.2.3", "1.3.0")


def test_blank_and_comment_lines_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "VERSION", b"1.2.3\n")
    edits = plan_version_files(tmp_path, ["", "  # the version file", "  VERSION  "], "1.2.3", "1.3.0")
    assert [e.after for e in edits] == [b"1.3.0\n"]


def test_same_file_listed_twice_is_one_edit(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", b'[project]\nversion = "1.2.3"\n')
    edits = plan_version_files(
        tmp_path, ["pyproject.toml", 'pyproject.toml:version = "(.+)"'], "1.2.3", "1.3.0"
    )
    assert [(e.relpath, e.after) for e in edits] == [
        ("pyproject.toml", b'[project]\nversion = "1.3.0"\n')
    ]


def test_bad_new_version_is_an_input_error(tmp_path: Path) -> None:
    write(tmp_path, "VERSION", b"1.2.3\n")
    with pytest.raises(InputError):
        plan_version_files(tmp_path, ["VERSION"], "1.2.3", "1.3.0\nmalicious")


# --------------------------------------------------------------------------- all or nothing


def test_failing_multi_file_plan_changes_nothing(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT)
    write(tmp_path, "package.json", PACKAGE_JSON)
    write(tmp_path, "charts/app/Chart.yaml", CHART.replace(b"version: 1.2.3\nappVersion",
                                                           b"version: 1.2.2\nappVersion"))
    before = files_of(tmp_path)
    with pytest.raises(FileError, match=re.escape("version is 1.2.2, expected 1.2.3")) as info:
        plan_version_files(tmp_path, ["pyproject.toml", "package.json", "charts/app/Chart.yaml"],
                           "1.2.3", "1.3.0")
    assert (info.value.file, info.value.line) == ("charts/app/Chart.yaml", 4)
    assert files_of(tmp_path) == before


def test_write_replaces_every_file_and_keeps_its_mode(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT)
    write(tmp_path, "VERSION", b"1.2.3\n").chmod(0o640)
    edits = plan_version_files(tmp_path, ["pyproject.toml", "VERSION"], "1.2.3", "1.3.0")
    write_edits(edits)
    assert (tmp_path / "VERSION").read_bytes() == b"1.3.0\n"
    assert stat.S_IMODE((tmp_path / "VERSION").stat().st_mode) == 0o640
    assert (tmp_path / "pyproject.toml").read_bytes() == edits[0].after
    assert sorted(p.name for p in tmp_path.iterdir()) == ["VERSION", "pyproject.toml"]
    # idempotent: a second run finds nothing to do
    assert plan_version_files(tmp_path, ["pyproject.toml", "VERSION"], "1.2.3", "1.3.0") == []


def test_a_failed_write_restores_the_files_already_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "VERSION", b"1.2.3\n")
    write(tmp_path, "package.json", b'{"version": "1.2.3"}')
    write(tmp_path, "Chart.yaml", b"version: 1.2.3\n")
    before = files_of(tmp_path)
    edits = plan_version_files(tmp_path, ["VERSION", "package.json", "Chart.yaml"], "1.2.3", "1.3.0")
    real_replace = os.replace
    replaced: list[str] = []

    def failing_replace(src: str, dst: str | Path) -> None:
        if Path(dst).name == "Chart.yaml" and Path(src).read_bytes() == b"version: 1.3.0\n":
            raise OSError(28, "No space left on device")
        replaced.append(Path(dst).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(FileError, match=r"\(No space left on device\); restored 2 file") as info:
        write_edits(edits)
    assert info.value.file == "Chart.yaml"
    assert replaced == ["VERSION", "package.json", "package.json", "VERSION"]
    assert files_of(tmp_path) == before  # no temporary files left either


def test_write_refuses_a_file_changed_since_planning(tmp_path: Path) -> None:
    write(tmp_path, "VERSION", b"1.2.3\n")
    write(tmp_path, "package.json", b'{"version": "1.2.3"}')
    edits = plan_version_files(tmp_path, ["VERSION", "package.json"], "1.2.3", "1.3.0")
    write(tmp_path, "package.json", b'{"version": "1.2.3", "private": true}')
    with pytest.raises(FileError, match="changed since it was read"):
        write_edits(edits)
    assert (tmp_path / "VERSION").read_bytes() == b"1.2.3\n"


def test_write_skips_edits_without_changes(tmp_path: Path) -> None:
    path = write(tmp_path, "VERSION", b"1.3.0\n")
    mtime = path.stat().st_mtime_ns
    write_edits([FileEdit(path, "VERSION", b"1.3.0\n", b"1.3.0\n")])
    assert path.stat().st_mtime_ns == mtime


# --------------------------------------------------------------------------- fuzzing

_ident = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8).filter(
    lambda s: not s.isdigit() or s == "0" or not s.startswith("0")
)
semver = st.builds(
    lambda ma, mi, pa, pre, build: f"{ma}.{mi}.{pa}"
    + (f"-{'.'.join(pre)}" if pre else "")
    + (f"+{'.'.join(build)}" if build else ""),
    st.integers(0, 999), st.integers(0, 999), st.integers(0, 999),
    st.lists(_ident, max_size=2), st.lists(_ident, max_size=2),
)
comment_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029"),
    max_size=20,
)
blank = st.sampled_from(["", " ", "  ", "\t"])
newline = st.sampled_from(["\n", "\r\n"])
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(old=semver, new=semver, data=st.data())
def test_fuzz_toml_diff_is_exactly_the_version(tmp_path: Path, old: str, new: str,
                                               data: st.DataObject) -> None:
    from semver import Version

    from deploy_actions.release.pep440 import same_version, to_pep440

    assume(not same_version(old, new))
    written = to_pep440(Version.parse(new))  # pyproject.toml is a Python file: PEP 440 spelling
    assume(written is not None)
    nl = data.draw(newline)
    quote = data.draw(st.sampled_from(['"', "'"]))
    note = data.draw(comment_text)
    pad = data.draw(blank)
    head = f"# {note} {old}{nl}[tool.other]{nl}version = \"{old}\"{nl}deps = [\"x=={old}\"]{nl}{nl}"
    field = f"version{pad}={pad}{quote}"
    tail = f"{quote}{pad}# {old}{note}{nl}name = 'app'"
    text = head + f"[project]{nl}{field}" + old + tail + data.draw(st.sampled_from(["", nl]))
    before = text.encode()
    path = write(tmp_path, "pyproject.toml", before)
    edits = plan_version_files(tmp_path, ["pyproject.toml"], old, new)
    at = len((head + f"[project]{nl}{field}").encode())
    assert edits[0].after == before[:at] + written.encode() + before[at + len(old.encode()):]
    path.unlink()


@FUZZ
@given(old=semver, new=semver, data=st.data())
def test_fuzz_json_diff_is_exactly_the_version(tmp_path: Path, old: str, new: str,
                                               data: st.DataObject) -> None:
    assume(old != new)
    nl = data.draw(newline)
    pad = data.draw(blank)
    extra = data.draw(st.dictionaries(st.text(max_size=5), st.one_of(
        st.just(old), st.text(max_size=10), st.integers(), st.dictionaries(
            st.sampled_from(["version", "v"]), st.just(old), max_size=2)), max_size=3))
    extra.pop("version", None)
    items = [json.dumps(k) + ":" + pad + json.dumps(v) for k, v in extra.items()]
    position = data.draw(st.integers(0, len(items)))
    field = f'"version"{pad}:{pad}"'
    items.insert(position, field + old + '"')
    bom = data.draw(st.sampled_from(["", "\ufeff"]))
    text = bom + "{" + nl + ("," + nl).join(pad + i for i in items) + nl + "}"
    before = text.encode()
    path = write(tmp_path, "package.json", before)
    edits = plan_version_files(tmp_path, ["package.json"], old, new)
    expected = before.replace(field.encode() + old.encode() + b'"', field.encode() + new.encode() + b'"')
    assert edits[0].after == expected
    assert json.loads(edits[0].after.decode("utf-8-sig")) == {**json.loads(text[len(bom):]),
                                                              "version": new}
    path.unlink()


@FUZZ
@given(old=semver, new=semver, data=st.data())
def test_fuzz_chart_diff_is_exactly_the_versions(tmp_path: Path, old: str, new: str,
                                                 data: st.DataObject) -> None:
    assume(old != new)
    nl = data.draw(newline)
    q = data.draw(st.sampled_from(["", '"', "'"]))
    note = data.draw(comment_text)
    v = data.draw(st.sampled_from(["", "v"]))
    gap = data.draw(st.sampled_from([" ", "   "]))
    lines = [
        f"# {note} {old}", "apiVersion: v2", "name: app", f"version:{gap}{q}{old}{q}  # {note}",
        f"appVersion: {q}{v}{old}{q}", "dependencies:", "  - name: db", f"    version: {q}{old}{q}",
    ]
    before = nl.join(lines).encode()
    path = write(tmp_path, "Chart.yaml", before)
    edits = plan_version_files(tmp_path, ["Chart.yaml"], old, new)
    lines[3] = lines[3].replace(f"{q}{old}{q}", f"{q}{new}{q}", 1)
    lines[4] = f"appVersion: {q}{v}{new}{q}"
    assert edits[0].after == nl.join(lines).encode()
    path.unlink()


_junk = st.lists(
    st.sampled_from(
        [*"\"'#{}[]=:,.-\\ \t\n\r$%@?&*|>vaxb01", "version", "1.2.3", "\ufeff", '"""']
    ),
    max_size=8,
).map("".join)


@FUZZ
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("pyproject.toml", '[project]\nname = "a"\nversion = "1.2.3"\n[tool.poetry]\nversion = \'1.2.3\'\n'),
        ("Cargo.toml", '[package]\nversion = "1.2.3"\n[dependencies]\nx = { version = "1.2.3" }\n'),
        ("package.json", '{\n  "version": "1.2.3",\n  "deps": {"x": "1.2.3"}\n}\n'),
        ("Chart.yaml", "version: 1.2.3\nappVersion: \"1.2.3\"\ndependencies:\n- version: 1.2.3\n"),
        ("VERSION", "1.2.3\n"),
        ("app.app.src", '{application, app, [{vsn, "1.2.3"}, {env, []}]}.\n'),
        ("mix.exs", 'defmodule A do\n  @version "1.2.3"\n  def project, do: [version: @version]\nend\n'),
    ],
)
@given(cut=st.integers(0, 200), drop=st.integers(0, 4), junk=_junk, new=semver)
@example(cut=0, drop=0, junk="", new="0.0.0-a")  # found by CI: pyproject.toml gets 0.0.0a0
def test_fuzz_mangled_files_give_one_value_diffs_or_our_errors(
    tmp_path: Path, name: str, content: str, cut: int, drop: int, junk: str, new: str
) -> None:
    assume(new != "1.2.3")
    at = cut % (len(content) + 1)
    before = (content[:at] + junk + content[at + drop:]).encode()
    path = write(tmp_path, name, before)
    try:
        edits = plan_version_files(tmp_path, [name], "1.2.3", new)
    except DeployActionsError:
        return
    finally:
        path.unlink()
    assert len(edits) <= 1
    # A Python file gets the PEP 440 spelling (0.0.0-a is written 0.0.0a0); a version without one is refused.
    parsed = pep440.parse_any(new)
    assert parsed is not None
    spelled = pep440.to_pep440(parsed) if name == "pyproject.toml" else new
    for edit in edits:
        assert spelled is not None
        assert edit.after in _splices(before, b"1.2.3", spelled.encode(), most=2)


def _splices(before: bytes, old: bytes, new: bytes, most: int) -> set[bytes]:
    """`before` with one to `most` of its occurrences of `old` replaced by `new`."""
    starts = [i for i in range(len(before)) if before.startswith(old, i)]
    results = set()
    for count in range(1, most + 1):
        for chosen in itertools.combinations(starts, count):
            text = before
            for at in reversed(chosen):
                text = text[:at] + new + text[at + len(old):]
            results.add(text)
    return results


# --------------------------------------------------------------------------- PEP 440 in Python files


@pytest.mark.parametrize(("current", "new", "written"), [
    ("1.2.0", "1.3.0-rc.1", "1.3.0rc1"),
    ("1.3.0-rc.1", "1.3.0-rc.2", "1.3.0rc2"),
    ("1.3.0-rc.2", "1.3.0", "1.3.0"),
    ("1.2.0", "1.2.1-beta.3", "1.2.1b3"),
    ("0.12.0", "0.13.0-dev.1", "0.13.0.dev1"),
])
def test_python_files_get_the_pep440_spelling(tmp_path, current, new, written):
    held = {"1.3.0-rc.1": "1.3.0rc1", "1.3.0-rc.2": "1.3.0rc2"}.get(current, current)
    pyproject = f'[project]\nname = "app"\nversion = "{held}"  # keep me\n'.encode()
    assert bump(tmp_path, "pyproject.toml", pyproject, current, new) == pyproject.replace(
        held.encode(), written.encode())
    init = f'__version__ = "{held}"\n'.encode()
    entry = 'src/app/__init__.py:__version__ = "(.+)"'
    assert bump(tmp_path, "src/app/__init__.py", init, current, new, entry=entry) == \
        f'__version__ = "{written}"\n'.encode()


def test_other_files_keep_the_semver_spelling(tmp_path):
    assert bump(tmp_path, "package.json", b'{"version": "1.2.0"}\n', "1.2.0", "1.3.0-rc.1") == \
        b'{"version": "1.3.0-rc.1"}\n'


def test_a_python_file_already_holding_the_new_version_in_either_spelling_is_left_alone(tmp_path):
    write(tmp_path, "pyproject.toml", b'[project]\nversion = "1.3.0rc1"\n')
    assert plan_version_files(tmp_path, ["pyproject.toml"], "1.2.0", "1.3.0-rc.1") == []


def test_a_prerelease_without_a_pep440_spelling_is_refused_for_python_files(tmp_path):
    write(tmp_path, "pyproject.toml", b'[project]\nversion = "1.2.0"\n')
    with pytest.raises(FileError, match="no PEP 440 spelling"):
        plan_version_files(tmp_path, ["pyproject.toml"], "1.2.0", "1.3.0-next.1")


@given(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30),
       st.sampled_from([None, "alpha", "beta", "rc", "dev"]), st.integers(0, 20))
def test_pep440_and_semver_spellings_round_trip_and_keep_their_order(major, minor, patch, kind, number):
    from semver import Version

    from deploy_actions.release.pep440 import from_pep440, to_pep440

    version = Version(major, minor, patch, f"{kind}.{number}" if kind else None)
    spelled = to_pep440(version)
    assert spelled is not None and from_pep440(spelled) == version
    from packaging.version import Version as Pep440

    release = Version(major, minor, patch)
    assert (Pep440(spelled) < Pep440(str(release))) == (version < release)
