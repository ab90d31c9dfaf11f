"""`make demo`: the release half of the flow on a throwaway repository, told as a story.

Everything happens under .work/demo: a bare "GitHub" remote and a working clone. The demo
drives the same `deploy-actions` command the actions run.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".work" / "demo"
CLI = [sys.executable, "-m", "deploy_actions"]


def say(text: str) -> None:
    print(f"\n\033[1m▶ {text}\033[0m", flush=True)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def deploy_actions(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    print("  $ deploy-actions " + " ".join(args), flush=True)
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, check=False)
    for line in proc.stderr.strip().splitlines():
        print(f"    {line}")
    if check and proc.returncode != 0:
        raise SystemExit(f"demo step failed with exit status {proc.returncode}")
    return proc


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    remote, app = WORK / "app.git", WORK / "app"
    say("A code repository: app, with a bare remote standing in for GitHub")
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "clone", "-q", str(remote), str(app)], check=True, capture_output=True)
    git(app, "config", "user.name", "Demo Dev")
    git(app, "config", "user.email", "dev@example.com")
    (app / "pyproject.toml").write_text('[project]\nname = "app"\n# the release tooling rewrites only the next line\n'
                                        "version = '1.2.0'\n")
    (app / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [Unreleased]\n\n## [1.2.0] - 2026-10-01\n\n### Changes\n\n- First public release\n\n"
        "### Rollback Plan\n\nRedeploy 1.1.0.\n"
    )
    git(app, "add", "-A")
    git(app, "commit", "-q", "-m", "feat: first public release")
    git(app, "tag", "-a", "v1.2.0", "-m", "v1.2.0")
    for message in ("feat(api): add search endpoint", "fix: escape the search query",
                    "docs: explain search", "perf(db): index the search column"):
        (app / "notes.txt").write_text(message)
        git(app, "add", "-A")
        git(app, "commit", "-qm", message)
    git(app, "push", "-q", "--follow-tags", "origin", "main")
    print("  " + git(app, "log", "--oneline", "v1.2.0..HEAD").replace("\n", "\n  "))

    say("What would the next release be? (a dry run changes nothing)")
    out = json.loads(deploy_actions("version-bump", "--repo", str(app), "--dry-run", "--json").stdout)
    print(f"  next version {out['version']} ({out['bump']} bump from {out['previous-version']})")

    say("Release it: rewrite pyproject.toml, prepend the changelog, commit, tag, push")
    out = json.loads(deploy_actions("version-bump", "--repo", str(app), "--version-files", "pyproject.toml",
                                    "--changelog", "update", "--push", "--json").stdout)
    print("  the release commit changes exactly this:")
    print("    " + git(app, "show", "--format=", "--unified=0", "HEAD", "--", "pyproject.toml")
          .replace("\n", "\n    "))
    print(f"  the remote now has tag {git(remote, 'tag', '--list', 'v1.3*')} "
          f"on {git(remote, 'rev-parse', '--short', 'v1.3.0^{commit}')}")

    say("changelog-check extracts the release notes for 1.3.0")
    check = deploy_actions("changelog-check", "--file", str(app / "CHANGELOG.md"), "--version", "1.3.0", "--json")
    entry = json.loads(check.stdout)
    print(f"  status {entry['status']}, dated {entry['date']}; notes:")
    print("    " + entry["notes"].replace("\n", "\n    "))

    say("Run the release again on the released commit: nothing happens")
    out = json.loads(deploy_actions("version-bump", "--repo", str(app), "--json").stdout)
    print(f"  released: {str(out['released']).lower()}, version stays {out['version']}")

    say("Bad input is one clear line and exit status 2, and nothing is touched")
    bad = deploy_actions("version-bump", "--repo", str(app), "--bump", "huge", check=False)
    print(f"  exit status {bad.returncode}")

    gitops = gitops_leg(app)
    verify_leg(gitops)
    say(f"Done. Look around in {WORK.relative_to(ROOT)}. (No cluster here: small local services stand in for "
        "what Flux or Argo CD would run from the GitOps repository.)")
    return 0


def serve(version: str, error_rate: float) -> str:
    """A stand-in for a deployed service: /health answers {"status": "ok", "version": …}, with errors."""
    rng = random.Random(version)  # noqa: S311 -- simulated traffic, not cryptography

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            time.sleep(rng.lognormvariate(-3.5, 0.3))  # about 30 ms, like a real handler
            status = 500 if rng.random() < error_rate else 200
            body = json.dumps({"status": "ok" if status == 200 else "error", "version": version}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/health"


def verify_leg(gitops: Path) -> None:
    stable = serve("1.2.0", 0.0)
    good = serve("1.3.0", 0.0)
    say("smoke-test: is staging healthy, and does it run the version just shipped?")
    out = json.loads(deploy_actions("smoke-test", "--url", good, "--expect-version", "1.3.0", "--timeout", "30s",
                                    "--json").stdout)
    print(f"  {out['passed']}/{out['total']} checks passed; the service reports {out['version']}")
    wrong = deploy_actions("smoke-test", "--url", stable, "--expect-version", "1.3.0", "--timeout", "3s",
                           check=False)
    print(f"  against a service still on 1.2.0: exit status {wrong.returncode}")

    canary = ["canary-monitor", "--provider", "probe", "--baseline-url", stable, "--rate", "20", "--interval", "2s",
              "--duration", "40s", "--min-duration", "15s", "--min-requests", "200", "--json"]
    say("canary-monitor: v1.3.0 as a canary next to v1.2.0, judged from our own probes")
    out = json.loads(deploy_actions(*canary, "--canary-url", good).stdout)
    print(f"  decision: {out['decision']} — {out['reason']}")

    bad = serve("1.4.0", 0.25)
    say("A bad release, v1.4.0, answers 25 % errors: the canary is rolled back as a forward commit")
    out = json.loads(deploy_actions(*canary, "--canary-url", bad).stdout)
    print(f"  decision: {out['decision']} — {out['reason']}")
    if out["decision"] == "rollback":
        common = ["gitops-bump", "--path", str(gitops / "apps/{app}/overlays/{environment}"), "--image",
                  "ghcr.io/org/app", "--mode", "commit", "--verify-image", "false", "--environment", "staging"]
        deploy_actions(*common, "--tag", "v1.4.0")
        deploy_actions(*common, "--tag", "v1.3.0", "--rollback", "--reason", out["reason"][:120])
        print("  " + git(gitops, "log", "--format=%h %s", "-2").replace("\n", "\n  "))


GITOPS_KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
images:
  - name: ghcr.io/org/app
    newTag: v1.2.0 # {"$imagepolicy": "flux-system:app:tag"}
"""


