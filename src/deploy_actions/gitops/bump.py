"""gitops-bump: pin a new image in the GitOps repository, as one auditable commit.

Order of work: validate → resolve the tag (or the tag deployed in `promote-from`) → tag
policy → registry check → plan every edit → write → commit → push (re-applied on a moved
tip) or propose a pull request. Nothing is written before every check has passed, and a
rollback is the same forward commit, to an older tag, with a reason.

A batch (`images`) is the same work for each of its entries in turn, in one commit: each entry
is planned on the files as the entries before it left them (two apps may share a file), and
one bad entry puts every file back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

from deploy_actions import actions_runtime, untrusted
from deploy_actions.errors import (
    EXIT_CHECK_FAILED,
    DeployActionsError,
    FileError,
    InputError,
    OperationError,
    RefusedError,
)
from deploy_actions.files import FileEdit, Undo, inside_repo, write_edits
from deploy_actions.git import (
    Git,
    Landed,
    ProtectedBranchError,
    commit_edits,
    commit_written,
    push_reapplied,
    push_timeout,
    temporary_clone,
    trailers,
)
from deploy_actions.git.identity import BOT_EMAIL, BOT_NAME
from deploy_actions.gitops import batch, policy
from deploy_actions.gitops.image_ref import ImageRef, ImageRefError, is_valid_tag
from deploy_actions.outcome import Annotation, Outcome
from deploy_actions.records import github_mirror, history, incident, journal, post_mortem

if TYPE_CHECKING:
    from deploy_actions.gitops.manifests import ImageSite, Pins

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_OWNER_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_GITHUB_URL = re.compile(r"^https?://[^/]+/(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?$")


class Checkout(Protocol):
    """Where a command edits the GitOps repository (gitops-bump's inputs of the same names; the
    traffic command shares them and the functions below)."""

    @property
    def repository(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def app(self) -> str: ...
    @property
    def image(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def token(self) -> str: ...


@dataclass(frozen=True)
class GitopsBumpOptions:
    image: str = ""
    tag: str = ""
    images: str = ""
    images_file: str = ""
    repository: str = ""
    ref: str = "main"
    path: str = "."
    environment: str = ""
    app: str = ""
    policy: str = ""
    set: tuple[str, ...] = ()
    kustomize_add: bool = False
    promote_from: str = ""
    rollback: bool = False
    reason: str = ""
    allow_rolled_back: bool = False
    deny_tags: tuple[str, ...] = ()
    require_semver: bool = False
    lint: bool = False
    verify_image: bool = True
    wait_for_image: float | None = None
    digest: str = "none"
    registry_username: str = ""
    registry_password: str = ""
    registry_auth_hosts: tuple[str, ...] = ()
    mode: str = "push"
    push_timeout: float | None = None
    on_protected: str = "fail"
    branch: str = "deploy/{app}-{environment}"
    labels: tuple[str, ...] = ()
    auto_merge: bool = False
    commit_message: str = "chore: Bump {app} to {tag}"
    rollback_message: str = "fix: Rollback {app} to {tag} due to {reason}"
    batch_message: str = "chore: Bump {count} apps"
    record: str = "deployments/{environment}.jsonl"
    incident: str = "incidents/{timestamp}-{app}.md"
    evidence: str = ""
    detected_at: str = ""
    post_mortem: str = "auto"
    post_mortem_repository: str = ""
    post_mortem_labels: tuple[str, ...] = ("post-mortem", "incident")
    github_token: str = ""
    strategy: str = "rolling"
    source_repository: str = ""
    source_commit: str = ""
    run_url: str = ""
    actor: str = ""
    github_repository: str = ""
    token: str = ""
    git_user_name: str = BOT_NAME
    git_user_email: str = BOT_EMAIL


@dataclass(frozen=True)
class GitopsBumpResult:
    changed: bool
    files: tuple[str, ...]
    tag: str
    previous_tag: str
    digest: str
    commit_sha: str = ""
    pull_request_url: str = ""
    pull_request_number: int | None = None
    superseded: bool = False
    source_repository: str = ""
    source_commit: str = ""
    notes: tuple[str, ...] = ()
    findings: tuple[Annotation, ...] = ()
    exit_code: int = 0
    apps: tuple[dict[str, object], ...] = ()
    pushes: int = 0

    def outputs(self) -> dict[str, object]:
        return {
            "changed": self.changed,
            "files": list(self.files),
            "tag": self.tag,
            "previous-tag": self.previous_tag,
            "digest": self.digest,
            "commit-sha": self.commit_sha,
            "pull-request-url": self.pull_request_url,
            "pull-request-number": self.pull_request_number or "",
            "superseded": self.superseded,
            "source-repository": self.source_repository,
            "source-commit": self.source_commit,
            "apps": list(self.apps),
            "pushes": self.pushes,
        }

    def outcome(self) -> Outcome:
        text = "\n".join(self.notes)
        summary = "## gitops-bump\n\n" + "".join(f"- {n}\n" for n in self.notes)
        if self.files:
            summary += "\n| file |\n| --- |\n" + "".join(f"| `{f}` |\n" for f in self.files)
        return Outcome(outputs=self.outputs(), text=text, summary=summary, annotations=self.findings,
                       exit_code=self.exit_code)


@dataclass
class _Context:
    opts: GitopsBumpOptions
    root: Path
    scope: list[str]
    git: Git | None
    image: ImageRef
    target: ImageRef
    app: str
    notes: list[str] = field(default_factory=list)
    started: float = 0.0
    rollback: _RollbackFacts | None = None
    deploy_branch_tip: str = ""  # pull-request mode: the deploy branch's commit when this run started
    entry: batch.BatchEntry | None = None  # in a batch: the entry this context pins
    pins: Pins | None = None  # what a site pinned by digest gets when the target names none


@dataclass(frozen=True)
class _RollbackFacts:
    """Read before anything is cloned, so a bad evidence file fails fast: for the incident record."""

    at: dt.datetime
    detected_at: dt.datetime
    evidence: incident.Evidence | None


def _render(template: str, name: str, **values: str) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        placeholders = ", ".join("{" + k + "}" for k in values)
        raise InputError(name, template, f"text whose only placeholders are {placeholders}") from None


def _validate(opts: GitopsBumpOptions, entries: Sequence[batch.BatchEntry]) -> None:
    push_timeout(opts.push_timeout)
    if entries:
        _validate_batch(opts, entries)
        return
    if opts.rollback and not opts.reason.strip():
        raise InputError("reason", "", "a reason for the rollback (rollback: true needs one)")
    if opts.allow_rolled_back and not opts.reason.strip():
        raise InputError("reason", "", "why the rolled-back version may be deployed again "
                         "(allow-rolled-back: true needs one)")
    if opts.allow_rolled_back and opts.rollback:
        raise InputError("allow-rolled-back", "true", "false with rollback: true (a rollback is never refused)")
    if opts.tag and opts.promote_from:
        raise InputError("promote-from", opts.promote_from, "either tag or promote-from, not both")
    if not opts.image and not opts.lint:
        raise InputError("image", "", "the image repository to bump, e.g. ghcr.io/org/app")
    if opts.image and not opts.tag and not opts.promote_from:
        raise InputError("tag", "", "the tag to deploy, e.g. v1.2.3 (or promote-from: an environment)")
    if opts.tag and not is_valid_tag(opts.tag):
        raise InputError("tag", opts.tag, "a valid image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})")
    for name, value in (("environment", opts.environment), ("promote-from", opts.promote_from), ("app", opts.app)):
        if value and not _NAME.match(value):
            raise InputError(name, value, "a name of letters, digits, '.', '_' and '-'")
    if opts.policy and not re.match(r"^[a-z0-9-]+:[a-z0-9.-]+$", opts.policy):
        raise InputError("policy", opts.policy, "a Flux image policy as namespace:name")
    if opts.mode == "pull-request" and not opts.repository and not opts.github_repository:
        raise InputError("github-repository", "", "owner/name for pull-request mode")
    if opts.mode == "pull-request" or opts.on_protected == "pull-request":
        _deploy_branch(opts)


# The deploy branch of pull-request mode is this action's own and is rewritten from the base's tip
# each time, so it may never be the base itself or a branch people protect.
PROTECTED_BRANCHES = ("main", "master", "trunk", "develop", "development", "production", "staging",
                      "release/*", "releases/*", "hotfix/*", "gh-pages")


def _deploy_branch(opts: GitopsBumpOptions) -> str:
    branch = _render(opts.branch, "branch", app=_app_name(opts), environment=opts.environment or "default")
    untrusted.ref_name("branch", branch)
    if branch == opts.ref or any(fnmatch.fnmatchcase(branch, p) for p in PROTECTED_BRANCHES):
        raise InputError("branch", branch, f"a deploy branch of its own, not ref ({opts.ref}) or a protected "
                         f"branch ({', '.join(PROTECTED_BRANCHES)}): pull-request mode rewrites it")
    return branch


def _validate_batch(opts: GitopsBumpOptions, entries: Sequence[batch.BatchEntry]) -> None:
    """A batch names its own images, tags and apps, and only moves forward, as one commit to ref."""
    for name, value in (("image", opts.image), ("tag", opts.tag), ("app", opts.app),
                        ("promote-from", opts.promote_from), ("policy", opts.policy), ("set", "\n".join(opts.set)),
                        ("evidence", opts.evidence)):
        if value:
            raise InputError(name, value, "nothing with images: each entry names its own image, tag, app and path")
    for name, on in (("rollback", opts.rollback), ("lint", opts.lint)):
        if on:
            raise InputError(name, "true", "false with images (a batch bumps forward; run it alone)")
    if "pull-request" in (opts.mode, opts.on_protected):
        name = "mode" if opts.mode == "pull-request" else "on-protected"
        raise InputError(name, "pull-request", "push, commit or none with images (a batch is one commit to ref)")
    if opts.environment and not _NAME.match(opts.environment):
        raise InputError("environment", opts.environment, "a name of letters, digits, '.', '_' and '-'")
    _render(opts.batch_message, "batch-message", count="2", environment=opts.environment)
    for entry in entries:
        with _naming(entry, _batch_input(opts)):
            policy.check_tag(entry.tag, pinned=opts.digest == "pin", deny_tags=opts.deny_tags,
                             require_semver=opts.require_semver)


def _batch_input(opts: GitopsBumpOptions) -> str:
    return "images-file" if opts.images_file else "images"


@contextlib.contextmanager
def _naming(entry: batch.BatchEntry | None, input_name: str) -> Iterator[None]:
    """A bad value of a batch entry is reported as that entry of the batch input."""
    try:
        yield
    except InputError as err:
        if entry is None:
            raise
        raise InputError(input_name, entry.text, f"{err.expected} ({entry.where}: {err.name} "
                         f"{str(err.value)[:60]!r})") from None


def _github_repository(opts: GitopsBumpOptions) -> str:
    if opts.github_repository:
        return opts.github_repository
    if _OWNER_NAME.match(opts.repository):
        return opts.repository
    match = _GITHUB_URL.match(opts.repository)
    if match:
        return match["repo"]
    raise InputError("github-repository", "", "owner/name of the GitOps repository on GitHub")


def gitops_bump(opts: GitopsBumpOptions) -> GitopsBumpResult:
    entries: tuple[batch.BatchEntry, ...] = ()
    if opts.images or opts.images_file:
        entries = batch.parse(*reversed(batch.read(opts.images, opts.images_file)))
    _validate(opts, entries)
    if opts.tag:  # fail fast, before any clone or registry call
        policy.check_tag(opts.tag, pinned=opts.digest == "pin", deny_tags=opts.deny_tags,
                         require_semver=opts.require_semver)
    started = time.time()
    facts = _rollback_facts(opts, started)
    if opts.repository:
        with temporary_clone(opts.repository, opts.ref, opts.token) as git:
            return _run(opts, git.root, git, started, facts, entries)
    root, local = _local_root(opts, entries[0].app if entries else _app_name(opts))
    return _run(opts, root, local, started, facts, entries)


def _rollback_facts(opts: GitopsBumpOptions, started: float) -> _RollbackFacts | None:
    if not opts.rollback:
        if opts.evidence:
            raise InputError("evidence", opts.evidence, "no evidence unless rollback: true (it goes in the incident "
                             "record)")
        return None
    at = dt.datetime.fromtimestamp(int(started), dt.timezone.utc)
    detected = incident.parse_detected_at(opts.detected_at, at)
    evidence = incident.read_evidence(opts.evidence) if opts.evidence else None
    return _RollbackFacts(at, detected, evidence)


def _app_name(opts: Checkout) -> str:
    """The app input, else the image's last path part (`ghcr.io/org/app` → `app`)."""
    if opts.app:
        return opts.app
    try:
        return ImageRef.parse(opts.image).repository.rsplit("/", 1)[-1]
    except ImageRefError:
        return "app"  # the image input itself is reported later, with its own error


