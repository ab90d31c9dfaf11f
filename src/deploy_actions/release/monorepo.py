"""One run over every package of a monorepo (release-please's manifest releaser): each package's
next version from the commits touching its files since its own last tag, linked groups raised to
their highest next version, then one release commit with a tag per package (or one release pull
request covering them all).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from semver import Version

from deploy_actions.errors import InputError
from deploy_actions.files import inside_repo
from deploy_actions.git import Git
from deploy_actions.outcome import Outcome
from deploy_actions.release import version_bump as vb
from deploy_actions.release.next_version import release_as
from deploy_actions.release.packages import LinkedGroup, Package, parse_linked, pathspecs, unique

_BUMP_ORDER = ("none", "prerelease", "patch", "minor", "major")
_SHOWN_IGNORED = 5


@dataclass(frozen=True)
class PackageResult:
    package: Package
    result: vb.VersionBumpResult


@dataclass(frozen=True)
class MonorepoResult:
    """Every package's answer; `released` are those released (or, in a dry run, that would be)."""

    packages: tuple[PackageResult, ...]
    notes: tuple[str, ...]
    dry_run: bool = False

    @property
    def changed(self) -> list[PackageResult]:
        """The packages released, or proposed in the release pull request."""
        return [p for p in self.packages if p.result.released or p.result.pull_request_url]

    @property
    def released(self) -> list[PackageResult]:
        return [p for p in self.packages if p.result.released]

    def outputs(self) -> dict[str, object]:
        changed = [p.result for p in self.changed]
        first = changed[0] if changed else self.packages[0].result if self.packages else None
        return {
            "version": "", "previous-version": "",
            "tag": " ".join(r.tag for r in changed),
            "bump": max((r.bump for r in changed), key=_BUMP_ORDER.index, default="none"),
            "released": bool(self.released),
            "is-prerelease": any(r.is_prerelease for r in changed),
            "release-notes": "\n\n".join(f"## {r.tag}\n\n{r.release_notes}".strip() for r in changed),
            "commit-sha": first.commit_sha if first else "",
            "pull-request-url": first.pull_request_url if first else "",
            "floating-tags": " ".join(name for r in changed for name in r.floating_tags),
            "packages": [{**p.result.package_entry(p.package.component, p.package.path),
                          "released": p.result.released} for p in self.changed],
            "released-count": len(self.released),
        }

    def outcome(self) -> Outcome:
        verb = "would release" if self.dry_run else "released"
        released = [p.result.tag for p in self.released]
        proposed = [p.result.tag for p in self.changed if not p.result.released]
        if released:
            head = f"{verb} {len(released)} of {len(self.packages)} package(s): {' '.join(released)}"
        elif proposed:
            head = f"proposed {len(proposed)} of {len(self.packages)} package(s): {' '.join(proposed)}"
        else:
            head = f"nothing to release in {len(self.packages)} package(s)"
        lines = [*self.notes]
        for entry in self.packages:
            r = entry.result
            if r.released or r.pull_request_url:
                what = f"{r.tag} ({r.bump} bump from {r.previous_version or 'nothing'})"
            else:
                what = f"nothing to release (current: {r.previous_version or 'no release yet'})"
            lines.append(f"{entry.package.name}: {what}")
            lines += [f"  {entry.package.name}: {n}" for n in r.notes]
        summary = f"## version-bump\n\n{head}\n\n" + "\n".join(f"- {line.strip()}" for line in lines) + "\n"
        for entry in self.changed:
            if entry.result.release_notes:
                summary += f"\n### {entry.result.tag}\n\n{entry.result.release_notes}\n"
        return Outcome(outputs=self.outputs(), text="\n".join([head, *lines]), summary=summary)


def package_options(opts: vb.VersionBumpOptions, package: Package) -> vb.VersionBumpOptions:
    """The run's options for one package: its own settings over the run's, its tag prefix, and its
    version files and changelog inside its folder."""
    own = dict(package.settings)
    version_files = own.pop("version_files", opts.version_files)
    changelog_file = own.pop("changelog_file", opts.changelog_file)
    own.pop("tag_prefix", None)
    inside = "" if package.path == "." else package.path + "/"
    return dataclasses.replace(
        opts, **own, packages=(), linked_versions=(), paths=(),
        tag_prefix=package.tag_prefix if package.tag_prefix is not None else opts.tag_prefix,
        version_files=tuple(f"{inside}{e.strip()}" for e in version_files
                            if e.strip() and not e.strip().startswith("#")),
        changelog_file=f"{inside}{changelog_file}")


