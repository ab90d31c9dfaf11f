"""The one-walk shortcut and the exact route must always agree (or the shortcut must step aside)."""

from __future__ import annotations

import random

import pytest

from deploy_actions.git import Git
from deploy_actions.release import history
from deploy_actions.release.commits import CommitPolicy


def exact(git: Git, prefix: str = "v") -> tuple:
    releases = history.release_tags(git, prefix)
    last = releases.last_release
    changes = history.changes_since(git, last.name if last else None, [], CommitPolicy())
    return releases, changes.level, sorted(c.sha for c in changes.changes)


def shortcut(git: Git, prefix: str = "v") -> tuple | None:
    found = history._single_walk(git, prefix, CommitPolicy())
    if found is None:
        return None
    return found.releases, found.changes.level, sorted(c.sha for c in found.changes.changes)


@pytest.mark.parametrize("seed", range(6))
def test_shortcut_agrees_with_the_exact_route_on_random_histories(git_repo, seed):
    rng = random.Random(seed)
    version = [0, 1, 0]
    for step in range(25):
        kind = rng.choice(["feat", "fix", "docs", "chore", "perf"])
        if rng.random() < 0.2:
            git_repo.git("checkout", "-q", "-b", f"topic{step}")
            git_repo.commit(f"{kind}: on a branch {step}")
            git_repo.git("checkout", "-q", "main")
            git_repo.commit(f"fix: on main {step}")
            git_repo.git("merge", "-q", "--no-ff", "-m", f"Merge topic{step}", f"topic{step}")
        else:
            git_repo.commit(f"{kind}: change {step}")
        if rng.random() < 0.25:
            version[2] += 1
            suffix = "-rc.1" if rng.random() < 0.3 else ""
            git_repo.tag(f"v{version[0]}.{version[1]}.{version[2]}{suffix}")
        if rng.random() < 0.1:  # a higher tag on an unmerged branch
            git_repo.git("checkout", "-q", "-b", f"side{step}")
            git_repo.commit("feat: side")
            git_repo.tag(f"v9.{step}.0")
            git_repo.git("checkout", "-q", "main")
    git = Git.open(git_repo.path)
    fast = shortcut(git)
    if fast is not None:
        assert fast == exact(git)


def test_linear_history_takes_the_shortcut(git_repo):
    git_repo.tag("v1.0.0")
    git_repo.commit("feat: a")
    git_repo.tag("v1.1.0-rc.1")
    git_repo.commit("fix: b")
    git = Git.open(git_repo.path)
    fast = shortcut(git)
    assert fast is not None and fast == exact(git)


def test_a_merge_in_the_range_steps_aside(git_repo):
    git_repo.tag("v1.0.0")
    git_repo.git("checkout", "-q", "-b", "topic")
    git_repo.commit("feat: a")
    git_repo.git("checkout", "-q", "main")
    git_repo.git("merge", "-q", "--no-ff", "-m", "merge", "topic")
    assert shortcut(Git.open(git_repo.path)) is None