def _local_root(opts: Checkout, app: str) -> tuple[Path, Git | None]:
    base = Path(_render(opts.path, "path", app=app, environment=opts.environment)).expanduser()
    start = base if base.is_dir() else base.parent
    if not start.is_dir():
        raise InputError("path", opts.path, "an existing folder (or a repository input to clone)")
    try:
        git = Git.open(start, token=opts.token or None, input_name="path")
        return git.root.resolve(), git
    except InputError:
        if opts.mode not in ("none",):
            raise InputError("path", opts.path, f"a folder inside a git checkout for mode: {opts.mode}") from None
        return start.resolve(), None


def _scope(opts: Checkout, root: Path, app: str, environment: str) -> list[str]:
    rendered = _render(opts.path, "path", app=app, environment=environment)
    if opts.repository:
        if PurePosixPath(rendered).is_absolute():
            raise InputError("path", opts.path, "a folder relative to the GitOps repository's root "
                             "(with repository, the path is inside the clone)")
        rel = rendered.strip("/") or "."
    else:
        target = Path(rendered).expanduser().resolve()
        if not target.is_relative_to(root):
            raise InputError("path", opts.path, "a folder inside the checkout")
        rel = target.relative_to(root).as_posix() or "."
    inside_repo(root, rel if rel != "." else ".", "path", rendered)
    return [] if rel == "." else [rel]


