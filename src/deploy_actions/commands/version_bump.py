"""`deploy-actions version-bump`: the next semantic version from Conventional Commits."""

from __future__ import annotations

from typing import Any

from deploy_actions.commands.spec import CommandSpec, Option, Output, convert
from deploy_actions.git.identity import BOT_EMAIL, BOT_NAME
from deploy_actions.outcome import Outcome
from deploy_actions.release.packages import PACKAGE_SETTINGS

SPEC = CommandSpec(
    name="version-bump",
    description="Compute the next semantic version from Conventional Commits, rewrite version "
                "files, commit, tag and (optionally) push and publish a GitHub release.",
    run="deploy_actions.commands.version_bump:run",
    configurable=True,
    options=(
        Option("repo", "Path of the git repository (the working tree) to release.", ".", kind="path"),
        Option("tag-prefix", "Prefix of release tags; only tags with it that are valid semver count.", "v",
               kind="tag-prefix"),
        Option("bump", "Which part to bump; auto reads the commits.", "auto", kind="choice",
               choices=("auto", "major", "minor", "patch", "prerelease")),
        Option("prerelease-id", "Make a prerelease with this identifier, e.g. rc gives 1.3.0-rc.1.", ""),
        Option("prerelease-branches", "Prerelease channels per branch, one `branch: channel` per line "
               "(the branch may be a glob), e.g. `next: rc` or `beta/*: beta`; prerelease-id wins.", "",
               kind="lines"),
        Option("major-on-zero", "Whether a breaking change bumps 0.x to 1.0.0 (false: to the next minor).",
               "true", kind="bool"),
        Option("commit-types", "Extra or changed type → level rules, one `type: level` per line "
               "(level: major, minor, patch or none), e.g. `docs: patch`.", "", kind="lines"),
        Option("squash-bodies", "Which `* type: subject` bullets of a commit body count as changes: "
               "auto (only under a header that is not a Conventional Commit, e.g. GitHub's squash "
               "title `Title (#12)`), always, or never. Quoted text and bots' release notes never count.",
               "auto", kind="choice", choices=("auto", "always", "never")),
        Option("changelog-sections", "Headings of the release notes, one `type: Heading` per line in "
               "the order wanted, e.g. `fix: Bug Fixes`; `type: hidden` leaves a type out, `*: Heading` "
               "places every other type. Types the lines leave out keep the default sections.", "",
               kind="lines"),
        Option("commit-overrides", "Read a `BEGIN_COMMIT_OVERRIDE` … `END_COMMIT_OVERRIDE` block from "
               "the merged pull request of each squash commit `Title (#12)` and count its messages "
               "instead (one API call per pull request; needs the token).", "false", kind="bool"),
        Option("release-as", "Release exactly this version (as a `Release-As: x.y.z` commit footer "
               "does), when it is above the last release and not tagged yet.", ""),
        Option("paths", "Only count commits touching these paths (one package of a monorepo per run), one "
               "per line.", "", kind="lines"),
        Option("packages", "A monorepo's packages, released each on its own in one run (release-please's "
               "manifest): YAML mapping each folder to its settings, e.g. `packages/api: {component: api, "
               "version-files: [pyproject.toml]}` (tags `api-v1.2.3`; files relative to the folder; own "
               "settings: " + ", ".join(PACKAGE_SETTINGS) + "). A file belongs to the deepest package holding it.",
               "", kind="yaml"),
        Option("linked-versions", "Groups of package components that always release together at the highest "
               "next version of any of them, one `group: component, component` per line (release-please's "
               "linked-versions).", "", kind="lines"),
        Option("version-files", "Files whose version to rewrite, one per line: pyproject.toml, "
               "package.json, Chart.yaml, VERSION, *.app.src, mix.exs, Cargo.toml, or PATH:REGEX "
               "with one capture group.", "", kind="lines"),
        Option("version-source", "Where the current version comes from when no release tag exists "
               "yet: tags (none: the first release is 0.1.0 or so), or version-files (the first "
               "listed file's version, as commitizen's version_provider).", "tags",
               kind="choice", choices=("tags", "version-files")),
        Option("changelog", "none, or update to prepend a Keep a Changelog section.", "none",
               kind="choice", choices=("none", "update")),
        Option("changelog-file", "The changelog to update (reStructuredText when it ends in .rst).",
               "CHANGELOG.md", kind="path"),
        Option("commit-message", "Message of the release commit; {version}, {tag} and "
               "{previous_version} are replaced.", "chore: Bump version to {version}"),
        Option("tag", "Create an annotated tag for the release.", "true", kind="bool"),
        Option("floating-tags", "Also move `vX` and `vX.Y` to the release (the GitHub Actions "
               "convention), when it is the newest of that line; pushed with a lease.", "false",
               kind="bool"),
        Option("push", "Push the release commit and tag (never with force).", "false", kind="bool"),
        Option("remote", "The git remote to push to.", "origin", kind="ref"),
        Option("mode", "commit: commit and tag on the current branch; pull-request: commit on "
               "release-branch and open or update one release pull request.", "commit",
               kind="choice", choices=("commit", "pull-request")),
        Option("release-branch", "Branch the release pull request is made from.", "release/next", kind="ref"),
        Option("base-branch", "Branch the release pull request targets (default: the current branch).", "",
               kind="ref"),
        Option("github-release", "Create a GitHub release whose body is the release notes.", "false",
               kind="bool"),
        Option("github-repository", "owner/name on GitHub (default: $GITHUB_REPOSITORY).", "",
               action_default="${{ github.repository }}"),
        Option("token", "GitHub token for pushes, releases and pull requests (CLI: $GITHUB_TOKEN).", "",
               secret=True, action_default="${{ github.token }}", env_fallback="GITHUB_TOKEN"),
        Option("git-user-name", "Author of the release commit.", BOT_NAME, kind="line"),
        Option("git-user-email", "E-mail of the release commit's author.", BOT_EMAIL, kind="line"),
        Option("dry-run", "Compute and report, change nothing.", "false", kind="bool"),
    ),
    outputs=(
        Output("version", "The new version (empty when nothing is released)."),
        Output("previous-version", "The version of the newest release tag, empty if none."),
        Output("tag", "The new tag, e.g. v1.3.0."),
        Output("bump", "The level applied: major, minor, patch, prerelease or none."),
        Output("released", "true when a new version was (or, in a dry run, would be) released."),
        Output("is-prerelease", "true when the new version is a prerelease."),
        Output("release-notes", "Markdown release notes grouped by kind of change."),
        Output("commit-sha", "The release commit (or the tagged commit)."),
        Output("pull-request-url", "The release pull request, in pull-request mode."),
        Output("floating-tags", "The floating tags moved to the release, e.g. `v1 v1.3` (space-separated)."),
        Output("packages", "JSON list of the packages released (or proposed in the release pull request), "
               "each with component, path, previous-version, version, tag, bump, is-prerelease, release-notes "
               "and released. With packages, tag lists every new tag (space-separated), bump is the highest, "
               "release-notes has a section per tag, and version and previous-version are empty."),
        Output("released-count", "How many packages were (or, in a dry run, would be) released: 0 or 1 "
               "without packages."),
    ),
)


def run(options: dict[str, Any]) -> Outcome:
    from deploy_actions.release import packages
    from deploy_actions.release.version_bump import VersionBumpOptions, version_bump

    options = {**options, "packages": packages.parse(options["packages"], _package_setting)
               if options["packages"].strip() else ()}
    result = version_bump(VersionBumpOptions(**options))
    return result.outcome()


def _package_setting(name: str, value: object) -> Any:
    """One package's own setting, read as the input of the same name would be."""
    from deploy_actions.config import input_text
    from deploy_actions.errors import InputError

    option = next(o for o in SPEC.options if o.name == name)
    text = input_text(option, value)
    if text is None:
        raise InputError(name, value, "a list of text lines" if option.kind == "lines" else "a single value")
    return convert(option, text)
