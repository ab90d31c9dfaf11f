"""Fleet-scale writes to one GitOps branch: many writers at once all land (time-bounded retries,
never forced), and the batch form pins many images in one commit.

The hundred writers are real, separate git clients: each has its own clone and runs its own git
processes against the authenticated HTTP server. Their Python side (gitops_bump itself) runs in
threads of this process: a hundred interpreters would spend 30-50 s of CPU just starting on the
two shared cores these tests run on, and the retry loop under test lives in the git traffic, not
in the interpreter. The CLI-as-processes path is covered by test_bump.py's twenty writers.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy_actions import git as gitmod
from deploy_actions.cli import main
from deploy_actions.errors import OperationError
from deploy_actions.git import Git, commit_paths, push_reapplied
from deploy_actions.gitops.bump import GitopsBumpOptions, GitopsBumpResult, gitops_bump
from tests.plugins.git_repos import run_git

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
spec:
  template:
    spec:
      containers:
        - name: {app}
          image: ghcr.io/org/{app}:{tag}
"""


def _gitops(tmp_path: Path, served: Path, name: str, files: dict[str, str]) -> Path:
    """A bare repository `served/name.git` whose main holds `files`, with a reflog of every update."""
    seed = tmp_path / f"seed-{name}"
    run_git(tmp_path, "init", "-q", "-b", "main", str(seed))
    for rel, text in files.items():
        (seed / rel).parent.mkdir(parents=True, exist_ok=True)
        (seed / rel).write_text(text)
    run_git(seed, "add", "-A")
    run_git(seed, "-c", "user.name=seed", "-c", "user.email=seed@x", "commit", "-q", "-m", "seed")
    bare = served / f"{name}.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    run_git(bare, "config", "core.logAllRefUpdates", "always")  # the server's own record of each push
    return bare


def _apps(count: int) -> list[str]:
    return [f"svc{i:03d}" for i in range(count)]


def _assert_linear_and_never_forced(bare: Path, landed: int) -> None:
    """main is the seed plus one commit per landing, without merges, and the server's reflog shows
    each push moving main one commit forward: a forced or rewinding update would leave a reflog
    entry that is not on main's first-parent line."""
    history = run_git(bare, "rev-list", "--first-parent", "main").split()
    assert len(history) == landed + 1
    assert run_git(bare, "rev-list", "--merges", "main") == ""
    updates = run_git(bare, "log", "-g", "--format=%H", "refs/heads/main").split()
    assert updates == history[:landed]


def test_a_hundred_concurrent_writers_all_land_linearly_and_nothing_is_forced(git_http, tmp_path):
    apps = _apps(100)
    bare = _gitops(tmp_path, git_http.root, "fleet",
                   {f"apps/{a}/deployment.yaml": DEPLOYMENT.format(app=a, tag="v1.0.0") for a in apps})
    url = git_http.url("fleet.git")

    def writer(app: str) -> GitopsBumpResult:
        return gitops_bump(GitopsBumpOptions(
            repository=url, token=git_http.token, image=f"ghcr.io/org/{app}", tag="v1.0.1", path="apps/{app}",
            environment="production", verify_image=False, source_commit="a" * 40,
            run_url=f"https://github.com/org/{app}/actions/runs/1"))  # the default push-timeout

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(apps)) as pool:
        results = list(pool.map(writer, apps))
    elapsed = time.monotonic() - started

    assert all(r.changed and r.commit_sha and r.pushes >= 1 for r in results)
    _assert_linear_and_never_forced(bare, len(apps))
    for app in apps:
        assert f"ghcr.io/org/{app}:v1.0.1" in run_git(bare, "show", f"main:apps/{app}/deployment.yaml")
    # every re-apply re-read the shared record file: one line per writer, none lost
    records = [json.loads(line) for line in run_git(bare, "show", "main:deployments/production.jsonl").splitlines()]
    assert sorted(r["app"] for r in records) == apps and {r["version"] for r in records} == {"v1.0.1"}
    landed_shas = set(run_git(bare, "rev-list", "main").split())
    assert {r.commit_sha for r in results} <= landed_shas
    pushes = sorted(r.pushes for r in results)
    print(f"100 writers landed in {elapsed:.0f}s; pushes per writer: mean {sum(pushes) / len(pushes):.1f}, "
          f"max {pushes[-1]}")


