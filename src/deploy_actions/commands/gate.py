"""`deploy-actions gate`: may a deploy start now? Freeze periods, deploy windows, the pre-deploy
checklist (changelog entry, tag, image, rollback plan) and the emergency override.

The decisions live in `deploy_actions.gates`; this module reads the clock, the changelog, the
repository's tags and the registry, and turns the decision into outputs, a checklist in the step
summary, one annotation per failed check and an exit status.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy_actions.commands import Annotation, Outcome
from deploy_actions.commands.spec import REGISTRY_ACCESS, CommandSpec, Option, Output
from deploy_actions.errors import EXIT_CHECK_FAILED, DeployActionsError, InputError

if TYPE_CHECKING:
    from deploy_actions.gates import CheckResult, GateDecision
    from deploy_actions.git import Git
    from deploy_actions.gitops.image_ref import ImageRef
    from deploy_actions.release.changelog import Changelog

SPEC = CommandSpec(
    name="gate",
    description="Decide whether a deploy may start now: freeze periods, deploy windows in the team's time "
                "zone, a pre-deploy checklist (changelog entry, tag, image, rollback plan), and an emergency "
                "override that is recorded with its reason.",
    run="deploy_actions.commands.gate:run",
    options=(
        Option("freeze", "Freeze periods, one per line: 2026-12-24..2026-12-26, or every year: 12-31..01-02.",
               "", kind="lines"),
        Option("deny-windows", "Times when deploys are refused, one per line, e.g. 'Fri 15:00-24:00'.", "",
               kind="lines"),
        Option("timezone", "IANA time zone the freezes and windows are in.", "UTC"),
        Option("emergency", "Deploy anyway (needs reason): opens freezes and windows and waives the changelog "
               "and rollback-plan checks, never a missing tag or image. Reported as override.", "false",
               kind="bool"),
        Option("reason", "Why the emergency override is needed.", ""),
        Option("fail", "Exit 1 when a freeze or deny window closes the gate; false: report allowed=false and "
               "exit 0 (to shelve the deployment, say). A failed checklist always exits 1.", "true", kind="bool"),
        Option("now", "The moment to judge, ISO 8601 (default: the current time); for rehearsing a freeze "
               "or window.", ""),
        Option("require", "Pre-deploy checks that must hold, one per line: changelog (an entry for version), "
               "tag (the release tag exists, locally or on origin), image (image:tag is in the registry), "
               "rollback-plan (the entry has a filled-in ### Rollback Plan section).", "", kind="lines"),
        Option("version", "The version to deploy, e.g. 1.3.0 or v1.3.0 (needed by every check).", ""),
        Option("tag-prefix", "Prefix of release tags: the release tag is tag-prefix + version.", "v",
               kind="tag-prefix"),
        Option("repo", "Path of the code checkout whose changelog and tags are checked.", ".", kind="path"),
        Option("changelog-file", "The changelog, relative to repo.", "CHANGELOG.md", kind="path"),
        Option("image", "Image repository for the image check, without tag, e.g. ghcr.io/org/app.", ""),
        Option("image-tag", "Tag of the image to look for (default: the release tag, e.g. v1.3.0).", ""),
        *REGISTRY_ACCESS,
        Option("token", "Token to list the tags of origin over HTTPS when the tag is not fetched "
               "(CLI: $GITHUB_TOKEN).", "", secret=True, action_default="${{ github.token }}",
               env_fallback="GITHUB_TOKEN"),
    ),
    outputs=(
        Output("allowed", "true when the deploy may start."),
        Output("reason", "Which rule decided, in words."),
        Output("override", "true when an emergency override opened a closed gate."),
        Output("closed-by", "What closed the gate: freeze, window or checklist (the first that applies); "
               "empty when open."),
        Output("checklist", "The pre-deploy checks as a JSON list of {check, ok, detail}."),
        Output("failed", "Names of the failed checks, comma-separated (waived ones included)."),
    ),
)

@dataclass(frozen=True)
class _Release:
    """The supporting inputs of the checklist, checked before any check runs."""

    version: str  # normalised: 1.3.0
    tag: str  # the release tag: v1.3.0
    changelog_path: Path | None
    changelog_shown: str
    git: Git | None
    image: ImageRef | None


def run(options: dict[str, Any]) -> Outcome:
    from deploy_actions import gates

    tz = gates.zone(options["timezone"])
    if options["now"]:
        try:
            moment = dt.datetime.fromisoformat(options["now"])
        except ValueError:
            raise InputError("now", options["now"], "an ISO 8601 time such as 2026-12-24T10:00:00+01:00") from None
        moment = moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)
    else:
        moment = dt.datetime.now(tz)
    freezes = [gates.parse_freeze(line) for line in options["freeze"]]
    windows = [gates.parse_window(line) for line in options["deny_windows"]]
    required = gates.parse_require(options["require"])
    checklist = _run_checks(required, _release(required, options), options) if required else []
    decision = gates.decide(moment, freezes, windows, emergency=options["emergency"], reason=options["reason"],
                            checklist=checklist)
    outputs = {"allowed": decision.allowed, "reason": decision.reason, "override": decision.override,
               "closed-by": decision.closed_by, "checklist": [c.as_json() for c in checklist],
               "failed": ",".join(decision.failed)}
    # A closed gate is a failed check unless fail: false asks only to be told; a checklist that
    # does not hold is never only a report.
    failing = not decision.allowed and (options["fail"] or bool(decision.failed))
    return Outcome(outputs=outputs, text=_text(decision, checklist), summary=_summary(moment, decision, checklist),
                   annotations=_annotations(decision, checklist),
                   exit_code=EXIT_CHECK_FAILED if failing else 0)


# --------------------------------------------------------------------------------- inputs


def _release(required: tuple[str, ...], options: dict[str, Any]) -> _Release:
    """Every supporting input the named checks need, or a one-line InputError (exit 2)."""
    names = ", ".join(required)
    prefix: str = options["tag_prefix"]
    raw_version: str = options["version"]
    if not raw_version:  # every check is about one release
        raise InputError("version", "", f"the version to deploy, e.g. 1.3.0 (require: {names} needs it)")
    version = _version(raw_version, prefix)
    tag = f"{prefix}{version}"

    repo: str = options["repo"] or "."
    changelog_path: Path | None = None
    shown = ""
    if "changelog" in required or "rollback-plan" in required:
        from deploy_actions.files import inside_repo

        if not Path(repo).is_dir():
            raise InputError("repo", repo, "an existing directory: the code checkout")
        relpath: str = options["changelog_file"] or "CHANGELOG.md"
        changelog_path = inside_repo(Path(repo), relpath, "changelog-file")
        shown = _shown(os.path.join(repo, relpath))

    git = None
    if "tag" in required:
        from deploy_actions.git import Git

        if not prefix or prefix.startswith(("-", "/")) or any(c.isspace() or c in "~^:?*[\\" for c in prefix) \
                or ".." in prefix or "@{" in prefix:
            raise InputError("tag-prefix", prefix, "text that can start a git tag name, e.g. v or api-v")
        git = Git.open(repo, token=options["token"] or None)
        if not git.ok("check-ref-format", f"refs/tags/{tag}"):
            raise InputError("tag-prefix", prefix, f"text that makes {tag!r} a valid git tag name")

    image = None
    if "image" in required:
        image = _image(options, tag)
    return _Release(version, tag, changelog_path, shown, git, image)


def _version(raw: str, prefix: str) -> str:
    from deploy_actions.release.changelog import UNRELEASED, normalize_version

    text = raw.strip()
    if prefix and prefix not in ("v", "V") and text.startswith(prefix):
        text = text[len(prefix):]
    try:
        version = normalize_version(text)
    except ValueError:
        version = UNRELEASED
    if version == UNRELEASED:
        raise InputError("version", raw, "a semantic version such as 1.3.0 or v1.3.0")
    return version


def _image(options: dict[str, Any], release_tag: str) -> ImageRef:
    from deploy_actions.gitops.image_ref import ImageRef, ImageRefError, is_valid_tag

    text: str = options["image"]
    if not text:
        raise InputError("image", "", "an image repository such as ghcr.io/org/app (require: image needs it)")
    try:
        image = ImageRef.parse(text)
    except ImageRefError as err:
        raise InputError("image", text, f"an image repository such as ghcr.io/org/app ({err})") from None
    if image.tag or image.digest:
        raise InputError("image", text, "the repository only; give the tag in image-tag (default: the release tag)")
    tag: str = options["image_tag"] or release_tag
    if not is_valid_tag(tag):
        raise InputError("image-tag", tag, "an image tag (letters, digits, _ . -, at most 128); "
                                           "set image-tag when the release tag is not one")
    return image.with_tag(tag)


def _shown(path: str) -> str:
    from deploy_actions.release.changelog_check import repo_relative

    return repo_relative(path)


# --------------------------------------------------------------------------------- checks


def _run_checks(required: tuple[str, ...], release: _Release, options: dict[str, Any]) -> list[CheckResult]:
    """Every named check, in the order named; one failing does not stop the others."""
    from deploy_actions import gates

    changelog: Changelog | CheckResult | None = None
    if release.changelog_path is not None:
        changelog = _read_changelog(release.changelog_path, release.changelog_shown)
    results: list[CheckResult] = []
    for name in required:
        if name in ("changelog", "rollback-plan"):
            assert changelog is not None
            if isinstance(changelog, gates.CheckResult):
                results.append(gates.CheckResult(name, False, changelog.detail, changelog.file, changelog.line))
            elif name == "changelog":
                results.append(gates.changelog_entry_check(changelog, release.version))
            else:
                results.append(gates.rollback_plan_check(changelog, release.version))
        elif name == "tag":
            assert release.git is not None
            results.append(_tag_check(release.git, release.tag))
        elif name == "image":
            assert release.image is not None
            results.append(_image_check(release.image, options["registry_username"], options["registry_password"],
                                        options["registry_auth_hosts"]))
    return results


def _read_changelog(path: Path, shown: str) -> Changelog | CheckResult:
    """The parsed changelog, or a failed check saying why it cannot be read."""
    from deploy_actions.gates import CheckResult
    from deploy_actions.release.changelog import read_changelog

    if not path.is_file():
        return CheckResult("changelog", False, f"no changelog at {shown}; create it or point input "
                           "'changelog-file' at it", shown)
    try:
        return read_changelog(path, shown)
    except DeployActionsError as err:
        return CheckResult("changelog", False, err.message, err.file, err.line)


def _tag_check(git: Git, tag: str) -> CheckResult:
    """The tag exists here, or on origin: a shallow checkout without tags still passes."""
    from deploy_actions.gates import CheckResult
    from deploy_actions.git import GitError

    ref = f"refs/tags/{tag}"
    if git.ok("show-ref", "--verify", "--quiet", ref):
        commit = git.run("rev-parse", "--short", f"{ref}^{{commit}}", check=False).stdout.strip()
        return CheckResult("tag", True, f"{tag} exists in the repository" + (f" ({commit})" if commit else ""))
    if git.remote_url_or_none("origin") is None:
        return CheckResult("tag", False, f"{tag} is not in the repository, and it has no origin remote to ask")
    try:
        listing = git.run("ls-remote", "--tags", "--refs", "origin", ref, authenticated=True).stdout
    except GitError as err:
        return CheckResult("tag", False, f"{tag} is not in the repository, and origin could not be asked: "
                           f"{err.message}")
    if any(line.split("\t", 1)[-1] == ref for line in listing.splitlines()):
        return CheckResult("tag", True, f"{tag} exists on origin (not fetched here)")
    return CheckResult("tag", False, f"{tag} exists neither in the repository nor on origin; tag and push "
                       "the release first")


def _image_check(image: ImageRef, username: str, password: str, auth_hosts: tuple[str, ...]) -> CheckResult:
    from deploy_actions.errors import OperationError
    from deploy_actions.gates import CheckResult
    from deploy_actions.gitops.registry import RegistryClient

    try:
        with RegistryClient(username=username or None, password=password or None, auth_hosts=auth_hosts) as client:
            found = client.manifest(image)
    except OperationError as err:
        return CheckResult("image", False, err.message)
    if found is None:
        return CheckResult("image", False, f"{image.short()} is not in the registry; let CI build and push it "
                           "before deploying")
    return CheckResult("image", True, f"{image.short()} is in the registry ({found.digest[:19]}…)")


# --------------------------------------------------------------------------------- reporting


def _annotations(decision: GateDecision, checklist: list[CheckResult]) -> tuple[Annotation, ...]:
    notes = []
    for check in checklist:
        if check.ok:
            continue
        if check.check in decision.waived:
            notes.append(Annotation("warning", f"{check.check}: {check.detail} (waived by the emergency override)",
                                    file=check.file, line=check.line, title=f"Pre-deploy check waived: {check.check}"))
        else:
            notes.append(Annotation("error", f"{check.check}: {check.detail}", file=check.file, line=check.line,
                                    title=f"Pre-deploy check failed: {check.check}"))
    return tuple(notes)


def _mark(decision: GateDecision, check: CheckResult) -> str:
    if check.ok:
        return "ok"
    return "waived" if check.check in decision.waived else "FAILED"


def _text(decision: GateDecision, checklist: list[CheckResult]) -> str:
    verdict = "open" if decision.allowed else "closed"
    lines = [f"gate {verdict}: {decision.reason}"]
    lines += [f"  [{_mark(decision, c)}] {c.check}: {c.detail}" for c in checklist]
    return "\n".join(lines)


def _summary(moment: dt.datetime, decision: GateDecision, checklist: list[CheckResult]) -> str:
    verdict = "open" if decision.allowed else "closed"
    out = ["## gate", "", f"The gate is **{verdict}** at {moment:%Y-%m-%d %H:%M %Z}: {decision.reason}.", ""]
    if decision.override:
        out += [":warning: **Opened by an emergency override**; record it with the deployment.", ""]
    if checklist:
        out += ["### Pre-deploy checklist", ""]
        for check in checklist:
            box = "x" if check.ok else " "
            note = " _(waived by the emergency override)_" if check.check in decision.waived else ""
            out.append(f"- [{box}] **{check.check}**: {check.detail}{note}")
        out.append("")
    return "\n".join(out)