def release_packages(git: Git, opts: vb.VersionBumpOptions, notes: list[str]) -> MonorepoResult:
    if opts.paths:
        raise InputError("paths", opts.paths[0], "no paths when packages are configured (each package is its folder)")
    groups = parse_linked(opts.linked_versions, opts.packages)
    for package in opts.packages:
        inside_repo(git.root, package.path, f"packages[{package.path}]", package.path)
    # Two packages with one prefix would read each other's tags (the run's prefix counts for a root package).
    unique(opts.packages, "tag-prefix", lambda p: package_options(opts, p).tag_prefix, "a tag prefix of its own")
    _one_owner_per_file(git, opts)
    plans = {package.path: _plan(git, opts, package) for package in opts.packages}
    for group in groups:
        _link(group, opts.packages, plans, notes)
    count, shown = _untouched(git, opts.packages, list(plans.values()))
    if count:
        more = ", …" if count > len(shown) else ""
        notes.append(f"ignored {count} commit(s) that touch no package: {', '.join(shown)}{more}")
    results = {path: plan.result for path, plan in plans.items()}
    due = [plans[p.path] for p in opts.packages if plans[p.path].result.released]
    if due and not opts.dry_run:
        if opts.mode == "pull-request":
            from deploy_actions.release.release_pr import pull_request_step

            done = pull_request_step(git, opts, due)
        else:
            done = vb.release(git, opts, due)
        by_tag = {result.tag: result for result in done}  # the pull request step lists merged ones first
        for path, result in results.items():
            if result.released:
                results[path] = by_tag[result.tag]
    return MonorepoResult(tuple(PackageResult(p, results[p.path]) for p in opts.packages), tuple(notes),
                          opts.dry_run)


def _one_owner_per_file(git: Git, opts: vb.VersionBumpOptions) -> None:
    """Check every package's files before any history is read, and refuse a file two packages would
    rewrite (each would plan its edit from the same original text)."""
    from deploy_actions.release.version_files import files_of

    owner: dict[Path, str] = {}
    for package in opts.packages:
        own = package_options(opts, package)
        with _named(package):
            files = files_of(git.root, own.version_files)
            if own.changelog == "update":
                files.append(inside_repo(git.root, own.changelog_file, "changelog-file"))
        for path in dict.fromkeys(files):
            if path in owner and owner[path] != package.name:
                raise InputError("packages", str(path.relative_to(git.root.resolve())),
                                 f"each file edited by one package only ({owner[path]} and {package.name} "
                                 "both rewrite it)")
            owner[path] = package.name


@contextmanager
def _named(package: Package) -> Iterator[None]:
    """An error in one of the package's own settings names the package and the setting."""
    try:
        yield
    except InputError as err:
        if err.name.replace("-", "_") in dict(package.settings):
            raise InputError(f"packages[{package.path}].{err.name}", err.value, err.expected) from None
        raise


def _plan(git: Git, opts: vb.VersionBumpOptions, package: Package) -> vb.Plan:
    with _named(package):
        return vb.plan_release(git, package_options(opts, package), pathspecs(package, opts.packages), [])


def _link(group: LinkedGroup, packages: Sequence[Package], plans: dict[str, vb.Plan], notes: list[str]) -> None:
    """release-please's linked-versions: when any member releases, every member releases the
    highest next version of the group (a member without changes of its own too)."""
    members = [p for p in packages if p.component in group.components]
    versions = [Version.parse(plans[p.path].result.version) for p in members if plans[p.path].result.released]
    if not versions:
        return
    primary = max(versions)
    for package in members:
        plan = plans[package.path]
        if plan.rerun or (plan.result.released and Version.parse(plan.result.version) == primary):
            continue
        decision, note = release_as(str(primary), f"the linked versions of {group.name}", plan.last_release,
                                    plan.tagged, plan.level)
        if decision is None:
            notes.append(f"{package.name}: {note}")
            continue
        release_notes = plan.result.release_notes if plan.result.released else (
            f"### Miscellaneous Chores\n\n- **{package.name}:** synchronize {group.name} versions")
        result = vb.released_result(plan.opts, decision, plan.result.previous_version, release_notes,
                                    plan.tagged, plan.result.commit_sha, [*plan.result.notes, note])
        plans[package.path] = dataclasses.replace(plan, result=result)


def _untouched(git: Git, packages: Sequence[Package], plans: Sequence[vb.Plan]) -> tuple[int, list[str]]:
    """How many commits since every package's newest tag change no package's file, and the first
    few of them, short and with their subject (release-please skips those too)."""
    bases = []
    for plan in plans:
        if plan.result.previous_version:
            ref = f"refs/tags/{plan.opts.tag_prefix}{plan.result.previous_version}^{{commit}}"
            if git.run("rev-parse", "-q", "--verify", ref, check=False).stdout.strip():
                bases.append(f"^{ref}")
    span = ["--no-merges", "HEAD", *bases]
    every = git.out("rev-list", *span).split()
    touched = set(git.out("rev-list", *span, "--", *[spec for p in packages for spec in pathspecs(p, ())]).split())
    ignored = [sha for sha in every if sha not in touched]
    return len(ignored), [git.out("log", "-1", "--format=%h %s", sha) for sha in ignored[:_SHOWN_IGNORED]]
