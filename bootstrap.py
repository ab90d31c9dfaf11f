#!/usr/bin/env python3
"""Entry point of every composite action: make (or reuse) a locked virtualenv, then exec the CLI.

    python3 "$GITHUB_ACTION_PATH/../bootstrap.py" <command> [flags...]

Standard library only, Python >= 3.10. The virtualenv lives in
`$RUNNER_TOOL_CACHE/deploy-actions/<key>` (else `$RUNNER_TEMP`, else a private temp dir), where
<key> hashes the interpreter, `requirements.lock`, `pyproject.toml`, `src/**` and this file: a
moved `v1` tag gets a new environment, an unchanged one is reused by every later step (one stat,
no pip). It is built in a scratch directory beside its final place, finished with a marker file
and moved into place with one rename, so a crashed or concurrent build is never trusted.

Dependencies come only from the hash-pinned lock (pip, run from the wheel that ships with
Python); the package itself is copied in from this checkout, with its metadata and console
script, as a wheel would install it. Exit status 2, with one line naming the problem, when the
environment cannot be made.
"""

from __future__ import annotations

# The fast path (hash, one stat, exec) imports only these; the build imports the rest lazily.
import hashlib
import os
import sys
import time
from pathlib import Path

TYPE_CHECKING = False  # typing costs milliseconds at every start; mypy knows this idiom
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

MIN_PYTHON = (3, 10)
EXIT_BAD_INPUT = 2
ROOT = Path(__file__).resolve().parent
LOCK = ROOT / "requirements.lock"
MARKER = ".deploy-actions-ready"  # written last; its presence means "complete"
SCRATCH_PREFIX = ".build-"
# What pyproject.toml's [project] and [project.scripts] say; tests/e2e/test_bootstrap.py checks it.
DIST_NAME = "deploy-actions"
CONSOLE_SCRIPTS = {"deploy-actions": "deploy_actions.cli:main"}
STALE_SCRATCH_SECONDS = 6 * 3600  # older scratch dirs are leftovers of crashed builds


class BootstrapError(Exception):
    """A problem we can name in one line."""


def _in_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _say(line: str) -> None:
    # stderr, so that `--json` keeps stdout to itself; the runner reads commands on both.
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _fail(message: str) -> int:
    if _in_actions():
        text = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        _say(f"::error title=deploy-actions setup::{text}")
    else:
        _say(f"deploy-actions: error: {message}")
    return EXIT_BAD_INPUT


# -- the key -----------------------------------------------------------------------------------

def _source_files(root: Path) -> Iterator[Path]:
    """The files whose content defines an environment, in a stable order."""
    for name in ("bootstrap.py", "requirements.lock", "pyproject.toml"):
        yield root / name
    for dirpath, dirnames, filenames in os.walk(root / "src"):
        dirnames[:] = sorted(d for d in dirnames
                             if d != "__pycache__" and not d.endswith(".egg-info"))
        for filename in sorted(filenames):
            if not filename.endswith((".pyc", ".pyo")):
                yield Path(dirpath) / filename


def environment_key(root: Path = ROOT) -> str:
    """16 hex digits that change whenever the interpreter, the lock or the package source does."""
    digest = hashlib.sha256()
    interpreter = (sys.implementation.name, sys.version, sys.platform, os.uname().machine,
                   os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
    digest.update(repr(interpreter).encode())
    for path in _source_files(root):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            if path.name == "pyproject.toml" or path.name == "requirements.lock":
                raise BootstrapError(f"{path} is missing; this checkout of deploy-actions "
                                     "is incomplete") from None
            continue
        digest.update(b"\0" + path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()[:16]


# -- where environments live -------------------------------------------------------------------

def _private_temp_base() -> Path | None:
    import stat
    import tempfile

    base = Path(tempfile.gettempdir()) / f"deploy-actions-{os.getuid()}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        info = base.lstat()
    except OSError:
        return None
    # A shared /tmp: trust only a real directory that is ours and closed to others.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        return None
    return base


def candidate_bases() -> Iterator[Path]:
    """Cache directories in order of preference (the private temp dir only made if reached)."""
    for var in ("RUNNER_TOOL_CACHE", "RUNNER_TEMP"):
        if os.environ.get(var):
            yield Path(os.environ[var]) / "deploy-actions"
    private = _private_temp_base()
    if private is not None:
        yield private


def _writable(base: Path) -> bool:
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(base, os.W_OK | os.X_OK)


def find_ready(key: str, bases: Iterable[Path]) -> Path | None:
    for base in bases:
        if (base / key / MARKER).is_file():
            return base / key
    return None


# -- building ----------------------------------------------------------------------------------

def _run(step: str, argv: list[str], hint: str = "") -> None:
    import subprocess

    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PIP_NO_COLOR="1")
    # Settings of the caller's that would send pip elsewhere than into our venv.
    for name in ("PIP_USER", "PIP_TARGET", "PIP_PREFIX", "PIP_REQUIRE_VIRTUALENV",
                 "PYTHONHOME", "PYTHONPATH", "PYTHONUSERBASE"):
        env.pop(name, None)
    started = time.monotonic()
    try:
        proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                              stdout=sys.stderr, stderr=sys.stderr, check=False)
    except OSError as err:
        raise BootstrapError(f"{step}: cannot run {argv[0]}: {err.strerror}") from None
    if proc.returncode != 0:
        raise BootstrapError(f"{step} failed (exit {proc.returncode}); its output is in the "
                             f"log above{hint}")
    _say(f"  {step}: {time.monotonic() - started:.1f} s")