def _entry_scope(opts: GitopsBumpOptions, root: Path, entry: batch.BatchEntry) -> list[str]:
    """A batch entry's own path (relative to the repository root), else the path input's."""
    if not entry.path:
        return _scope(opts, root, entry.app, opts.environment)
    rel = _render(entry.path, "path", app=entry.app, environment=opts.environment).strip("/") or "."
    inside_repo(root, rel, "path")
    return [] if rel == "." else [rel]


def _run(opts: GitopsBumpOptions, root: Path, git: Git | None, started: float,
         facts: _RollbackFacts | None, entries: Sequence[batch.BatchEntry]) -> GitopsBumpResult:
    from deploy_actions.gitops import lint

    if entries:
        return _apply_with_retries([_entry_context(opts, root, git, started, e) for e in entries], [],
                                   in_batch=True)

    findings: list[Annotation] = []
    if opts.lint:
        lint_scope = _scope(opts, root, _app_name(opts), opts.environment) if opts.image or "{" not in opts.path else []
        for f in lint.lint_repository(root, lint_scope):
            findings.append(Annotation(f.level, f.message, file=f.relpath, line=f.line, title=f.rule or None))
        errors = sum(1 for f in findings if f.level == "error")
        if errors or not opts.image:
            note = f"lint: {errors} error(s), {len(findings) - errors} warning(s)"
            return GitopsBumpResult(False, (), opts.tag, "", "", notes=(note,), findings=tuple(findings),
                                    exit_code=EXIT_CHECK_FAILED if errors else 0)
    try:
        image = ImageRef.parse(opts.image)
    except ImageRefError as err:
        raise InputError("image", opts.image, f"an image repository such as ghcr.io/org/app ({err})") from None
    if image.tag or image.digest:
        raise InputError("image", opts.image, "the repository only; give the tag in the tag input")
    app = _app_name(opts)
    scope = _scope(opts, root, app, opts.environment)
    tag, digest = opts.tag, ""
    notes: list[str] = []
    if opts.promote_from:  # the tag is known only now; a given tag was checked before the clone
        tag, digest = _deployed_in(opts, root, image, app)
        notes.append(f"promoting {image.short()}:{tag} from {opts.promote_from}")
        opts = _provenance_from(opts, root, app, tag)
        policy.check_tag(tag, pinned=bool(digest) or opts.digest == "pin", deny_tags=opts.deny_tags,
                         require_semver=opts.require_semver)
    target, resolved = _check_registry(opts, image.with_tag(tag, digest or None), notes)
    if resolved is None and not target.digest and opts.digest != "drop":
        resolved = _recorded_digest(opts, root, app, tag)  # a rollback to a tag this environment ran pinned
    ctx = _Context(opts, root, scope, git, image, target, app, notes, started, facts,
                   deploy_branch_tip=_deploy_branch_tip(opts, git), pins=_pins(opts, resolved))
    return _apply_with_retries([ctx], findings, in_batch=False)


