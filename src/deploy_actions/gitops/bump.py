"""gitops-bump: pin a new image in the GitOps repository, as one auditable commit.

Order of work: validate → resolve the tag (or the tag deployed in `promote-from`) → tag
policy → registry check → plan every edit → write → commit → push (re-applied on a moved
tip) or propose a pull request. Nothing is written before every check has passed, and a
rollback is the same forward commit, to an older tag, with a reason.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from deploy_actions import actions_runtime
from deploy_actions.commands import Annotation, Outcome
from deploy_actions.commands.spec import BOT_EMAIL, BOT_NAME
from deploy_actions.errors import EXIT_CHECK_FAILED, FileError, InputError, OperationError
from deploy_actions.files import FileEdit, inside_repo, write_edits
from deploy_actions.git import Git, ProtectedBranchError, commit_paths, push_head, temporary_clone, trailers
from deploy_actions.gitops import policy
from deploy_actions.gitops.image_ref import ImageRef, ImageRefError, is_valid_tag
from deploy_actions.records import incident, journal

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
    deny_tags: tuple[str, ...] = ()
    require_semver: bool = False
    lint: bool = False
    verify_image: bool = True
    wait_for_image: float | None = None
    digest: str = "none"
    registry_username: str = ""
    registry_password: str = ""
    mode: str = "push"
    max_attempts: int | None = 10
    on_protected: str = "fail"
    branch: str = "deploy/{app}-{environment}"
    labels: tuple[str, ...] = ()
    auto_merge: bool = False
    commit_message: str = "chore: Bump {app} to {tag}"
    rollback_message: str = "fix: Rollback {app} to {tag} due to {reason}"
    record: str = "deployments/{environment}.jsonl"
    incident: str = "incidents/{timestamp}-{app}.md"
    evidence: str = ""
    detected_at: str = ""
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


def _validate(opts: GitopsBumpOptions) -> None:
    if opts.rollback and not opts.reason.strip():
        raise InputError("reason", "", "a reason for the rollback (rollback: true needs one)")
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
    _validate(opts)
    if opts.tag:  # fail fast, before any clone or registry call
        policy.check_tag(opts.tag, pinned=opts.digest == "pin", deny_tags=opts.deny_tags,
                         require_semver=opts.require_semver)
    started = time.time()
    facts = _rollback_facts(opts, started)
    if opts.repository:
        with temporary_clone(opts.repository, opts.ref, opts.token) as git:
            return _run(opts, git.root, git, started, facts)
    root, local = _local_root(opts)
    return _run(opts, root, local, started, facts)


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


def _local_root(opts: Checkout) -> tuple[Path, Git | None]:
    base = Path(_render(opts.path, "path", app=_app_name(opts), environment=opts.environment)).expanduser()
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
        rel = rendered.strip("/") or "."
    else:
        target = Path(rendered).expanduser().resolve()
        if not target.is_relative_to(root):
            raise InputError("path", opts.path, "a folder inside the checkout")
        rel = target.relative_to(root).as_posix() or "."
    inside_repo(root, rel if rel != "." else ".", "path", rendered)
    return [] if rel == "." else [rel]


def _run(opts: GitopsBumpOptions, root: Path, git: Git | None, started: float,
         facts: _RollbackFacts | None) -> GitopsBumpResult:
    from deploy_actions.gitops import lint

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
    from deploy_actions.gitops.manifests import Pins

    pins = Pins(digest=resolved, drop=opts.digest == "drop")
    ctx = _Context(opts, root, scope, git, image, target, app, notes, started, facts, pins)
    return _apply_with_retries(ctx, findings)


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
            return replace(opts, source_commit=str(entry["source_commit"]),
                           source_repository=str(entry.get("source_repository") or opts.source_repository))
    return opts


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
    with RegistryClient(username=opts.registry_username or None, password=opts.registry_password or None) as client:
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


def _apply_with_retries(ctx: _Context, findings: list[Annotation]) -> GitopsBumpResult:
    opts = ctx.opts
    attempts = max(1, opts.max_attempts or 1)
    for attempt in range(1, attempts + 1):
        planned = _plan(ctx)
        if planned.superseded or not planned.edits:
            return replace(planned.result, findings=(*findings, *planned.result.findings))
        write_edits(planned.edits)
        if opts.mode == "none" or ctx.git is None:
            return replace(planned.result, findings=(*findings, *planned.result.findings))
        sha = commit_paths(ctx.git, [e.relpath for e in planned.edits], planned.message,
                           user_name=opts.git_user_name, user_email=opts.git_user_email)
        result = replace(planned.result, commit_sha=sha, findings=(*findings, *planned.result.findings))
        if opts.mode == "commit":
            return result
        if opts.mode == "pull-request":
            return _pull_request(ctx, result, sha)
        try:
            if push_head(ctx.git, opts.ref, attempt=attempt, attempts=attempts):
                return replace(result, notes=(*result.notes, f"pushed {sha[:12]} to {opts.ref}"))
        except ProtectedBranchError:
            if opts.on_protected == "pull-request":
                note = f"{opts.ref} is protected; proposing a pull request instead"
                return _pull_request(ctx, replace(result, notes=(*result.notes, note)), sha)
            raise OperationError(f"{opts.ref} is protected and refused the push; "
                                 "set on-protected: pull-request to open a pull request instead") from None
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class _Plan:
    edits: tuple[FileEdit, ...]
    result: GitopsBumpResult
    message: str
    superseded: bool = False


def _plan(ctx: _Context) -> _Plan:
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
    edits = list(update.edits)
    report = _incident_edit(ctx, previous)
    record = _record_edit(ctx, previous, report.relpath if report else "")
    edits += [e for e in (record, report) if e is not None]
    files = tuple(sorted({e.relpath for e in edits}))
    values = dict(app=ctx.app, tag=tag, previous_tag=previous, environment=opts.environment,
                  image=ctx.image.short(), reason=opts.reason)
    template, name = ((opts.rollback_message, "rollback-message") if opts.rollback
                      else (opts.commit_message, "commit-message"))
    message = _render(template, name, **values) + "\n\n" + _trailers(ctx, previous)
    verb = "rolling back" if opts.rollback else "bumping"
    note = (f"{verb} {ctx.app}{_env_text(opts)} from {previous or 'nothing'} to {ctx.target.short()} "
            f"in {len(update.edits)} file(s)")
    return _Plan(tuple(edits), replace(base, changed=True, files=files, notes=(*base.notes, note)), message)


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


def _trailers(ctx: _Context, previous: str) -> str:
    opts = ctx.opts
    lines = trailers(opts.source_repository, opts.source_commit, run_url(opts))
    lines.append(f"Previous-Tag: {previous or 'none'}")
    if opts.rollback:
        lines.append(f"Rollback-Reason: {' '.join(opts.reason.split())}")
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


def _record_edit(ctx: _Context, previous: str, incident_path: str) -> FileEdit | None:
    opts = ctx.opts
    found = _record_file(ctx)
    if found is None:
        return None
    rel, path, before = found
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
        "gitops_base_commit": ctx.git.head() if ctx.git is not None else "",
        "source_repository": opts.source_repository,
        "source_commit": opts.source_commit,
        "actor": opts.actor,
        "strategy": opts.strategy,
        "status": "pending",
        "run_url": run_url(opts),
    }
    if opts.rollback:
        entry["reason"] = opts.reason
    if incident_path:
        entry["incident"] = incident_path
    return FileEdit(path, rel, before, journal.append(before, entry))


def _incident_edit(ctx: _Context, previous: str) -> FileEdit | None:
    """The incident record of a rollback (incident: empty turns it off)."""
    opts, facts = ctx.opts, ctx.rollback
    if facts is None or not opts.incident:
        return None
    rel = _render(opts.incident, "incident", app=ctx.app, environment=opts.environment or "default",
                  timestamp=incident.file_stamp(facts.at))
    path = inside_repo(ctx.root, rel, "incident")
    before = path.read_bytes() if path.exists() else b""
    found = _record_file(ctx)
    try:
        history = journal.parse(found[2], found[0]) if found else []
    except FileError as err:  # a rollback must not wait on a damaged record: the time is just unknown
        actions_runtime.log(f"incident record: deployed-at unknown ({err})")
        history = []
    facts_text = incident.render(incident.Incident(
        app=ctx.app, environment=opts.environment or "default", bad_version=previous,
        good_version=ctx.target.tag or "", reason=opts.reason, rolled_back_at=facts.at,
        detected_at=facts.detected_at,
        deployed_at=incident.deployed_at(history, ctx.app, opts.environment or "default", previous),
        image=ctx.image.short(), source_repository=opts.source_repository, source_commit=opts.source_commit,
        run_url=run_url(opts), evidence=facts.evidence,
        server_url=os.environ.get("GITHUB_SERVER_URL", "https://github.com")))
    return FileEdit(path, rel, before, facts_text.encode("utf-8"))


def _pull_request(ctx: _Context, result: GitopsBumpResult, sha: str) -> GitopsBumpResult:
    from deploy_actions.github import GitHubClient

    opts = ctx.opts
    git = ctx.git
    assert git is not None
    if not opts.token:
        raise InputError("token", "", "a GitHub token for pull-request mode")
    branch = _render(opts.branch, "branch", app=ctx.app, environment=opts.environment or "default")
    ref = f"refs/heads/{branch}"
    current = git.run("ls-remote", "--heads", "origin", ref, authenticated=True).stdout.split()
    expected = current[0] if current else ""
    # The deploy branch belongs to this action: rewritten from the tip each time, pushed with a lease.
    git.run("push", "--quiet", f"--force-with-lease={ref}:{expected}", "origin", f"{sha}:{ref}", authenticated=True)
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