def _output(argv: list[str]) -> str:
    import subprocess

    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def install_package(root: Path, venv_dir: Path, final: Path) -> None:
    """Install the pure-Python packages of `root/src` into the venv the way a wheel would: the
    files, a dist-info with METADATA, entry points and RECORD, and the console scripts.

    No pip, setuptools or PEP 517 build: for a pure-Python package they would only copy the
    same files, at the price of seconds (pip run from its wheel recompiles itself each time).
    """
    import base64
    import re
    import shutil

    python = venv_dir / "bin" / "python"
    purelib = Path(_output([str(python), "-c",
                            "import sysconfig; print(sysconfig.get_paths()['purelib'])"]))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    packages = sorted(p for p in (root / "src").iterdir()
                      if p.is_dir() and (p / "__init__.py").is_file())
    if not packages:
        raise BootstrapError(f"{root / 'src'} holds no Python package; this checkout of "
                             "deploy-actions is incomplete")
    for package in packages:
        shutil.copytree(package, purelib / package.name, ignore=ignore)
    init = (root / "src" / "deploy_actions" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", init, re.M)
    version = found.group(1) if found else "0"
    dist_info = purelib / f"{DIST_NAME.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {DIST_NAME}\nVersion: {version}\n", encoding="utf-8")
    (dist_info / "INSTALLER").write_text("deploy-actions bootstrap.py\n", encoding="utf-8")
    (dist_info / "entry_points.txt").write_text(
        "[console_scripts]\n" + "".join(f"{n} = {t}\n" for n, t in CONSOLE_SCRIPTS.items()),
        encoding="utf-8")
    for name, target in CONSOLE_SCRIPTS.items():
        module, func = target.split(":")
        script = venv_dir / "bin" / name
        # The #! line names the final path: the venv is moved there once it is complete.
        script.write_text(f"#!{final}/bin/python\nimport sys\nfrom {module} import {func}\n"
                          f"if __name__ == '__main__':\n    sys.exit({func}())\n",
                          encoding="utf-8")
        script.chmod(0o755)
    records = []
    for path in sorted(p for p in purelib.rglob("*") if p.is_file() and (
            p.relative_to(purelib).parts[0] in {pkg.name for pkg in packages})):
        data = path.read_bytes()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        records.append(f"{path.relative_to(purelib).as_posix()},sha256={digest},{len(data)}")
    for name in ("METADATA", "INSTALLER", "entry_points.txt", "RECORD"):
        records.append(f"{dist_info.name}/{name},,")
    (dist_info / "RECORD").write_text("\n".join(records) + "\n", encoding="utf-8")


def _prune_scratch(base: Path) -> None:
    import shutil

    now = time.time()
    for entry in base.glob(SCRATCH_PREFIX + "*"):
        try:
            if now - entry.stat().st_mtime > STALE_SCRATCH_SECONDS:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass


