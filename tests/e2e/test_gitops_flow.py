"""The deploy half, end to end: a caller workflow runs under act and uses
`org/deploy-actions/gitops-bump@v1` exactly as users write it, against a GitOps repository served
over authenticated smart HTTP and a real registry; the bare repository is the judge.

What act provides, as observed with act 0.2.89 and relied on below: GITHUB_SERVER_URL is
https://github.com, GITHUB_RUN_ID is "1" on every run unless `--env GITHUB_RUN_ID=…` overrides it,
GITHUB_ACTOR is nektos/act, GITHUB_SHA is the caller's HEAD, and GITHUB_REPOSITORY is parsed from
the caller's `origin` remote (a path remote comes through verbatim, so the caller here has a
GitHub-style origin that is never contacted).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.plugins.act import Act, ActRun
from tests.plugins.git_http import GitHttpServer
from tests.plugins.git_repos import run_git
from tests.plugins.registry import Registry

pytestmark = pytest.mark.e2e

CALLER_REPOSITORY = "org/app"
RUN_URL = "https://github.com/org/app/actions/runs/{run_id}"
OVERLAY = "apps/app/overlays/staging"
RECORD_FILE = "deployments/staging.jsonl"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
        - name: app
          image: {image}:{tag}  # pinned by gitops-bump
          ports:
            - containerPort: 8080
"""

OVERLAY_KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
"""

OUTPUTS = ("changed", "files", "tag", "previous-tag", "digest", "commit-sha", "superseded")

# The outputs reach the script through env:, never as ${{ }} inside run:; the script appends them,
# as one JSON object, to $DA_TEST_RESULTS (set by the harness) and echoes them to the log.
RECORD_STEP = """\
      - name: Report the outputs
        if: always()
        env:
{env}
        run: |
          python3 - >> "$DA_TEST_RESULTS" <<'PY'
          import json, os, sys
          out = {{k[4:].lower(): v for k, v in os.environ.items() if k.startswith("OUT_")}}
          for key, value in sorted(out.items()):
              print(f"{{key}}={{value}}", file=sys.stderr)
          print(json.dumps(out))
          PY
"""


def caller_workflow(inputs: Mapping[str, str]) -> str:
    """A deploy workflow: one gitops-bump step with `inputs`, then the step that reports its outputs.
    Values are written as JSON strings (valid YAML scalars); `${{ … }}` expressions stay bare."""
    with_lines = "\n".join(
        f"          {key}: {value if value.startswith('${{') else json.dumps(value)}"
        for key, value in inputs.items())
    env_lines = "\n".join(
        f"          OUT_{name.upper().replace('-', '_')}: ${{{{ steps.bump.outputs.{name} }}}}" for name in OUTPUTS)
    return (
        "name: deploy\n"
        "on: push\n"
        "permissions:\n"
        "  contents: read\n"
        "jobs:\n"
        "  deploy:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - id: bump\n"
        "        uses: org/deploy-actions/gitops-bump@v1\n"
        "        with:\n"
        f"{with_lines}\n"
        + RECORD_STEP.format(env=env_lines)
    )


@dataclass
class GitOps:
    """The GitOps repository: bare on the HTTP server, the image it deploys, and its registry."""

    bare: Path
    url: str
    token: str
    image: str  # <registry host>/org/app
    server: GitHttpServer

    def git(self, *args: str) -> str:
        return run_git(self.bare, *args)

    def head(self) -> str:
        return self.git("rev-parse", "main")

    def show(self, rev: str, path: str) -> str:
        return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=self.bare, capture_output=True, text=True,
                              check=True).stdout

    def inputs(self, **extra: str) -> dict[str, str]:
        """The caller's `with:` block: this repository, the secret, the image, staging, pinned."""
        return {
            "repository": self.url,
            "token": "${{ secrets.GITOPS_TOKEN }}",
            "image": self.image,
            "path": "apps/{app}/overlays/{environment}",
            "environment": "staging",
            **extra,
        }


@pytest.fixture
def gitops(git_http: GitHttpServer, registry: Registry, tmp_path: Path) -> GitOps:
    """A GitOps repository whose staging and production overlays pin <registry>/org/app at v0.7.2
    and v0.7.1, served over smart HTTP behind token auth."""
    image = f"{registry.host}/org/app"
    seed = tmp_path / "gitops-seed"
    run_git(tmp_path, "init", "-q", "-b", "main", str(seed))
    files = {
        f"{OVERLAY}/kustomization.yaml": OVERLAY_KUSTOMIZATION,
        f"{OVERLAY}/deployment.yaml": DEPLOYMENT.format(image=image, tag="v0.7.2"),
        "apps/app/overlays/production/kustomization.yaml": OVERLAY_KUSTOMIZATION,
        "apps/app/overlays/production/deployment.yaml": DEPLOYMENT.format(image=image, tag="v0.7.1"),
        "README.md": "# gitops\n",
    }
    for rel, text in files.items():
        (seed / rel).parent.mkdir(parents=True, exist_ok=True)
        (seed / rel).write_text(text)
    run_git(seed, "add", "-A")
    run_git(seed, "-c", "user.name=seed", "-c", "user.email=seed@example.com", "commit", "-q", "-m", "seed")
    bare = git_http.root / "gitops.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    return GitOps(bare=bare, url=git_http.url("gitops.git"), token=git_http.token, image=image, server=git_http)