def _clone(git_http, tmp_path: Path, name: str) -> Git:
    return Git.clone(git_http.url("loop.git"), tmp_path / name, branch="main", token=git_http.token)


def _edit_and_commit(git: Git, rel: str, text: str) -> None:
    (git.root / rel).parent.mkdir(parents=True, exist_ok=True)
    (git.root / rel).write_text(text)
    commit_paths(git, [rel], f"edit {rel}", user_name="t", user_email="t@x")


def test_a_branch_that_moves_before_every_push_is_retried_until_the_timeout_not_a_count(git_http, tmp_path):
    bare = _gitops(tmp_path, git_http.root, "loop", {"README.md": "# gitops\n"})
    ours, theirs = _clone(git_http, tmp_path, "ours"), _clone(git_http, tmp_path, "theirs")
    tries = 0

    def attempt() -> tuple[int, bool]:
        nonlocal tries
        tries += 1
        _edit_and_commit(theirs, f"theirs/{tries}.txt", "x")  # another pipeline lands first, every time
        theirs.run("push", "-q", "origin", "HEAD:refs/heads/main", authenticated=True)
        _edit_and_commit(ours, "ours.txt", f"try {tries}\n")
        return tries, True

    started = time.monotonic()
    with pytest.raises(OperationError, match=r"main kept moving: \d+ push\(es\) in \d+s, none landed"):
        push_reapplied(ours, "main", attempt, timeout=3.0)
    elapsed = time.monotonic() - started
    assert tries >= 3  # retried (the old loop counted to 10 and ignored the clock)
    assert elapsed < 3.0 + 10  # the deadline, plus the one try that started before it
    assert "ours.txt" not in run_git(bare, "ls-tree", "-r", "--name-only", "main")  # nothing of ours landed
    assert ours.out("status", "--porcelain") == ""  # and our commit was dropped, not left behind:
    run_git(bare, "merge-base", "--is-ancestor", ours.head(), "main")  # HEAD is a tip we fetched


def test_a_branch_that_stops_moving_takes_the_change_reapplied_on_its_new_tip(git_http, tmp_path, monkeypatch):
    bare = _gitops(tmp_path, git_http.root, "loop", {"README.md": "# gitops\n"})
    ours, theirs = _clone(git_http, tmp_path, "ours"), _clone(git_http, tmp_path, "theirs")
    windows: list[tuple[float, float]] = []
    real_uniform = random.uniform

    def spy(low: float, high: float) -> float:
        windows.append((low, high))
        return real_uniform(low, high)

    monkeypatch.setattr(gitmod.random, "uniform", spy)
    tries = 0

    def attempt() -> tuple[str, bool]:
        nonlocal tries
        tries += 1
        if tries <= 3:
            _edit_and_commit(theirs, f"theirs/{tries}.txt", "x")
            theirs.run("push", "-q", "origin", "HEAD:refs/heads/main", authenticated=True)
        seen = sorted(p.name for p in (ours.root / "theirs").glob("*.txt")) if (ours.root / "theirs").is_dir() else []
        _edit_and_commit(ours, "ours.txt", "ours\n")
        return ",".join(seen), True

    landed = push_reapplied(ours, "main", attempt, timeout=60.0)

    assert landed.pushes == 4 and landed.value == "1.txt,2.txt,3.txt"  # the last try saw every earlier landing
    assert [low for low, _ in windows] == [0, 0, 0]  # full jitter: any wait from none to the window
    _assert_linear_and_never_forced(bare, 4)
    assert run_git(bare, "show", "main:ours.txt") == "ours"


def test_the_backoff_window_doubles_from_one_try_and_is_capped():
    slot = 0.4
    windows = [gitmod.backoff_window(slot, pushes) for pushes in range(1, 12)]
    assert windows[:4] == [0.4, 0.8, 1.6, 3.2]
    assert max(windows) == gitmod.BACKOFF_CAP and windows == sorted(windows)
    assert gitmod.backoff_window(0.0, 1) > 0  # a try too fast to measure still spreads the writers