def _pins(opts: GitopsBumpOptions, resolved: str | None) -> Pins:
    from deploy_actions.gitops.manifests import Pins

    return Pins(digest=resolved, drop=opts.digest == "drop")


def _entry_context(opts: GitopsBumpOptions, root: Path, git: Git | None, started: float,
                   entry: batch.BatchEntry) -> _Context:
    """What a batch entry needs to be planned like a single bump: its scope, and the registry's word."""
    with _naming(entry, _batch_input(opts)):
        scope = _entry_scope(opts, root, entry)
        single = replace(opts, image=entry.image.short(), tag=entry.tag, app=entry.app, images="", images_file="")
        notes: list[str] = []
        target, resolved = _check_registry(single, entry.image.with_tag(entry.tag), notes)
    return _Context(single, root, scope, git, entry.image, target, entry.app, notes, started, None, entry=entry,
                    pins=_pins(single, resolved))


def _deploy_branch_tip(opts: GitopsBumpOptions, git: Git | None) -> str:
    if git is None or not (opts.mode == "pull-request" or opts.on_protected == "pull-request"):
        return ""
    ref = f"refs/heads/{_deploy_branch(opts)}"
    listing = git.run("ls-remote", "--heads", "origin", ref, authenticated=True).stdout.split()
    return untrusted.commit_sha("deploy branch", listing[0]) if listing else ""


def _provenance_from(opts: GitopsBumpOptions, root: Path, app: str, tag: str) -> GitopsBumpOptions:
    """A promotion names the code commit the tag was built from, as the source environment's record
    says, not the commit of the run that promotes (in a GitOps repository, that is its own)."""
    if not opts.record:
        return opts
    rel = _render(opts.record, "record", app=app, environment=opts.promote_from)
    path = inside_repo(root, rel, "record")
    if not path.is_file():
        return opts
    for entry in reversed(journal.parse(path.read_bytes(), rel)):
        # Only a bump names the build of its tag; a rollback to it names the run that rolled back.
        if (entry.get("event") == "bump" and entry.get("app") == app and entry.get("version") == tag
                and entry.get("source_commit")):
            try:  # a record is read back from a repository others can write to: hostile until checked
                commit = untrusted.commit_sha("source_commit", str(entry["source_commit"]))
                source = str(entry.get("source_repository") or opts.source_repository)
                source = untrusted.repository("source_repository", source) if source else ""
            except InputError as err:
                raise FileError(f"a record of {tag} is not valid: {err.message}", file=rel) from None
            return replace(opts, source_commit=commit, source_repository=source)
    return opts


def _recorded_digest(opts: GitopsBumpOptions, root: Path, app: str, tag: str) -> str | None:
    """The digest this environment's record gives for `tag` (the last bump to it that pinned one),
    so that a site pinned by digest stays pinned when the registry is not asked."""
    if not opts.record:
        return None
    path = inside_repo(root, _render(opts.record, "record", app=app, environment=opts.environment), "record")
    if not path.is_file():
        return None
    for entry in reversed(journal.parse(path.read_bytes(), path.name)):
        digest = entry.get("digest")
        if (entry.get("app") == app and entry.get("version") == tag and isinstance(digest, str)
                and re.fullmatch(r"sha256:[0-9a-f]{64}", digest)):
            return digest
    return None


def _deployed_in(opts: GitopsBumpOptions, root: Path, image: ImageRef, app: str) -> tuple[str, str]:
    from deploy_actions.gitops import manifests

    scope = _scope(opts, root, app, opts.promote_from)
    sites, _ = manifests.find_image_sites(root, scope, image, policy=opts.policy or None, sets=opts.set)
    # Sites that name no tag (Flux :name/:digest markers, rename-only kustomize entries) say nothing.
    versions = {(s.current.tag or "", s.current.digest or "") for s in sites if s.current.tag}
    if not versions:
        raise InputError("promote-from", opts.promote_from, f"an environment where {image.short()} is deployed "
                         f"(nothing references it under {'/'.join(scope) or '.'})")
    if len(versions) > 1:
        shown = ", ".join(sorted(f"{t}{'@' + d[:19] if d else ''}" for t, d in versions))
        raise OperationError(f"{opts.promote_from} runs more than one version of {image.short()} ({shown}); "
                             "promote one explicitly with tag:")
    return versions.pop()