def caller_repository(tmp_path: Path, workflow: str) -> tuple[Path, Path, str]:
    """The code repository whose workflow deploys: (its path, the workflow file, its HEAD).
    Its origin is GitHub-style so that act derives GITHUB_REPOSITORY=org/app from it."""
    repo = tmp_path / "caller"
    run_git(tmp_path, "init", "-q", "-b", "main", str(repo))
    run_git(repo, "remote", "add", "origin", f"https://github.com/{CALLER_REPOSITORY}.git")
    workflow_file = repo / ".github" / "workflows" / "deploy.yml"
    workflow_file.parent.mkdir(parents=True)
    workflow_file.write_text(workflow)
    run_git(repo, "add", "-A")
    run_git(repo, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "-c", "commit.gpgsign=false",
            "commit", "-q", "-m", "ci: deploy to staging")
    return repo, workflow_file, run_git(repo, "rev-parse", "HEAD")


def deploy(act: Act, gitops: GitOps, tmp_path: Path, inputs: Mapping[str, str],
           env: Mapping[str, str] | None = None) -> tuple[ActRun, str]:
    """Run the caller's deploy workflow once; returns the run and the caller's commit."""
    repo, workflow, sha = caller_repository(tmp_path, caller_workflow(inputs))
    run = act.run(workflow, cwd=repo, env=env, secrets={"GITOPS_TOKEN": gitops.token})
    return run, sha


def trailers(message: str) -> dict[str, str]:
    """The trailer block (the last paragraph) of a commit message."""
    block = message.strip().split("\n\n")[-1]
    found: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(": ")
        assert sep and key not in found, f"not a trailer block: {block!r}"
        found[key] = value
    return found


