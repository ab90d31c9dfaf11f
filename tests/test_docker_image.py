"""The Docker action's image, built from the Dockerfile and run the way the runner runs it.

Debian's buildah builds it (as root: vfs storage, chroot isolation, no daemon) in a private
storage that is removed afterwards. The public base image cannot be pulled on the machines
these tests run on, so the build passes BASE_IMAGE: a Debian bookworm rootfs with Python 3.11
made by debootstrap (cached under .work/, made once per machine) and committed as a local
image. The entrypoint then runs with `buildah run` in exactly the runner's environment for a
Docker action (test_docker_action.runner_env) and its /github/* mounts, owned by uid 1001 as
on GitHub-hosted runners. buildah and debootstrap come from scripts/setup-system.sh: missing,
the tests fail, they do not skip.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging import markers
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.plugins.act import parse_github_output
from tests.test_docker_action import CHANGELOG, MOUNTS, ROOT, Container, Run, git, runner_env

# One build, on one xdist worker (make test runs pytest with --dist loadgroup).
pytestmark = pytest.mark.xdist_group("docker-image")

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# What the official python:3.11-slim-bookworm base gives the Dockerfile: `python` and `pip`
# (python-is-python3, python3-pip), venv, CA certificates, apt for the git install.
BASE_PACKAGES = ("python3", "python3-venv", "python3-pip", "python-is-python3", "ca-certificates")
BASE_CACHE = ROOT / ".work" / "image-base"
RUNNER_UID = 1001  # the runner user of GitHub-hosted runners owns the mounted folders
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Proxy settings are predefined build arguments: RUN steps see them, the image does not keep them.
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


def system_tool(name: str) -> str:
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin")
    if found is None:
        pytest.fail(f"{name} is not installed; `make system` (scripts/setup-system.sh) installs it", pytrace=False)
    return found


def as_root() -> list[str]:
    """buildah (vfs, chroot isolation) and debootstrap need root: sudo -n when we are not."""
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo")
    if sudo and subprocess.run([sudo, "-n", "true"], capture_output=True, check=False).returncode == 0:
        return [sudo, "-n"]
    pytest.fail("building the image needs root (buildah, debootstrap): run as root or with passwordless sudo",
                pytrace=False)


def checked(argv: list[str], what: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run argv to success, or fail the test with its last lines. On timeout its whole process
    group goes (debootstrap's dpkg children would otherwise go on writing the rootfs)."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          text=True, start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"{what} took more than {timeout:.0f} s", pytrace=False)
    if proc.returncode != 0:
        tail = "\n".join((stdout + stderr).splitlines()[-40:])
        pytest.fail(f"{what} failed (exit {proc.returncode}):\n{tail}", pytrace=False)
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def base_rootfs(root: list[str]) -> Path:
    """The debootstrapped rootfs, made once per machine: keyed by what it is made of, made by
    one process at a time (a lock file) in a temporary folder renamed into place, so an
    interrupted run leaves no half rootfs that counts as made."""
    key = hashlib.sha256(" ".join([SUITE, MIRROR, *BASE_PACKAGES]).encode()).hexdigest()[:12]
    rootfs = BASE_CACHE / f"{SUITE}-{key}"
    BASE_CACHE.mkdir(parents=True, exist_ok=True)
    with open(BASE_CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if rootfs.is_dir():
            return rootfs
        for stale in BASE_CACHE.glob(f".{rootfs.name}.partial-*"):  # left by a killed run
            checked([*root, "rm", "-rf", str(stale)], "removing a partial rootfs", timeout=600)
        partial = Path(tempfile.mkdtemp(dir=BASE_CACHE, prefix=f".{rootfs.name}.partial-"))
        partial.chmod(0o755)  # it becomes the image's /
        started = time.monotonic()
        checked([*root, system_tool("debootstrap"), "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES),
                 SUITE, str(partial), MIRROR], "debootstrap", timeout=1800)
        # as Debian's own images: no downloaded packages, no package lists (the Dockerfile updates them)
        checked([*root, "find", str(partial / "var/cache/apt/archives"), str(partial / "var/lib/apt/lists"),
                 "-type", "f", "-delete"], "cleaning the rootfs", timeout=600)
        checked([*root, "mv", "-T", str(partial), str(rootfs)], "moving the rootfs into place", timeout=60)
        print(f"debootstrap {SUITE}: {time.monotonic() - started:.0f} s")  # shown with -s; CI has 90 min
    return rootfs


# What `buildah run` itself adds to stderr when the process exits non-zero.
BUILDAH_EXIT_NOISE = re.compile(r"(subprocess exited with status \d+|Error: exit status \d+)")


@dataclass(frozen=True)
class Image:
    buildah: list[str]  # the buildah command line with its storage options
    config: dict[str, object]  # the OCI image config the build wrote (Entrypoint, User, Env, ...)
    container: str  # one working container of the image for every run: `buildah from` copies
    # the whole image with vfs (20 s on a busy machine); the runs write only to their mounts

    def run(self, *argv: str, options: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*self.buildah, "run", "--isolation", "chroot", *options, self.container, "--", *argv],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=180, check=False)
        lines = proc.stderr.splitlines(keepends=True)
        while proc.returncode and lines and BUILDAH_EXIT_NOISE.fullmatch(lines[-1].strip()):
            lines.pop()
        return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout, "".join(lines))


@pytest.fixture(scope="session")  # once: with xdist the module's tests are not always contiguous
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Image]:
    root = as_root()
    storage = tmp_path_factory.mktemp("buildah")
    buildah = [*root, system_tool("buildah"), "--storage-driver", "vfs", "--root", str(storage / "root"),
               "--runroot", str(storage / "run")]
    try:
        rootfs = base_rootfs(root)
        base = "localhost/deploy-actions-test-base:" + rootfs.name
        container = checked([*buildah, "from", "--quiet", "scratch"], "buildah from scratch", 120).stdout.strip()
        mount = checked([*buildah, "mount", container], "buildah mount", 120).stdout.strip()
        checked([*root, "cp", "-a", f"{rootfs}/.", mount], "copying the rootfs", 600)
        checked([*buildah, "commit", "--quiet", "--rm", container, base], "buildah commit", 600)

        started = time.monotonic()
        build = [*buildah, "bud", "--isolation", "chroot", "--build-arg", f"BASE_IMAGE={base}",
                 "-t", "localhost/deploy-actions:test", "-f", str(ROOT / "Dockerfile")]
        build += [arg for name in PROXY_VARIABLES if name in os.environ
                  for arg in ("--build-arg", f"{name}={os.environ[name]}")]
        if HOST_CA_BUNDLE.is_file():
            # This machine's trust (a TLS-inspecting proxy's CA, say) for pip's PyPI downloads,
            # bind-mounted into the RUN steps only: no layer keeps it. Debian's pip reads it.
            build += ["--volume", f"{HOST_CA_BUNDLE}:/etc/ssl/certs/ca-certificates.crt:ro"]
        checked([*build, str(ROOT)], "buildah bud", timeout=1800)
        print(f"image build: {time.monotonic() - started:.0f} s")
        inspected = json.loads(checked([*buildah, "inspect", "--type", "image", "localhost/deploy-actions:test"],
                                       "buildah inspect", 120).stdout)
        container = checked([*buildah, "from", "--quiet", "localhost/deploy-actions:test"], "buildah from",
                            600).stdout.strip()
        yield Image(buildah, inspected["OCIv1"]["config"], container)
    finally:
        subprocess.run([*buildah, "rm", "--all"], capture_output=True, check=False, timeout=300)
        subprocess.run([*buildah, "rmi", "--all", "--force"], capture_output=True, check=False, timeout=300)
        subprocess.run([*root, "rm", "-rf", str(storage)], capture_output=True, check=False, timeout=300)


def run_in_image(image: Image, box: Container, with_: dict[str, str], *args: str,
                 workspace_owner: int = RUNNER_UID) -> Run:
    """`docker run --workdir /github/workspace -e ... -v <host>:/github/... IMAGE args`: the
    image's ENTRYPOINT (as the build recorded it) with the runner's environment and mounts."""
    env = runner_env(box, with_, in_image=True)
    root = as_root()
    subprocess.run([*root, "chown", "-R", f"{RUNNER_UID}:{RUNNER_UID}", str(box.root)], check=True, timeout=60)
    if workspace_owner != RUNNER_UID:
        subprocess.run([*root, "chown", "-R", f"{workspace_owner}:{workspace_owner}", str(box.workspace)],
                       check=True, timeout=60)
    options = ["--workingdir", "/github/workspace"]
    options += [arg for mount in MOUNTS for arg in ("--volume", f"{box.path(mount)}:{mount}")]
    options += [arg for name, value in env.items() for arg in ("--env", f"{name}={value}")]
    entrypoint = image.config["Entrypoint"]
    assert isinstance(entrypoint, list)
    proc = image.run(*entrypoint, *args, options=tuple(options))
    output = box.path(env["GITHUB_OUTPUT"])
    summary = box.path(env["GITHUB_STEP_SUMMARY"])
    return Run(proc.returncode, (proc.stdout + proc.stderr).strip().splitlines(), proc.stdout,
               parse_github_output(output.read_text()), summary.read_text())


@pytest.fixture
def box(tmp_path: Path) -> Container:
    return Container(tmp_path / "container")


# -- the image, as the runner starts it ---------------------------------------------------------

def test_changelog_check_in_the_image_writes_its_outputs_and_summary(image: Image, box: Container) -> None:
    box.workspace.mkdir(parents=True)
    (box.workspace / "CHANGELOG.md").write_text(CHANGELOG)

    run = run_in_image(image, box, {"command": "changelog-check", "version": "1.2.0"})

    assert run.code == 0, run.lines
    assert run.outputs["version"] == "1.2.0"
    assert run.outputs["notes"] == "### Changed\n- Faster startup"
    assert "1.2.0" in run.summary


def test_git_in_the_image_reads_a_workspace_another_user_owns(image: Image, box: Container) -> None:
    """A workspace left by a root container step: git would call it dubious without the image's
    system-wide safe.directory."""
    box.workspace.mkdir(parents=True)
    git(box.workspace, "init", "-q")
    git(box.workspace, "commit", "-q", "--allow-empty", "-m", "feat: first")
    git(box.workspace, "tag", "-a", "v1.0.0", "-m", "v1.0.0")
    git(box.workspace, "commit", "-q", "--allow-empty", "-m", "fix: in a container")

    run = run_in_image(image, box, {"command": "version-bump", "dry-run": "true"}, workspace_owner=0)

    assert run.code == 0, run.lines
    assert (run.outputs["version"], run.outputs["tag"], run.outputs["released"]) == ("1.0.1", "v1.0.1", "true")
    assert git(box.workspace, "tag", "--list") == "v1.0.0"


def test_args_without_a_command_input_are_the_command_line(image: Image, box: Container) -> None:
    box.workspace.mkdir(parents=True)
    (box.workspace / "CHANGELOG.md").write_text(CHANGELOG)

    run = run_in_image(image, box, {}, "changelog-check", "--version", "1.2.0", "--json")

    assert run.code == 0, run.lines
    assert json.loads(run.stdout)["version"] == "1.2.0"
    assert run.outputs["found"] == "true"


def test_a_command_that_is_not_one_of_ours_exits_2_in_one_line(image: Image, box: Container) -> None:
    run = run_in_image(image, box, {"command": "version-bump; touch pwned"})

    assert run.code == 2
    (line,) = run.lines
    assert line.startswith("::error::input 'command': got ")
    assert not (box.workspace / "pwned").exists()


# -- what the build produced --------------------------------------------------------------------

def test_the_image_runs_as_the_runners_uid_with_the_entrypoint_the_dockerfile_names(image: Image) -> None:
    assert image.config["User"] == f"{RUNNER_UID}:{RUNNER_UID}"
    assert image.config["Entrypoint"] == ["/opt/deploy-actions/bin/python", "-m", "deploy_actions.docker_action"]
    assert not image.config.get("WorkingDir")  # the runner sets /github/workspace
    proc = image.run("id", "-u")
    assert proc.stdout.strip() == str(RUNNER_UID), proc.stderr


def locked_distributions(python_version: str) -> set[tuple[str, str]]:
    """requirements.lock's name==version pins whose markers hold for that Python on Linux."""
    environment = markers.default_environment() | {
        "python_full_version": python_version, "python_version": ".".join(python_version.split(".")[:2])}
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8").replace("\\\n", " ")
    pins = set()
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement = Requirement(line.split(" --hash")[0].strip())
            if requirement.marker is None or requirement.marker.evaluate(environment):
                (spec,) = requirement.specifier
                pins.add((canonicalize_name(requirement.name), spec.version))
    return pins


def test_the_image_holds_exactly_the_locked_distributions(image: Image) -> None:
    python = "/opt/deploy-actions/bin/python"
    version = image.run(python, "-c", "import platform; print(platform.python_version())").stdout.strip()
    listing = ("import importlib.metadata as m; print('\\n'.join(sorted("
               "d.metadata['Name'].lower().replace('_', '-') + '==' + d.version for d in m.distributions())))")

    proc = image.run(python, "-c", listing)

    assert proc.returncode == 0, proc.stderr
    installed = {(canonicalize_name(name), pinned) for name, _, pinned in
                 (line.partition("==") for line in proc.stdout.split())}
    assert installed == locked_distributions(version) | {("deploy-actions", version_of_this_checkout())}


def version_of_this_checkout() -> str:
    match = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), flags=re.MULTILINE)
    assert match
    return match.group(1)