def _check_registry(opts: GitopsBumpOptions, target: ImageRef, notes: list[str]) -> tuple[ImageRef, str | None]:
    """The target (with its digest when pinning), and the digest the registry gave for its tag
    (which keeps sites that are pinned by digest pinned), None when the registry was not asked."""
    if not (opts.verify_image or opts.digest == "pin" or opts.wait_for_image):
        return target, None
    from deploy_actions.gitops.registry import RegistryClient

    lookup = target.with_tag(target.tag, target.digest)
    with RegistryClient(username=opts.registry_username or None, password=opts.registry_password or None,
                        auth_hosts=opts.registry_auth_hosts) as client:
        if opts.wait_for_image:
            manifest = client.wait_for(lookup, timeout=opts.wait_for_image)
        else:
            found = client.manifest(lookup)
            if found is None:
                raise OperationError(f"{lookup.short()} is not in the registry; nothing was changed "
                                     "(wait-for-image: 10m waits for CI to push it)")
            manifest = found
    notes.append(f"registry has {lookup.short()} ({manifest.digest[:19]}…)")
    if opts.digest == "pin" or target.digest:
        return target.with_tag(target.tag, manifest.digest), manifest.digest
    return target, manifest.digest


def _apply_with_retries(ctxs: Sequence[_Context], findings: list[Annotation], *, in_batch: bool) -> GitopsBumpResult:
    """Plan, write and commit every context's change on the tip, and push it (re-planned on a moved tip)."""
    opts, git = ctxs[0].opts, ctxs[0].git
    committed: list[GitopsBumpResult] = []
    planned: list[_Plan] = []

    def attempt() -> tuple[GitopsBumpResult, bool]:
        plans, undo = _plan_all(ctxs)
        planned[:] = plans
        result = _combined(ctxs, plans, findings, in_batch)
        paths = sorted({f for p in plans for f in p.result.files})
        if not paths or opts.mode == "none" or git is None:
            return result, False
        sha = commit_written(git, paths, undo, _message(ctxs, plans, in_batch),
                             user_name=opts.git_user_name, user_email=opts.git_user_email)
        committed[:] = [replace(result, commit_sha=sha)]
        return committed[0], opts.mode == "push"

    try:
        landed = (push_reapplied(git, opts.ref, attempt, timeout=push_timeout(opts.push_timeout)) if git is not None
                  else Landed(attempt()[0], 0))
    except ProtectedBranchError:
        if opts.on_protected == "pull-request":
            result = committed[0]
            note = f"{opts.ref} is protected; proposing a pull request instead"
            return _pull_request(ctxs[0], replace(result, notes=(*result.notes, note)), result.commit_sha)
        raise OperationError(f"{opts.ref} is protected and refused the push; "
                             "set on-protected: pull-request to open a pull request instead") from None
    result = replace(landed.value, pushes=landed.pushes)
    if opts.mode == "pull-request" and result.commit_sha:
        return _pull_request(ctxs[0], result, result.commit_sha)
    if landed.pushes:
        tries = f" ({landed.pushes} pushes: other pipelines landed first)" if landed.pushes > 1 else ""
        result = replace(result, notes=(*result.notes, f"pushed {result.commit_sha[:12]} to {opts.ref}{tries}"))
        if not in_batch and planned and planned[0].incident is not None and _wants_post_mortem(opts):
            return _after_rollback(ctxs[0], planned[0], result, result.commit_sha)
    return result


@dataclass
class _Tip:
    """One try on the branch's tip: the commit it builds on, and the record files as its plans so far
    left them (each app of a batch adds its line; the file is written once, after the last)."""

    base_commit: str
    records: dict[Path, FileEdit] = field(default_factory=dict)

    def record(self, edit: FileEdit) -> None:
        first = self.records.get(edit.path)
        self.records[edit.path] = replace(edit, before=first.before) if first else edit


def _plan_all(ctxs: Sequence[_Context]) -> tuple[list[_Plan], Undo]:
    """Each context's plan, written before the next is planned (so the next sees its edits: two apps of
    a batch may pin their images in one file); any failure puts back every file already written."""
    git = ctxs[0].git
    tip = _Tip(git.head() if git is not None else "")
    plans: list[_Plan] = []
    undo = Undo()
    try:
        for ctx in ctxs:
            with _naming(ctx.entry, _batch_input(ctx.opts)):
                planned = _plan(ctx, tip)
            if planned.edits:
                undo += write_edits(planned.edits)
            if planned.record is not None:
                tip.record(planned.record)
            plans.append(planned)
        undo += write_edits(list(tip.records.values()))
    except BaseException:
        undo.restore()
        raise
    return plans, undo