@pytest.mark.parametrize("value", ["7h", "1e20", "inf"])
@pytest.mark.parametrize("command", [
    ["gitops-bump", "--image", "ghcr.io/org/a", "--tag", "v1.0.0", "--mode", "none", "--path"],
    ["deployment", "--event", "opened", "--app", "a", "--environment", "dev", "--version", "v1", "--record"],
], ids=["gitops-bump", "deployment"])
def test_a_push_timeout_beyond_the_maximum_is_bad_input(tmp_path, capsys, value, command):
    code = main([*command, str(tmp_path / "x.jsonl"), "--push-timeout", value])
    err = capsys.readouterr().err
    assert code == 2 and "input 'push-timeout'" in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


# -- the batch form --------------------------------------------------------------------------------


def test_a_300_app_batch_is_one_commit_with_one_record_line_per_app(git_http, tmp_path, capsys, monkeypatch):
    apps = _apps(300)
    bare = _gitops(tmp_path, git_http.root, "batch",
                   {f"apps/{a}/deployment.yaml": DEPLOYMENT.format(app=a, tag="v1.0.0") for a in apps})
    before = run_git(bare, "rev-parse", "main")
    monkeypatch.setenv("GITHUB_TOKEN", git_http.token)
    images = "\n".join(f"ghcr.io/org/{a}:v1.{i % 7}.1" for i, a in enumerate(apps))
    code = main(["gitops-bump", "--json", "--verify-image", "false", "--repository", git_http.url("batch.git"),
                 "--images", images, "--path", "apps/{app}", "--environment", "production",
                 "--source-commit", "b" * 40])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = json.loads(captured.out)

    assert run_git(bare, "rev-parse", "main~1") == before  # exactly one new commit
    assert out["commit-sha"] == run_git(bare, "rev-parse", "main") and out["pushes"] == 1
    changed = run_git(bare, "show", "--name-only", "--format=", "main").split()
    assert sorted(changed) == sorted([f"apps/{a}/deployment.yaml" for a in apps] + ["deployments/production.jsonl"])
    assert sorted(out["files"]) == sorted(changed)
    for i, a in enumerate(apps):
        assert f"ghcr.io/org/{a}:v1.{i % 7}.1" in run_git(bare, "show", f"main:apps/{a}/deployment.yaml")
    records = [json.loads(line) for line in run_git(bare, "show", "main:deployments/production.jsonl").splitlines()]
    assert [r["app"] for r in records] == apps
    assert [r["version"] for r in records] == [f"v1.{i % 7}.1" for i in range(300)]
    assert all(r["previous_version"] == "v1.0.0" and r["source_commit"] == "b" * 40 for r in records)
    message = run_git(bare, "log", "-1", "--format=%B", "main")
    assert message.startswith("chore: Bump 300 apps\n\n- svc000: v1.0.0 → ghcr.io/org/svc000:v1.0.1\n")
    assert f"Source-Commit: {'b' * 40}" in message
    assert [row["app"] for row in out["apps"]] == apps and all(row["changed"] for row in out["apps"])
    # the same batch again changes nothing
    assert main(["gitops-bump", "--json", "--verify-image", "false", "--repository", git_http.url("batch.git"),
                 "--images", images, "--path", "apps/{app}", "--environment", "production"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False
    assert run_git(bare, "rev-parse", "main~1") == before


SHARED_KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
  - name: ghcr.io/org/api
    newTag: v1.0.0  # api
  - name: ghcr.io/org/web
    newTag: v2.0.0  # web
"""


def _checkout(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "checkout"
    run_git(tmp_path, "init", "-q", "-b", "main", str(root))
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    run_git(root, "add", "-A")
    run_git(root, "-c", "user.name=seed", "-c", "user.email=seed@x", "commit", "-q", "-m", "seed")
    return root


def test_a_yaml_batch_edits_two_apps_pinned_in_one_file(tmp_path, capsys):
    root = _checkout(tmp_path, {"overlays/production/kustomization.yaml": SHARED_KUSTOMIZATION,
                                "apps/worker/deployment.yaml": DEPLOYMENT.format(app="worker", tag="v0.1.0")})
    images = """\
- {app: api, image: ghcr.io/org/api, tag: v1.1.0, path: overlays/production}
- app: web
  image: ghcr.io/org/web
  tag: v2.1.0
  path: overlays/production
- ghcr.io/org/worker:v0.2.0 apps/worker
"""
    code = main(["gitops-bump", "--json", "--verify-image", "false", "--path", str(root), "--images", images,
                 "--environment", "production", "--mode", "commit"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (root / "overlays/production/kustomization.yaml").read_text() == SHARED_KUSTOMIZATION.replace(
        "v1.0.0  # api", "v1.1.0  # api").replace("v2.0.0  # web", "v2.1.0  # web")
    assert "ghcr.io/org/worker:v0.2.0" in (root / "apps/worker/deployment.yaml").read_text()
    assert run_git(root, "rev-list", "--count", "HEAD") == "2" and run_git(root, "status", "--porcelain") == ""
    records = [json.loads(x) for x in (root / "deployments/production.jsonl").read_text().splitlines()]
    assert [(r["app"], r["previous_version"], r["version"]) for r in records] == [
        ("api", "v1.0.0", "v1.1.0"), ("web", "v2.0.0", "v2.1.0"), ("worker", "v0.1.0", "v0.2.0")]


BAD_BATCHES = {
    "no tag": ("ghcr.io/org/api:v1.1.0\nghcr.io/org/web", "entry 2, line 2"),
    "a digest": ("ghcr.io/org/api:v1.1.0@sha256:" + "a" * 64, "without a digest"),
    "a mutable tag": ("ghcr.io/org/api:v1.1.0\nghcr.io/org/web:latest", "entry 2"),
    "an app twice": ("ghcr.io/org/api:v1.1.0\nghcr.io/other/api:v1.2.0", "each app once"),
    "three fields": ("ghcr.io/org/api:v1.1.0 overlays/production extra", "at most a path"),
    "a path out of the repository": ("ghcr.io/org/api:v1.1.0 ../elsewhere", "without '..'"),
    "a number for a tag": ("- {image: ghcr.io/org/api, tag: 1.10}", "in quotes"),
    "an unknown key": ("- {image: ghcr.io/org/api, tag: v1.1.0, namespace: x}", "only the keys"),
    "a key twice": ("- image: ghcr.io/org/api\n  tag: v1.1.0\n  tag: v1.2.0", "YAML list"),
    "not a list": ("- [a, b]", "a mapping of app, image, tag, path"),
    "an image the path does not pin": ("ghcr.io/org/api:v1.1.0 overlays/production\nghcr.io/org/worker:v0.2.0 "
                                       "overlays/production", "entry 2, line 2"),
    "a downgrade after a good entry": ("ghcr.io/org/api:v1.1.0 overlays/production\n"
                                       "ghcr.io/org/web:v1.0.0 overlays/production", "rollback"),
    "nothing": ("# only a comment\n", "at least one"),
}


@pytest.mark.parametrize("name", list(BAD_BATCHES))
def test_a_bad_batch_entry_is_one_line_exit_2_and_nothing_is_written(tmp_path, capsys, name):
    images, expected = BAD_BATCHES[name]
    files = {"overlays/production/kustomization.yaml": SHARED_KUSTOMIZATION,
             "apps/worker/deployment.yaml": DEPLOYMENT.format(app="worker", tag="v0.1.0")}
    root = _checkout(tmp_path, files)
    head = run_git(root, "rev-parse", "HEAD")
    code = main(["gitops-bump", "--verify-image", "false", "--path", str(root), "--images", images,
                 "--environment", "production", "--mode", "commit"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "input 'images'" in err and expected in err, err
    assert "Traceback" not in err
    assert run_git(root, "rev-parse", "HEAD") == head and run_git(root, "status", "--porcelain") == ""
    assert {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts} == \
        set(files)


def test_a_batch_from_a_file_and_the_inputs_it_excludes(tmp_path, capsys):
    root = _checkout(tmp_path, {"apps/worker/deployment.yaml": DEPLOYMENT.format(app="worker", tag="v0.1.0")})
    listing = tmp_path / "images.txt"
    listing.write_text("ghcr.io/org/worker:v0.2.0  # from the matrix's artifacts\n")
    base = ["gitops-bump", "--verify-image", "false", "--path", str(root / "apps/{app}"), "--record", ""]
    excluded = {"images-file": ["--images", "ghcr.io/org/worker:v0.3.0"], "tag": ["--tag", "v1.0.0"],
                "rollback": ["--rollback", "--reason", "bad"], "mode": ["--mode", "pull-request"]}
    for name, extra in excluded.items():
        assert main([*base, "--images-file", str(listing), *extra]) == 2
        err = capsys.readouterr().err
        assert f"input '{name}'" in err and len(err.strip().splitlines()) == 1, err
    for missing in (tmp_path / "absent.txt", tmp_path / ("x" * 300), tmp_path):
        assert main([*base, "--mode", "none", "--images-file", str(missing)]) == 2
        err = capsys.readouterr().err
        assert "input 'images-file'" in err and len(err.strip().splitlines()) == 1, err
    assert run_git(root, "status", "--porcelain") == ""
    assert main([*base, "--mode", "none", "--images-file", str(listing)]) == 0, capsys.readouterr().err
    assert "ghcr.io/org/worker:v0.2.0" in (root / "apps/worker/deployment.yaml").read_text()


# -- the README's fleet workflow -------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def _readme_fleet_workflow() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- fleet-workflow -->", 1)[1].split("```yaml\n", 1)[1]
    return block.split("```", 1)[0]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; it is in the test extra (pip install -e '.[test]')", pytrace=False)
    return found


def test_the_readme_fleet_workflow_is_clean_for_actionlint_and_zizmor(tmp_path):
    path = tmp_path / ".github" / "workflows" / "release-fleet.yml"
    path.parent.mkdir(parents=True)
    path.write_text(_readme_fleet_workflow(), encoding="utf-8")
    for argv in ([_tool("actionlint"), "-no-color", str(path)],
                 [_tool("zizmor"), "--offline", "--no-progress", "--format", "plain", str(path)]):
        proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=False, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_readme_fleet_workflow_shards_past_the_matrix_limit_and_bumps_every_app_once(tmp_path):
    import yaml

    workflow = yaml.safe_load(_readme_fleet_workflow())
    (tmp_path / "fleet").mkdir()
    apps = [f"app-{i:04d}" for i in range(1000)]
    (tmp_path / "fleet/apps.txt").write_text("# the fleet\n" + "\n".join(apps) + "\n\n")
    shard_step = next(s for s in workflow["jobs"]["plan"]["steps"] if s.get("id") == "shard")
    output = tmp_path / "output"
    subprocess.run(["bash", "-e", "-c", shard_step["run"]], cwd=tmp_path, check=True, timeout=60,
                   env={**os.environ, **shard_step["env"], "GITHUB_OUTPUT": str(output)})
    shards = json.loads(output.read_text().removeprefix("shards="))
    assert len(shards) <= 256 and [a for shard in shards for a in shard] == apps  # each app in one job

    bump_script = workflow["jobs"]["bump"]["steps"][1]["run"]
    subprocess.run(["bash", "-e", "-c", bump_script], cwd=tmp_path, check=True, timeout=60,
                   env={**os.environ, "TAG": "v1.4.2", "RUNNER_TEMP": str(tmp_path)})
    from deploy_actions.gitops import batch

    entries = batch.parse(*reversed(batch.read("", str(tmp_path / "images.txt"))))
    assert [(e.app, e.image.short(), e.tag) for e in entries] == [(a, f"ghcr.io/org/{a}", "v1.4.2") for a in apps]


def test_a_full_local_checkout_stays_full_when_its_push_is_reapplied(git_repo, tmp_path, capsys):
    git_repo.commit("apps", {"apps/api/deployment.yaml": DEPLOYMENT.format(app="api", tag="v1.0.0")})
    git_repo.push()
    other = tmp_path / "other"
    run_git(tmp_path, "clone", "-q", str(git_repo.remote), str(other))
    (other / "NOTES.md").write_text("another pipeline was first\n")
    run_git(other, "add", "-A")
    run_git(other, "-c", "user.name=o", "-c", "user.email=o@x", "commit", "-q", "-m", "first")
    run_git(other, "push", "-q", "origin", "HEAD:main")  # the checkout is now behind its origin

    code = main(["gitops-bump", "--json", "--verify-image", "false", "--path", str(git_repo.path / "apps/{app}"),
                 "--image", "ghcr.io/org/api", "--tag", "v1.0.1", "--environment", "dev"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["pushes"] == 2
    assert git_repo.git("rev-parse", "--is-shallow-repository") == "false"
    assert git_repo.remote_git("rev-parse", "main~1") == run_git(other, "rev-parse", "HEAD")
    assert int(git_repo.git("rev-list", "--count", "HEAD")) == 4  # the whole history is still there


@settings(max_examples=200, deadline=None)
@given(st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(["ghcr.io/org/a:v1", "ghcr.io/org/b:v1 apps/b", "- ", "- {", "app: x", "tag: 1.0",
                              "  image: ghcr.io/org/c", "#", "- [1, 2]", "- {image: nginx, tag: 1.25}", "\t",
                              "ghcr.io/org/a:v1@sha256:" + "0" * 64, "../x", "- !!python/object:os.system x",
                              "&a [*a]", "- *a"]), max_size=12).map("\n".join)))
def test_any_batch_text_is_entries_or_one_line_naming_the_input(text):
    from deploy_actions.errors import InputError
    from deploy_actions.gitops import batch

    try:
        entries = batch.parse(text, "images")
    except InputError as err:
        assert err.name == "images" and "\n" not in str(err)
    else:
        assert entries and len({e.app for e in entries}) == len(entries)
        assert all(e.tag and e.image.tag is None for e in entries)


def test_a_push_the_server_fails_in_passing_is_retried(git_http, tmp_path):
    bare = _gitops(tmp_path, git_http.root, "busy", {"apps/api/deployment.yaml": DEPLOYMENT.format(app="api",
                                                                                                  tag="v1.0.0")})
    git_http.fail_pushes = 2
    result = gitops_bump(GitopsBumpOptions(repository=git_http.url("busy.git"), token=git_http.token,
                                           image="ghcr.io/org/api", tag="v1.0.1", path="apps/api",
                                           verify_image=False))
    assert result.changed and result.pushes == 3 and git_http.fail_pushes == 0
    _assert_linear_and_never_forced(bare, 1)


def test_a_batch_leaves_an_app_at_its_tag_alone_and_names_a_lone_change_as_a_single_bump(tmp_path, capsys):
    root = _checkout(tmp_path, {f"apps/{a}/deployment.yaml": DEPLOYMENT.format(app=a, tag="v1.0.0")
                                for a in ("api", "web", "worker")})
    base = ["gitops-bump", "--json", "--verify-image", "false", "--path", str(root / "apps/{app}"),
            "--environment", "staging", "--mode", "commit", "--batch-message", "deploy({environment}): {count} apps"]
    assert main([*base, "--images", "ghcr.io/org/api:v1.0.0\nghcr.io/org/web:v1.1.0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(row["app"], row["changed"]) for row in out["apps"]] == [("api", False), ("web", True)]
    assert run_git(root, "log", "-1", "--format=%s") == "chore: Bump web to v1.1.0"
    assert main([*base, "--images", "ghcr.io/org/api:v1.1.0\nghcr.io/org/web:v1.1.0\nghcr.io/org/worker:v1.1.0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["changed"] and sorted(out["files"]) == ["apps/api/deployment.yaml", "apps/worker/deployment.yaml",
                                                       "deployments/staging.jsonl"]
    assert run_git(root, "log", "-1", "--format=%s") == "deploy(staging): 2 apps"
    records = [json.loads(x)["app"] for x in (root / "deployments/staging.jsonl").read_text().splitlines()]
    assert records == ["web", "api", "worker"]
