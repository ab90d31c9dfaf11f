"""scripts/setup-system.sh, the first prerequisite of `make test` and `make demo`, on a machine
"without the packages": PATH holds only stand-ins, so the real tools are not found, and apt-get
and sudo are fakes that record their argv. The non-root cases drop to `nobody` when the tests
run as root."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "setup-system.sh"
COMMANDS = ["git", "docker-registry", "skopeo", "prometheus", "npm", "shellcheck", "buildah", "debootstrap",
            "nginx", "haproxy"]
HIDDEN = {"docker-registry": "docker-registry", "prometheus": "prometheus", "shellcheck": "shellcheck",
          "buildah": "buildah"}  # command -> package; all live in /usr/bin on Debian, never in an sbin folder
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


@dataclass(frozen=True)
class Result:
    code: int
    stderr: str
    stdout: str
    calls: list[str]


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def machine() -> Iterator[Path]:
    """A PATH folder with every command except HIDDEN, an apt-get that records, python3 and env.
    Under /tmp, not pytest's private tmp_path, so that nobody can run and write it too."""
    folder = Path(tempfile.mkdtemp(prefix="setup-system-"))
    try:
        folder.chmod(0o777)
        bin_dir = folder / "bin"
        bin_dir.mkdir()
        for name in ("apt-get", *[c for c in COMMANDS if c not in HIDDEN]):
            executable(bin_dir / name, f'#!/bin/bash\necho "{name} $*" >> {folder / "calls"}\n')
        executable(bin_dir / "python3", "#!/bin/bash\n")  # `python3 -c 'import ensurepip'` succeeds
        env = shutil.which("env")
        assert env
        (bin_dir / "env").symlink_to(env)
        yield folder
    finally:
        shutil.rmtree(folder)


def add_sudo(machine: Path, works: bool) -> None:
    executable(machine / "bin" / "sudo", f'#!/bin/bash\necho "sudo $*" >> {machine / "calls"}\n'
               f'[ "$1" = -n ] && shift\n{"" if works else "exit 1"}\n[ "$1" = true ] && exit 0\nexec "$@"\n')


def run(machine: Path, *args: str, as_nobody: bool = False) -> Result:
    argv = ["/bin/bash", str(SCRIPT), *args]
    if as_nobody and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) drops the root the tests run as"
        argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    proc = subprocess.run(argv, env={"PATH": str(machine / "bin")}, capture_output=True, text=True,
                          timeout=60, check=False)
    log = machine / "calls"
    return Result(proc.returncode, proc.stderr, proc.stdout, log.read_text().splitlines() if log.exists() else [])


def expected_missing() -> list[str]:
    return list(HIDDEN.values()) + ([] if KEYRING.exists() else ["debian-archive-keyring"])


def test_nothing_is_installed_or_printed_when_every_command_is_there(machine: Path) -> None:
    for name in HIDDEN:
        executable(machine / "bin" / name, "#!/bin/bash\n")

    result = run(machine)

    assert result.code == 0, result.stderr
    if KEYRING.exists():  # else that package is rightly missing
        assert (result.calls, result.stdout, result.stderr) == ([], "", "")


def test_the_missing_packages_and_only_they_are_installed_with_apt_get(machine: Path) -> None:
    add_sudo(machine, works=True)  # used only when the tests do not run as root

    result = run(machine)

    assert result.code == 0, result.stderr
    assert [call for call in result.calls if call.startswith("apt-get")] == [
        "apt-get update -qq", "apt-get install -y -qq " + " ".join(expected_missing())]
    assert result.stderr == "installing system packages: " + " ".join(expected_missing()) + "\n"


def test_without_root_and_without_sudo_it_names_what_to_install_in_one_line(machine: Path) -> None:
    add_sudo(machine, works=False)

    result = run(machine, as_nobody=True)

    assert result.code == 1
    assert result.stderr.splitlines() == [
        "missing system packages; install them with: sudo apt-get install " + " ".join(expected_missing())]
    assert not [call for call in result.calls if call.startswith("apt-get")]


def test_through_sudo_when_it_works_without_a_password(machine: Path) -> None:
    add_sudo(machine, works=True)

    result = run(machine, as_nobody=True)

    assert result.code == 0, result.stderr
    assert "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq " + " ".join(expected_missing()) \
        in result.calls
    assert "apt-get install -y -qq " + " ".join(expected_missing()) in result.calls  # what sudo ran


def test_dry_run_prints_the_command_and_installs_nothing(machine: Path) -> None:
    add_sudo(machine, works=True)

    result = run(machine, "--dry-run")

    assert result.code == 0, result.stderr
    prefix = "" if os.geteuid() == 0 else "sudo -n "
    assert result.stdout.splitlines() == [
        f"{prefix}env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq " + " ".join(expected_missing())]
    assert not [call for call in result.calls if "apt-get" in call]


def test_the_script_is_executable_and_shellcheck_clean() -> None:
    assert SCRIPT.stat().st_mode & stat.S_IXUSR
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: run scripts/setup-system.sh"
    proc = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout


def test_a_python_without_ensurepip_asks_for_python3_venv(machine: Path) -> None:
    executable(machine / "bin" / "python3", "#!/bin/bash\nexit 1\n")  # Debian's python3 alone
    add_sudo(machine, works=True)

    result = run(machine, "--dry-run")

    assert result.code == 0, result.stderr
    assert result.stdout.split()[-1] == "python3-venv"