def gitops_leg(app: Path) -> Path:
    gitops = WORK / "gitops"
    say("A GitOps repository pins ghcr.io/org/app per environment")
    subprocess.run(["git", "init", "-q", "-b", "main", str(gitops)], check=True)
    git(gitops, "config", "user.name", "Demo Dev")
    git(gitops, "config", "user.email", "dev@example.com")
    for env in ("staging", "production"):
        path = gitops / "apps/app/overlays" / env / "kustomization.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(GITOPS_KUSTOMIZATION)
    base = gitops / "apps/app/base/deployment.yaml"
    base.parent.mkdir(parents=True)
    base.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n"
                    "    spec:\n      containers:\n        - name: app\n          image: ghcr.io/org/app:v1.2.0\n"
                    "          imagePullPolicy: Always\n")
    git(gitops, "add", "-A")
    git(gitops, "commit", "-qm", "seed")
    source = git(app, "rev-parse", "HEAD")
    common = ["gitops-bump", "--path", str(gitops / "apps/{app}/overlays/{environment}"), "--image",
              "ghcr.io/org/app", "--mode", "commit", "--verify-image", "false", "--json"]
    print("  (the registry check is off here: this demo has no registry; the tests run a real one)")

    say("Deploy v1.3.0 to staging: one commit that changes the tag and appends a deployment record")
    out = json.loads(deploy_actions(*common, "--tag", "v1.3.0", "--environment", "staging",
                                    "--source-repository", "org/app", "--source-commit", source).stdout)
    print(f"  {out['previous-tag']} → {out['tag']} in {', '.join(out['files'])}")
    print("    " + git(gitops, "show", "--format=%B", "--unified=0", "HEAD", "--",
                       "apps/app/overlays/staging/kustomization.yaml").replace("\n", "\n    "))

    say("Promote what staging runs to production")
    out = json.loads(deploy_actions(*common, "--promote-from", "staging", "--environment", "production").stdout)
    print(f"  production: {out['previous-tag']} → {out['tag']}")

    say("Mutable tags are refused before anything is touched")
    bad = deploy_actions(*common, "--tag", "latest", "--environment", "production", check=False)
    print(f"  exit status {bad.returncode}")

    say("Going back needs rollback and a reason, and is a forward commit")
    deploy_actions(*common, "--tag", "v1.2.0", "--environment", "production", check=False)
    out = json.loads(deploy_actions(*common, "--tag", "v1.2.0", "--environment", "production", "--rollback",
                                    "--reason", "p95 latency +80% on the canary").stdout)
    print("  " + git(gitops, "log", "--format=%h %s", "-3").replace("\n", "\n  "))

    say("Lint the GitOps repository for the runbook's anti-patterns")
    lint = deploy_actions("gitops-bump", "--path", str(gitops), "--lint", check=False)
    print(f"  exit status {lint.returncode} (warnings do not fail; errors would)")
    return gitops


if __name__ == "__main__":
    raise SystemExit(main())
