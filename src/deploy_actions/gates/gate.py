"""The `gate` command's work: may a deploy start now? It reads the clock, the changelog, the
repository's tags, the registry, the GitOps repository's records and the run's approvals, asks
the decisions in `deploy_actions.gates` and `gates.discipline`, and turns the verdict into
outputs, a checklist in the step summary, one annotation per failed check and an exit status.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy_actions import actions_runtime, gates
from deploy_actions.errors import EXIT_CHECK_FAILED, DeployActionsError, InputError
from deploy_actions.gates import CheckResult, GateDecision, Requirement, discipline
from deploy_actions.outcome import Annotation, Outcome
from deploy_actions.records.history import duration_text

if TYPE_CHECKING:
    from deploy_actions.git import Git
    from deploy_actions.github import RunApproval
    from deploy_actions.gitops.image_ref import ImageRef
    from deploy_actions.release.changelog import Changelog


@dataclass(frozen=True)
class _Release:
    """The supporting inputs of the checklist, checked before any check runs."""

    version: str  # normalised: 1.3.0
    tag: str  # the release tag: v1.3.0
    changelog_path: Path | None
    changelog_shown: str
    git: Git | None
    image: ImageRef | None
    record_version: str = ""  # the image tag the records name: image-tag, else the release tag


def evaluate(options: dict[str, Any]) -> Outcome:
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
    names = tuple(r.name for r in required if r.name in gates.RELEASE_CHECKS)
    if options["allow_rolled_back"] and not options["reason"].strip():
        raise InputError("reason", "", "why the rolled-back version may be deployed again "
                         "(allow-rolled-back: true needs one)")
    reads_records = bool(options["gitops_repository"]) or any(r.name == "soak" for r in required)
    release = _release(names, options, needs_version=reads_records or bool(names))
    checklist = _run_checks(names, release, options) if names else []
    soak_left = 0.0
    if reads_records:
        found, soak_left = _record_checks(required, release, options, moment)
        if 0 < soak_left <= options["soak_wait"] and _only_waiting(found):
            # The soak only needs time: wait for it here, then read the records again (a rollback
            # meanwhile still counts).
            actions_runtime.log(f"soak: waiting {duration_text(soak_left)} (soak-wait)")
            time.sleep(soak_left)
            moment += dt.timedelta(seconds=soak_left)
            found, soak_left = _record_checks(required, release, options, moment)
        checklist += found
    approved: list[RunApproval] = []
    need = next((r for r in required if r.name == "approvals"), None)  # parse_require keeps one
    if need is not None:
        approved = discipline.approvals_for(_run_approvals(options), options["environment"])
        checklist.append(discipline.approvals_check(approved, options["environment"], need))
    decision = gates.decide(moment, freezes, windows, emergency=options["emergency"], reason=options["reason"],
                            checklist=checklist)
    outputs = {"allowed": decision.allowed, "reason": decision.reason, "override": decision.override,
               "closed-by": decision.closed_by, "checklist": [c.as_json() for c in checklist],
               "failed": ",".join(decision.failed), "soak-left": int(soak_left + 0.999),
               "approvals": json.dumps([{"user": a.user, "environment": options["environment"], "comment": a.comment}
                                        for a in approved]),
               "approved-by": ",".join(discipline.distinct_approvers(approved))}
    # A closed gate is a failed check unless fail: false asks only to be told; a checklist that
    # does not hold is never only a report.
    failing = not decision.allowed and (options["fail"] or bool(decision.failed))
    return Outcome(outputs=outputs, text=_text(decision, checklist),
                   summary=_summary(moment, decision, checklist, soak_left),
                   annotations=_annotations(decision, checklist),
                   exit_code=EXIT_CHECK_FAILED if failing else 0)


def _record_checks(required: tuple[Requirement, ...], release: _Release, options: dict[str, Any],
                   moment: dt.datetime) -> tuple[list[CheckResult], float]:
    """Rolled-back (whenever the GitOps repository is given) and soak, from one read of the records."""
    repository: str = options["gitops_repository"]
    environment: str = options["environment"]
    app: str = options["app"]
    if not repository:
        raise InputError("gitops-repository", "", "the GitOps repository whose records the soak check reads")
    for name, value in (("app", app), ("environment", environment)):
        if not value:
            raise InputError(name, "", f"the {name} whose records the gate reads (gitops-repository is set)")
    soaks = [r for r in required if r.name == "soak"]
    places = list(dict.fromkeys([environment, *(r.environment for r in soaks)]))
    records = discipline.read_records(repository, options["gitops_ref"], options["gitops_token"] or options["token"],
                                      options["record"], app, places)
    version = release.record_version
    found = [discipline.rolled_back_check(records[environment], version, environment,
                                          allow=options["allow_rolled_back"], reason=options["reason"])]
    left = 0.0
    for need in soaks:
        check, wait = discipline.soak_check(records[need.environment], version, need, moment)
        found.append(check)
        left = max(left, wait)
    return found, left


def _only_waiting(found: list[CheckResult]) -> bool:
    """Whether every failed record check is a soak that has started and only needs time."""
    failed = [c for c in found if not c.ok]
    return bool(failed) and all(c.check == "soak" and c.waiting for c in failed)


def _run_approvals(options: dict[str, Any]) -> list[RunApproval]:
    from deploy_actions.github import GitHubClient

    run_id = str(options["run_id"] or os.environ.get("GITHUB_RUN_ID", ""))
    if not run_id.isdigit():
        raise InputError("run-id", run_id, "the workflow run whose approvals count (default: $GITHUB_RUN_ID)")
    repository = options["github_repository"] or os.environ.get("GITHUB_REPOSITORY", "")
    client = GitHubClient(repository, options["github_token"] or options["token"])
    try:
        return client.run_approvals(int(run_id))
    finally:
        client.close()


# --------------------------------------------------------------------------------- inputs


def _release(required: tuple[str, ...], options: dict[str, Any], *, needs_version: bool) -> _Release:
    """Every supporting input the named checks need, or a one-line InputError (exit 2)."""
    names = ", ".join(required) or "the records' checks"
    prefix: str = options["tag_prefix"]
    raw_version: str = options["version"]
    if not needs_version:
        return _Release("", "", None, "", None, None)
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
    return _Release(version, tag, changelog_path, shown, git, image, options["image_tag"] or tag)


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


def _summary(moment: dt.datetime, decision: GateDecision, checklist: list[CheckResult], soak_left: float) -> str:
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
    if soak_left:
        out += [f"**Soak time left: {duration_text(soak_left)}.** A scheduled re-run after that passes this check.",
                ""]
    return "\n".join(out)