def changed_lines(gitops: GitOps, before: str, after: str, path: str) -> tuple[list[str], list[str]]:
    """(removed, added) lines of `path` between two commits."""
    diff = gitops.git("diff", "--unified=0", before, after, "--", path)
    removed = [ln[1:] for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    added = [ln[1:] for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    return removed, added


def assert_token_never_shown(run: ActRun, gitops: GitOps) -> None:
    assert gitops.token not in run.log, run.report
    assert not any(gitops.token in line for line in gitops.server.requests), "the token travelled in a URL"
    assert gitops.token not in gitops.git("log", "--all", "--format=%B"), "the token reached a commit message"


def assert_one_forward_commit(gitops: GitOps, before: str, run: ActRun, *, incident: bool = False) -> str:
    """One commit on top of `before`: the manifest and the record (and, for a rollback, its incident
    record)."""
    head = gitops.head()
    assert head != before, f"main did not move\n{run.report}"
    assert gitops.git("rev-parse", f"{head}^") == before, "exactly one commit, on top of the old tip"
    assert gitops.git("rev-list", "--merges", f"{before}..{head}") == ""
    changed = gitops.git("diff", "--name-only", before, head).split()
    incidents = [name for name in changed if name.startswith("incidents/") and name.endswith("-app.md")]
    assert len(incidents) == (1 if incident else 0), changed
    assert [name for name in changed if name not in incidents] == [f"{OVERLAY}/deployment.yaml", RECORD_FILE]
    return head


def test_bump_pins_the_pushed_tag_and_digest_in_one_commit(act: Act, gitops: GitOps, registry: Registry,
                                                          tmp_path: Path) -> None:
    pushed = registry.push("org/app", "v0.7.3")
    before = gitops.head()

    run, source_commit = deploy(act, gitops, tmp_path, gitops.inputs(tag="v0.7.3", digest="pin"))

    assert run.ok, run.report
    head = assert_one_forward_commit(gitops, before, run)
    # The manifest: exactly the image line, to tag@digest; production untouched.
    removed, added = changed_lines(gitops, before, head, f"{OVERLAY}/deployment.yaml")
    line = "          image: {}  # pinned by gitops-bump"
    assert removed == [line.format(f"{gitops.image}:v0.7.2")]
    assert added == [line.format(f"{gitops.image}:v0.7.3@{pushed.digest}")]
    # The deployment record: one new line, naming the source and the run.
    assert changed_lines(gitops, before, head, RECORD_FILE)[0] == []
    record_text = gitops.show(head, RECORD_FILE)
    assert record_text.count("\n") == 1
    record = json.loads(record_text)
    assert record["event"] == "bump" and record["status"] == "pending"
    assert (record["environment"], record["app"], record["image"]) == ("staging", "app", gitops.image)
    assert (record["version"], record["previous_version"], record["digest"]) == ("v0.7.3", "v0.7.2", pushed.digest)
    assert record["gitops_base_commit"] == before
    assert record["source_repository"] == CALLER_REPOSITORY and record["source_commit"] == source_commit
    assert record["actor"] == "nektos/act"
    assert record["run_url"] == RUN_URL.format(run_id=1)
    # The commit: message, author and trailers.
    message = gitops.git("log", "-1", "--format=%B", head)
    assert message.splitlines()[0] == "chore: Bump app to v0.7.3"
    assert trailers(message) == {
        "Source-Repository": CALLER_REPOSITORY,
        "Source-Commit": source_commit,
        "Workflow-Run": RUN_URL.format(run_id=1),  # act's GITHUB_RUN_ID is always 1 unless overridden
        "Previous-Tag": "v0.7.2",
    }
    assert gitops.git("log", "-1", "--format=%an <%ae>", head) == \
        "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"
    # The outputs, as the next step of the caller's job sees them.
    out = run.record()
    assert out["changed"] == "true"
    assert json.loads(out["files"]) == [f"{OVERLAY}/deployment.yaml", RECORD_FILE]
    assert (out["tag"], out["previous_tag"]) == ("v0.7.3", "v0.7.2")
    assert out["digest"] == pushed.digest
    assert out["commit_sha"] == head
    assert out["superseded"] == "false"
    assert f"commit_sha={head}" in run.log, run.report
    assert_token_never_shown(run, gitops)


def test_rollback_is_a_forward_commit_with_its_reason(act: Act, gitops: GitOps, registry: Registry,
                                                     tmp_path: Path) -> None:
    pushed = registry.push("org/app", "v0.7.1")
    before = gitops.head()
    # Shell syntax in the reason must come through as text: it travels by env: and argv, never a script.
    reason = 'p99 latency 5x baseline; "$(touch pwned)" stays text'

    run, source_commit = deploy(act, gitops, tmp_path,
                                gitops.inputs(tag="v0.7.1", digest="pin", rollback="true", reason=reason),
                                env={"GITHUB_RUN_ID": "4242"})

    assert run.ok, run.report
    head = assert_one_forward_commit(gitops, before, run, incident=True)
    assert gitops.git("rev-list", "--count", "main") == "2", "history kept, nothing rewritten"
    removed, added = changed_lines(gitops, before, head, f"{OVERLAY}/deployment.yaml")
    assert len(removed) == len(added) == 1
    assert added[0].strip().startswith(f"image: {gitops.image}:v0.7.1@{pushed.digest}")
    message = gitops.git("log", "-1", "--format=%B", head)
    assert message.splitlines()[0] == f"fix: Rollback app to v0.7.1 due to {reason}"
    assert trailers(message) == {
        "Source-Repository": CALLER_REPOSITORY,
        "Source-Commit": source_commit,
        "Workflow-Run": RUN_URL.format(run_id=4242),  # --env GITHUB_RUN_ID reaches the action
        "Previous-Tag": "v0.7.2",
        "Rollback-Reason": reason,
    }
    record = json.loads(gitops.show(head, RECORD_FILE))
    assert (record["event"], record["reason"], record["version"]) == ("rollback", reason, "v0.7.1")
    out = run.record()
    assert (out["changed"], out["tag"], out["previous_tag"]) == ("true", "v0.7.1", "v0.7.2")
    assert out["commit_sha"] == head
    assert_token_never_shown(run, gitops)


def test_mutable_tag_fails_the_step_with_one_error_and_changes_nothing(act: Act, gitops: GitOps,
                                                                      tmp_path: Path) -> None:
    before = gitops.head()

    # Without digest: pin: a digest would make even `latest` one immutable build, and be allowed.
    run, _ = deploy(act, gitops, tmp_path, gitops.inputs(tag="latest"))

    assert run.returncode != 0, run.report
    # Host mode reports a failed step as "exit status N" (containers: "exitcode 'N': failure"), once
    # for the composite's script step and once for the action; both must carry the CLI's 2.
    assert re.findall(r"\] exit status (\d+)$", run.log, re.MULTILINE) == ["2", "2"], run.report
    errors = [line for line in run.log.splitlines() if "::error" in line]
    assert len(errors) == 1, run.report
    assert "input 'tag'" in errors[0] and "'latest'" in errors[0], run.report
    assert "Traceback" not in run.log, run.report
    assert gitops.head() == before
    assert gitops.server.requests == [], "the tag policy is checked before anything is cloned"
    out = run.record()
    assert out["changed"] == "" and out["commit_sha"] == ""
    assert_token_never_shown(run, gitops)