def _bundled_pip_wheel() -> Path | None:
    """The pip wheel that ships with this Python (for ensurepip), newest first.

    Running pip straight from it installs into the new venv without first installing pip
    there, which is most of what `python -m venv` spends its seconds on.
    """
    import importlib.util

    spec = importlib.util.find_spec("ensurepip")
    folders = [Path("/usr/share/python-wheels")]  # Debian and Ubuntu keep them here
    if spec is not None and spec.origin:
        folders.insert(0, Path(spec.origin).parent / "_bundled")

    def version(wheel: Path) -> tuple[int, ...]:
        text = wheel.name.split("-")[1]
        return tuple(int(part) for part in text.split(".") if part.isdigit())

    for folder in folders:
        wheels = sorted(folder.glob("pip-*-py3-none-any.whl"), key=version, reverse=True)
        if wheels:
            return wheels[0]
    return None


def _pip_for(python: Path) -> list[str]:
    """A command line that runs pip for the venv whose interpreter is `python`."""
    wheel = _bundled_pip_wheel()
    if wheel is not None:
        return [str(python), str(wheel / "pip")]
    import importlib.util

    if importlib.util.find_spec("ensurepip") is None:
        raise BootstrapError(
            f"{sys.executable} has neither pip's bundled wheel nor the ensurepip module, so "
            "it cannot install into a virtualenv; install python3-venv (Debian/Ubuntu) or run "
            "actions/setup-python before this step")
    _run("installing pip into the virtualenv", [str(python), "-m", "ensurepip", "--default-pip"])
    return [str(python), "-m", "pip"]


def build(key: str, base: Path, root: Path = ROOT) -> Path:
    """Make the environment for `key` under `base`; returns its final path."""
    import json
    import shutil
    import tempfile

    final = base / key
    _prune_scratch(base)
    scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{key}-", dir=base))
    try:
        venv_dir = scratch / "venv"
        python = venv_dir / "bin" / "python"
        started = time.monotonic()
        _say(f"python {sys.version.split()[0]} at {sys.executable}")
        _say(f"creating a virtualenv for deploy-actions (key {key}) in {final}")
        _run("creating the virtualenv",
             [sys.executable, "-m", "venv", "--without-pip", str(venv_dir)],
             hint="; on Debian/Ubuntu install python3-venv")
        pip = _pip_for(python)
        # --no-compile: nothing is byte-compiled up front (setuptools alone takes seconds);
        # Python writes .pyc files for what a command actually imports, on first use.
        quiet = ["--quiet", "--no-compile", "--no-warn-script-location"]
        _say(f"installing the locked dependencies from {LOCK.name} (hashes required)")
        _run("pip install of the locked dependencies",
             [*pip, "install", *quiet, "--require-hashes", "--no-deps",
              "-r", str(root / LOCK.name)])
        _say(f"installing deploy-actions from {root}")
        install_package(root, venv_dir, final)
        _run("checking the installed package", [str(python), "-c", "import deploy_actions.cli"])
        (venv_dir / MARKER).write_text(json.dumps(
            {"key": key, "python": sys.version, "source": str(root), "built": time.time()}))
        try:
            os.rename(venv_dir, final)
        except OSError:
            # Someone else finished first (or left an incomplete directory: replace that).
            if not (final / MARKER).is_file():
                aside = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}stale-", dir=base))
                os.rename(final, aside / "venv")
                os.rename(venv_dir, final)
        _say(f"ready in {time.monotonic() - started:.1f} s")
        return final
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def ensure_environment(root: Path = ROOT) -> Path:
    key = environment_key(root)
    ready = find_ready(key, candidate_bases())
    if ready is not None:
        return ready
    usable = [base for base in candidate_bases() if _writable(base)]
    if not usable:
        raise BootstrapError("no writable cache directory: set RUNNER_TOOL_CACHE or RUNNER_TEMP "
                             "to a directory this user can write")
    if _in_actions():
        _say("::group::deploy-actions: setting up (first use of this version on this runner)")
    try:
        return build(key, usable[0], root)
    finally:
        if _in_actions():
            _say("::endgroup::")


def main(argv: list[str]) -> int:
    if sys.version_info < MIN_PYTHON:
        return _fail(f"{sys.executable} is Python {sys.version.split()[0]}; deploy-actions "
                     "needs 3.10 or newer (use actions/setup-python before this step)")
    try:
        venv_dir = ensure_environment()
    except BootstrapError as err:
        return _fail(str(err))
    except OSError as err:
        return _fail(f"cannot set up the environment: {err}")
    python = venv_dir / "bin" / "python"
    script = venv_dir / "bin" / "deploy-actions"
    # Through the venv's python rather than the script's #! line, which older kernels cut at
    # 127 bytes: tool-cache paths can be long.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(python, [str(python), str(script), *argv])  # noqa: S606 (argv list, no shell)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