def _combined(ctxs: Sequence[_Context], plans: Sequence[_Plan], findings: list[Annotation],
              in_batch: bool) -> GitopsBumpResult:
    rows = tuple({"app": c.app, "image": c.image.short(), "tag": p.result.tag, "previous-tag": p.result.previous_tag,
                  "changed": p.result.changed, "superseded": p.superseded} for c, p in zip(ctxs, plans, strict=True))
    warnings = tuple(f for p in plans for f in p.result.findings)
    if not in_batch:
        return replace(plans[0].result, findings=(*findings, *warnings), apps=rows)
    opts = ctxs[0].opts
    changed = [p for p in plans if p.result.changed]
    files = tuple(sorted({f for p in changed for f in p.result.files}))
    notes = tuple(n for p in plans for n in p.result.notes)
    summary = f"batch: {len(changed)} of {len(plans)} app(s) changed{_env_text(opts)}"
    return GitopsBumpResult(bool(files), files, "", "", "", superseded=any(p.superseded for p in plans),
                            source_repository=opts.source_repository, source_commit=opts.source_commit,
                            notes=(*notes, summary), findings=(*findings, *warnings), apps=rows)


def _message(ctxs: Sequence[_Context], plans: Sequence[_Plan], in_batch: bool) -> str:
    """A single bump's own message; a batch's subject, one line per app changed, and the shared trailers."""
    changed = [(c, p) for c, p in zip(ctxs, plans, strict=True) if p.result.changed]
    if not in_batch or len(changed) == 1:
        return changed[0][1].message
    opts = ctxs[0].opts
    subject = _render(opts.batch_message, "batch-message", count=str(len(changed)), environment=opts.environment)
    body = "\n".join(f"- {c.app}: {p.result.previous_tag or 'nothing'} → {c.target.short()}" for c, p in changed)
    provenance = "\n".join(trailers(opts.source_repository, opts.source_commit, run_url(opts)))
    return f"{subject}\n\n{body}" + (f"\n\n{provenance}" if provenance else "")


@dataclass(frozen=True)
class _Plan:
    edits: tuple[FileEdit, ...]  # the manifests (and a rollback's incident record)
    result: GitopsBumpResult
    message: str
    superseded: bool = False
    record: FileEdit | None = None  # the record file with this plan's line: see _Tip
    incident: incident.Incident | None = None  # the rollback's, for the post-mortem
    incident_path: str = ""


def _plan(ctx: _Context, tip: _Tip) -> _Plan:
    from deploy_actions.gitops import manifests

    opts = ctx.opts
    update = manifests.plan_image_update(ctx.root, ctx.scope, ctx.target, policy=opts.policy or None,
                                         sets=opts.set, kustomize_add=opts.kustomize_add,
                                         pins=ctx.pins or manifests.Pins())
    warnings = tuple(Annotation(f.level, f.message, file=f.relpath, line=f.line) for f in update.findings)
    if not update.sites and not update.edits:
        where = "/".join(ctx.scope) or "the repository"
        raise InputError("image", opts.image, f"an image referenced under {where} (found no reference to "
                         f"{ctx.image.short()}; use kustomize-add or set to add one)")
    previous = _previous_tag(update.sites)
    tag = ctx.target.tag or ""
    digest = ctx.target.digest or ""
    base = GitopsBumpResult(False, (), tag, previous, digest, notes=tuple(ctx.notes), findings=warnings,
                            source_repository=opts.source_repository, source_commit=opts.source_commit)
    if not update.edits:
        note = f"{ctx.app} already at {ctx.target.short()}{_env_text(opts)}; nothing to change"
        return _Plan((), replace(base, notes=(*base.notes, note)), "")
    downgrades = [s for s in update.changed if policy.is_downgrade(s.current.tag, tag)]
    if downgrades and not opts.rollback:
        site = downgrades[0]
        if _landed_since(ctx):  # another pipeline deployed a newer tag while this one ran
            note = f"superseded: {site.relpath} already pins the newer {site.current.tag}; left it alone"
            return _Plan((), replace(base, superseded=True, notes=(*base.notes, note)), "", superseded=True)
        raise InputError("tag", tag, f"a tag newer than the deployed {site.current.tag} ({site.relpath}:{site.line}); "
                         "a downgrade needs rollback: true and a reason")
    overridden = _rolled_back_rule(ctx, tag)
    if overridden is not None:
        base = replace(base, findings=(*base.findings, Annotation(
            "warning", f"{overridden.sentence()}; deploying it again (allow-rolled-back): "
                       f"{history.neutral(opts.reason)}", title="Rolled-back version deployed again")))
    edits = list(update.edits)
    facts = _incident(ctx, previous)
    report = _incident_edit(ctx, facts) if facts is not None else None
    record = _record_edit(ctx, tip, previous, report.relpath if report else "", overridden)
    edits += [report] if report is not None else []
    files = tuple(sorted({e.relpath for e in (*edits, *([record] if record else []))}))
    values = dict(app=ctx.app, tag=tag, previous_tag=previous, environment=opts.environment,
                  image=ctx.image.short(), reason=opts.reason)
    template, name = ((opts.rollback_message, "rollback-message") if opts.rollback
                      else (opts.commit_message, "commit-message"))
    message = _render(template, name, **values) + "\n\n" + _trailers(ctx, previous, overridden)
    verb = "rolling back" if opts.rollback else "bumping"
    note = (f"{verb} {ctx.app}{_env_text(opts)} from {previous or 'nothing'} to {ctx.target.short()} "
            f"in {len(update.edits)} file(s)")
    return _Plan(tuple(edits), replace(base, changed=True, files=files, notes=(*base.notes, note)), message,
                 record=record, incident=facts, incident_path=report.relpath if report else "")


