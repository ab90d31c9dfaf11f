"""Release pull-request mode: propose the release as one pull request, release once it lands.

The release branch is built in a temporary worktree, so the caller's checkout is never
touched. It belongs to the bot: it is rewritten from the current HEAD on every run, pushed
with a lease (never a blind force), and the one pull request is updated, never duplicated.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from deploy_actions.errors import FileError, InputError
from deploy_actions.git import Git
from deploy_actions.release import version_bump as vb


def _landed(git: Git, opts: vb.VersionBumpOptions, result: vb.VersionBumpResult, *, monorepo: bool) -> bool:
    """Whether HEAD already holds the release, i.e. the release pull request was merged."""
    if opts.version_files:
        from deploy_actions.release.version_files import plan_version_files

        try:
            plan_version_files(git.root, opts.version_files, result.version, result.version)
        except FileError:
            return False
        return True
    if opts.changelog == "update":
        from deploy_actions.release.changelog import parse_changelog

        path = git.root / opts.changelog_file
        if not path.is_file():
            return False
        return parse_changelog(path.read_text("utf-8", "replace"), str(path)).entry(result.version) is not None
    first = vb.release_message(opts, [result]).splitlines()[0]
    since = f"{opts.tag_prefix}{result.previous_version}..HEAD" if result.previous_version else "HEAD"
    if monorepo:  # the release commit lists each package's message with its tag (vb.release_message)
        return f"- {first} ({result.tag})" in git.out("log", "--format=%B", since).splitlines()
    subjects = git.out("log", "--format=%s", since).splitlines()
    return any(s.startswith(first) for s in subjects)


def _base_branch(git: Git, opts: vb.VersionBumpOptions) -> str:
    base = opts.base_branch or git.current_branch() or os.environ.get("GITHUB_REF_NAME", "")
    if not base or base == opts.release_branch:
        raise InputError("base-branch", base, "the branch the release pull request should target")
    return base


def pull_request_step(git: Git, opts: vb.VersionBumpOptions, plans: list[vb.Plan]) -> list[vb.VersionBumpResult]:
    """Tag and publish the releases whose pull request was merged; propose the others in one
    release pull request (the results of those say released: false and carry its URL)."""
    from deploy_actions.github import GitHubClient

    repository = opts.github_repository or os.environ.get("GITHUB_REPOSITORY", "")
    if not repository:
        raise InputError("github-repository", "", "owner/name (or $GITHUB_REPOSITORY) in pull-request mode")
    if not opts.token:
        raise InputError("token", "", "a GitHub token in pull-request mode")
    merged = [_landed(git, plan.opts, plan.result, monorepo=bool(opts.packages)) for plan in plans]
    landed = [plan for plan, done in zip(plans, merged, strict=True) if done]
    pending = [plan for plan, done in zip(plans, merged, strict=True) if not done]
    # The release pull request was merged: tag what landed and publish it.
    released = vb.release(git, opts, landed, write_files=False) if landed else []
    if not pending:
        return released

    base = _base_branch(git, opts)
    results = [plan.result for plan in pending]
    workdir = Path(tempfile.mkdtemp(prefix="deploy-actions-release-"))
    tree = workdir / "tree"
    git.run("worktree", "add", "--quiet", "--detach", str(tree), "HEAD")
    try:
        branch_git = Git(tree, token=opts.token)
        edits = vb.plan_all_files(branch_git, pending)
        sha = vb.commit_release(branch_git, opts, vb.release_message(opts, results), edits)
        ref = f"refs/heads/{opts.release_branch}"
        remote_head = git.run("ls-remote", "--heads", opts.remote, ref, authenticated=True).stdout.split()
        expected = remote_head[0] if remote_head else ""
        branch_git.run("push", "--quiet", f"--force-with-lease={ref}:{expected}", opts.remote,
                       f"{sha}:{ref}", authenticated=True)
    finally:
        git.run("worktree", "remove", "--force", str(tree), check=False)
        shutil.rmtree(workdir, ignore_errors=True)

    title, body = _describe(results)
    url, created = GitHubClient(repository, opts.token).open_or_update_pull_request(
        opts.release_branch, base, title, body)
    verb = "opened" if created else "updated"
    return [*released, *(replace(result, released=False, commit_sha=sha, pull_request_url=url,
                                 notes=(*result.notes, f"{verb} release pull request {url}"))
                         for result in results)]


def _describe(results: list[vb.VersionBumpResult]) -> tuple[str, str]:
    """The pull request's title and body: the release, or every package's release in turn."""
    merge = "Merge it to tag and publish the release"
    if len(results) == 1:
        (result,) = results
        return (f"chore: release {result.tag}",
                f"This pull request releases **{result.tag}** "
                f"(a {result.bump} bump from {result.previous_version or 'nothing'}). "
                f"{merge}.\n\n{result.release_notes}")
    tags = ", ".join(r.tag for r in results)
    title = f"chore: release {tags}" if len(tags) <= 200 else f"chore: release {len(results)} packages"
    listed = "\n".join(f"- **{r.tag}** (a {r.bump} bump from {r.previous_version or 'nothing'})" for r in results)
    sections = "\n\n".join(f"## {r.tag}\n\n{r.release_notes or '_No notes._'}" for r in results)
    return title, f"This pull request releases {len(results)} packages:\n\n{listed}\n\n{merge}s.\n\n{sections}"
