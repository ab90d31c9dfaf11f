"""A tiny local reconciler that stands in for Flux / Argo CD: GitOps repository → running services.

It is NOT Flux or Argo CD, and it does not talk to Kubernetes. It does the one thing they do that
the demo and the end-to-end tests need: it polls a branch of the GitOps repository and, for each
workload (a manifest file pinning the app's image), starts the local service at the version the
manifest pins. It reads the pin with the project's own manifest reader
(`deploy_actions.gitops.manifests.find_image_sites`), so it understands every shape gitops-bump
writes (kustomize `images:`, Deployments, Helm values, …), and it never writes to the repository.

    reconciler = Reconciler("/srv/gitops.git", "main", "ghcr.io/org/app",
                            {"stable": ("apps/app/stable/kustomization.yaml", stable_service)})
    reconciler.start()
    reconciler.wait_for("stable", "1.3.0", timeout=10)
    reconciler.stop()
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from deploy_actions.git import Git
from deploy_actions.gitops.image_ref import ImageRef
from deploy_actions.gitops.manifests import find_image_sites

Event = tuple[dt.datetime, str, str | None, str]  # (UTC time, workload, version or None, GitOps commit)


class Workload(Protocol):
    """What the reconciler drives: demo.service.AppService, or anything with set_version."""

    def set_version(self, version: str | None) -> None: ...


def _plain(version: str | None) -> str | None:
    if not version:
        return None
    return version[1:] if version[:1] in ("v", "V") else version


class Reconciler:
    """Stands in for Flux / Argo CD: polls `branch` of the GitOps repository at `remote` (a path to a
    bare repository, a file:// or an http(s):// URL without credentials) every `interval` seconds,
    and for each workload (name → (manifest path inside the repository, service)) calls
    `service.set_version(tag without a leading "v")` whenever the tag pinned for `image` changes
    (None when the manifest is gone or pins no tag).

    `on_revision(checkout)`, when given, is called after each new commit is applied (the demo's
    router reconfigures itself from the checkout's routing resources there).

    `.events` lists every change it applied as (UTC time, workload, version, GitOps commit).
    A pass that fails (the remote is unreachable, a manifest is malformed or pins two tags) changes
    nothing and is kept in `.last_error`; the next pass tries again, as a controller would.
    """

    def __init__(self, remote: str, branch: str, image: str,
                 workloads: Mapping[str, tuple[str, Workload]], interval: float = 0.5,
                 on_revision: Callable[[Path], object] | None = None) -> None:
        parsed = ImageRef.parse(image)
        if parsed.tag or parsed.digest:
            raise ValueError(f"image {image!r}: give the repository only (e.g. ghcr.io/org/app), not a tag")
        self.remote = remote
        self.branch = branch
        self.image = parsed
        self.workloads = dict(workloads)
        self.interval = interval
        self.on_revision = on_revision  # e.g. demo.router.Router.apply: traffic follows each commit
        self.events: list[Event] = []
        self.revision: str | None = None  # the GitOps commit last reconciled
        self.last_error: str | None = None
        self._running: dict[str, str | None] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._workdir: Path | None = None
        self._git: Git | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Reconcile in a background thread until `stop`; the first pass starts at once."""
        if self._thread is not None:
            raise RuntimeError("the reconciler is already running")
        self._workdir = Path(tempfile.mkdtemp(prefix="demo-reconciler-"))
        checkout = self._workdir / "checkout"
        checkout.mkdir()
        self._git = Git(checkout)
        self._git.run("init", "--quiet")
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="reconciler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling (the services keep running what they run) and remove the checkout."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        with self._changed:
            self._changed.notify_all()

    def __enter__(self) -> Reconciler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, workload: str, version: str | None, timeout: float) -> str:
        """Block until `workload` runs `version` (with or without a leading v; None: stopped) and
        return the GitOps commit that put it there. TimeoutError after `timeout` seconds."""
        if workload not in self.workloads:
            raise KeyError(f"no workload {workload!r} (known: {', '.join(sorted(self.workloads))})")
        wanted = _plain(version)
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (workload in self._running and self._running[workload] == wanted):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    running = self._running.get(workload, "(not reconciled yet)")
                    problem = f"; last error: {self.last_error}" if self.last_error else ""
                    raise TimeoutError(f"{workload} did not reach {wanted or 'stopped'} within {timeout:g}s "
                                       f"(it runs {running}, GitOps revision {(self.revision or 'none')[:12]}"
                                       f"{problem})")
                self._changed.wait(min(remaining, self.interval))
            return next((commit for _, name, _, commit in reversed(self.events) if name == workload),
                        self.revision or "")

    # -- reconciling --------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._reconcile()
                self.last_error = None
            except Exception as err:  # noqa: BLE001 -- a controller reports a failed pass and tries again
                self.last_error = f"{type(err).__name__}: {err}"
            self._stop.wait(self.interval)

    def _reconcile(self) -> None:
        git = self._git
        assert git is not None
        git.run("fetch", "--quiet", "--no-tags", "--depth", "1", self.remote, f"refs/heads/{self.branch}")
        commit = git.out("rev-parse", "FETCH_HEAD")
        if commit == self.revision:
            return
        git.run("-c", "advice.detachedHead=false", "checkout", "--quiet", "--force", "--detach", commit)
        wanted = {name: self._pinned(git.root, path) for name, (path, _) in self.workloads.items()}
        for name, version in wanted.items():
            if name in self._running and self._running[name] == version:
                continue
            self.workloads[name][1].set_version(version)
            with self._changed:
                self._running[name] = version
                self.events.append((dt.datetime.now(dt.timezone.utc), name, version, commit))
                self._changed.notify_all()
        if self.on_revision is not None:
            self.on_revision(git.root)
        with self._changed:
            self.revision = commit
            self._changed.notify_all()

    def _pinned(self, root: Path, manifest: str) -> str | None:
        """The version `manifest` pins for the image (its tag without a leading v), None if none."""
        if not (root / manifest).is_file():
            return None
        sites, _ = find_image_sites(root, [manifest], self.image)
        tags = sorted({site.current.tag for site in sites if site.current.tag})
        if len(tags) > 1:
            raise ValueError(f"{manifest} pins {self.image.short()} at more than one tag: {', '.join(tags)}")
        return _plain(tags[0]) if tags else None

    def running(self) -> dict[str, str | None]:
        """What each reconciled workload runs now (version, or None when stopped)."""
        with self._changed:
            return dict(self._running)