def _rolled_back_rule(ctx: _Context, tag: str) -> history.RolledBack | None:
    """Refuse a tag rolled back in the target environment (or, promoting, in the source one), read
    from the records in the repository; the rollback overridden by allow-rolled-back, else None."""
    opts = ctx.opts
    if not opts.record or opts.rollback:  # a rollback is itself a person's decision, with its reason
        return None
    target = opts.environment or "default"
    places = [(target, f"deploy it to {target} again")]
    if opts.promote_from:
        places.append((opts.promote_from, f"promote it from {opts.promote_from} to {target}"))
    for environment, doing in places:
        rel = _render(opts.record, "record", app=ctx.app, environment=environment)
        mark = history.rolled_back(history.read(ctx.root, rel, ctx.app, environment), tag)
        if mark is None:
            continue
        if not opts.allow_rolled_back:
            raise RefusedError(mark.refusal(doing))
        return mark
    return None


def _landed_since(ctx: _Context) -> bool:
    """Whether the tip we build on was committed after this run started (a concurrent deploy)."""
    if ctx.git is None:
        return False
    committed = ctx.git.out("log", "-1", "--format=%ct")
    return committed.isdigit() and int(committed) >= int(ctx.started) - 1


def _env_text(opts: GitopsBumpOptions) -> str:
    return f" in {opts.environment}" if opts.environment else ""


def _previous_tag(sites: tuple[ImageSite, ...]) -> str:
    """The tag most sites pin now (sites that name no tag say nothing)."""
    tags: list[str] = [s.current.tag for s in sites if s.current.tag]
    if not tags:
        return ""
    return max(set(tags), key=tags.count)


def _trailers(ctx: _Context, previous: str, overridden: history.RolledBack | None) -> str:
    opts = ctx.opts
    lines = trailers(opts.source_repository, opts.source_commit, run_url(opts))
    lines.append(f"Previous-Tag: {previous or 'none'}")
    if opts.rollback:
        lines.append(f"Rollback-Reason: {' '.join(opts.reason.split())}")
    if overridden is not None:
        lines.append(f"Allow-Rolled-Back: {history.neutral(opts.reason)}")
        lines.append(f"Rolled-Back-At: {journal.timestamp(overridden.at)}")
    return "\n".join(lines)


def run_url(opts: GitopsBumpOptions) -> str:
    return journal.workflow_run_url(opts.run_url)


def _record_file(ctx: _Context) -> tuple[str, Path, bytes] | None:
    opts = ctx.opts
    if not opts.record:
        return None
    rel = _render(opts.record, "record", app=ctx.app, environment=opts.environment or "default")
    path = inside_repo(ctx.root, rel, "record")
    return rel, path, path.read_bytes() if path.exists() else b""


def _record_edit(ctx: _Context, tip: _Tip, previous: str, incident_path: str,
                 overridden: history.RolledBack | None) -> FileEdit | None:
    opts = ctx.opts
    found = _record_file(ctx)
    if found is None:
        return None
    rel, path, before = found
    if path in tip.records:  # an earlier app of this batch added its line
        before = tip.records[path].after
    entry: dict[str, object] = {
        "timestamp": journal.timestamp(),
        "event": "rollback" if opts.rollback else "bump",
        "environment": opts.environment or "default",
        "app": ctx.app,
        "image": ctx.image.short(),
        "version": ctx.target.tag or "",
        "digest": ctx.target.digest or "",
        "previous_version": previous,
        # The record rides in the GitOps commit itself, which cannot name its own hash: it names the
        # commit it was made on; the commit that carries it is `git log -1 -- <record file>`.
        "gitops_base_commit": tip.base_commit,
        "source_repository": opts.source_repository,
        "source_commit": opts.source_commit,
        "actor": opts.actor,
        "strategy": opts.strategy,
        "status": "pending",
        "run_url": run_url(opts),
    }
    if opts.rollback:
        entry["reason"] = opts.reason
    if overridden is not None:
        entry["allow_rolled_back"] = True
        entry["reason"] = opts.reason
        entry["rolled_back_at"] = journal.timestamp(overridden.at)
    if incident_path:
        entry["incident"] = incident_path
    return FileEdit(path, rel, before, journal.append(before, entry))


def _incident(ctx: _Context, previous: str) -> incident.Incident | None:
    """The facts of a rollback's incident (incident: empty turns the record off)."""
    opts, facts = ctx.opts, ctx.rollback
    if facts is None or not opts.incident:
        return None
    found = _record_file(ctx)
    try:
        history_lines = journal.parse(found[2], found[0]) if found else []
    except FileError as err:  # a rollback must not wait on a damaged record: the time is just unknown
        actions_runtime.log(f"incident record: deployed-at unknown ({err})")
        history_lines = []
    return incident.Incident(
        app=ctx.app, environment=opts.environment or "default", bad_version=previous,
        good_version=ctx.target.tag or "", reason=opts.reason, rolled_back_at=facts.at,
        detected_at=facts.detected_at,
        deployed_at=incident.deployed_at(history_lines, ctx.app, opts.environment or "default", previous),
        image=ctx.image.short(), source_repository=opts.source_repository, source_commit=opts.source_commit,
        run_url=run_url(opts), evidence=facts.evidence,
        server_url=os.environ.get("GITHUB_SERVER_URL", "https://github.com"))


def _incident_edit(ctx: _Context, facts: incident.Incident) -> FileEdit:
    """The incident record of a rollback, in the same commit."""
    rel = _render(ctx.opts.incident, "incident", app=ctx.app, environment=facts.environment,
                  timestamp=incident.file_stamp(facts.rolled_back_at))
    path = inside_repo(ctx.root, rel, "incident")
    before = path.read_bytes() if path.exists() else b""
    return FileEdit(path, rel, before, incident.render(facts).encode("utf-8"))


def _wants_post_mortem(opts: GitopsBumpOptions) -> bool:
    if opts.post_mortem == "auto":
        return github_mirror.is_production(opts.environment)
    return opts.post_mortem == "true"


def _after_rollback(ctx: _Context, plan: _Plan, result: GitopsBumpResult, sha: str) -> GitopsBumpResult:
    """The post-mortem issue (linked both ways with the incident record) and the release-notes line.
    The rollback has landed: anything failing here is a warning with what to do by hand."""
    from deploy_actions.github import GitHubClient

    opts, facts, rel = ctx.opts, plan.incident, plan.incident_path
    assert facts is not None and ctx.git is not None
    url = _blob_url(opts, sha, rel)
    try:
        client = GitHubClient(opts.post_mortem_repository or opts.source_repository, opts.github_token or opts.token)
        try:
            issue_url, _, created = client.open_issue(post_mortem.title(facts), post_mortem.issue_body(facts, rel, url),
                                                      list(opts.post_mortem_labels))
            release = client.append_to_release(facts.bad_version, post_mortem.release_line(facts, rel, url))
        finally:
            client.close()
        linked = _link_post_mortem(ctx, rel, issue_url, facts)
    except DeployActionsError as err:
        warning = Annotation("warning", f"post-mortem not filed: {history.neutral(err.message)}; open it by hand "
                             f"from the incident record {rel}", title="Post-mortem not filed")
        return replace(result, findings=(*result.findings, warning))
    notes = [f"{'opened' if created else 'found'} post-mortem {issue_url}, due {history.when(post_mortem.due(facts))}"]
    notes.append(f"release {facts.bad_version}: rollback noted in its release notes" if release
                 else f"release {facts.bad_version}: no GitHub release to note the rollback in")
    if linked:
        notes.append(f"linked the post-mortem from {rel} ({linked[:12]})")
    return replace(result, notes=(*result.notes, *notes))


def _blob_url(opts: GitopsBumpOptions, sha: str, rel: str) -> str:
    """The incident record on GitHub, at the commit that wrote it ("" when the repository is not on GitHub)."""
    try:
        repository = _github_repository(opts)
    except InputError:
        return ""
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    return f"{server}/{repository}/blob/{sha}/{rel}"


def _link_post_mortem(ctx: _Context, rel: str, issue_url: str, facts: incident.Incident) -> str:
    """A forward commit naming the post-mortem issue in the incident record; its sha ("" when
    the record already names it)."""
    git, opts = ctx.git, ctx.opts
    assert git is not None

    def attempt() -> tuple[str, bool]:
        path = inside_repo(ctx.root, rel, "incident")
        before = path.read_bytes() if path.exists() else b""
        after = post_mortem.link_in_record(before.decode("utf-8", "replace"), issue_url, facts).encode("utf-8")
        if after == before:
            return "", False
        sha = commit_edits(git, [FileEdit(path, rel, before, after)],
                           f"docs(incident): post-mortem for {ctx.app} {facts.bad_version}\n\nPost-Mortem: {issue_url}",
                           user_name=opts.git_user_name, user_email=opts.git_user_email)
        return sha, True

    return push_reapplied(git, opts.ref, attempt, timeout=push_timeout(opts.push_timeout)).value


def _pull_request(ctx: _Context, result: GitopsBumpResult, sha: str) -> GitopsBumpResult:
    from deploy_actions.github import GitHubClient

    opts = ctx.opts
    git = ctx.git
    assert git is not None
    if not opts.token:
        raise InputError("token", "", "a GitHub token for pull-request mode")
    branch = _deploy_branch(opts)
    ref = f"refs/heads/{branch}"
    # The deploy branch belongs to this action: rewritten from the tip each time, pushed with a lease
    # against what it held when this run started, so a push made meanwhile is never overwritten.
    git.run("push", "--quiet", f"--force-with-lease={ref}:{ctx.deploy_branch_tip}", "origin", f"{sha}:{ref}",
            authenticated=True)
    client = GitHubClient(_github_repository(opts), opts.token)
    title = git.out("log", "-1", "--format=%s", sha)
    body = git.out("log", "-1", "--format=%b", sha)
    url, created = client.open_or_update_pull_request(branch, opts.ref, title, body)
    number = int(url.rstrip("/").rsplit("/", 1)[-1]) if url.rstrip("/").rsplit("/", 1)[-1].isdigit() else None
    if number is not None and opts.labels:
        client.add_labels(number, list(opts.labels))
    findings = result.findings
    if number is not None and opts.auto_merge:
        try:
            client.enable_auto_merge(number)
        except OperationError as err:
            # The pull request is open and correct; only the convenience failed, so warn, don't fail.
            findings = (*findings, Annotation("warning", f"auto-merge not enabled: {err.message}"))
    note = f"{'opened' if created else 'updated'} pull request {url} from {branch}"
    return replace(result, pull_request_url=url, pull_request_number=number, notes=(*result.notes, note),
                   findings=findings)
