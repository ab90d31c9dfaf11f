"""End to end: a caller workflow uses `org/deploy-actions/smoke-test@v1` exactly as users write it,
run by act against a real local service that is still rolling out."""

from __future__ import annotations

import pytest

from tests.plugins.act import Act
from tests.plugins.git_repos import GitRepo
from tests.plugins.http_services import Phase, Reply

pytestmark = pytest.mark.e2e

TOKEN = "smoke-e2e-token-5f1c9a"

WORKFLOW = """\
name: verify
on: push
permissions: {}
jobs:
  smoke:
    runs-on: ubuntu-latest
    steps:
      - id: smoke
        uses: org/deploy-actions/smoke-test@v1
        with:
          url: ${{ env.SMOKE_URL }}
          headers: "Authorization: Bearer ${{ secrets.SMOKE_TOKEN }}"
          expect-version: v1.2.3
          expect-json: $.status = ok
          consecutive-successes: 2
          max-backoff: 200ms
          timeout: 2m
          junit: smoke-junit.xml
      - id: stale
        continue-on-error: true
        uses: org/deploy-actions/smoke-test@v1
        with:
          url: ${{ env.SMOKE_URL }}
          expect-version: 9.9.9
          timeout: 2s
      - name: Record the outputs
        if: always()
        env:
          OUT_PASSED: ${{ steps.smoke.outputs.passed }}
          OUT_TOTAL: ${{ steps.smoke.outputs.total }}
          OUT_FAILED: ${{ steps.smoke.outputs.failed }}
          OUT_OK: ${{ steps.smoke.outputs.ok }}
          OUT_VERSION: ${{ steps.smoke.outputs.version }}
          OUT_REPORT: ${{ steps.smoke.outputs.report }}
          OUT_STALE_OUTCOME: ${{ steps.stale.outcome }}
          OUT_STALE_FAILED: ${{ steps.stale.outputs.failed }}
        run: |
          python3 - >> "$DA_TEST_RESULTS" <<'PY'
          import json, os
          record = {k[4:].lower(): v for k, v in os.environ.items() if k.startswith("OUT_")}
          record["junit"] = "<testsuites" in open("smoke-junit.xml").read()
          print(json.dumps(record))
          PY
"""


def test_caller_workflow_waits_for_the_rollout_and_reports(act: Act, git_repo: GitRepo, http_service) -> None:
    service = http_service({"/health": [Phase(Reply(503), requests=2),
                                        Phase(Reply(json={"status": "ok", "version": "1.2.2"}), requests=1),
                                        Phase(Reply(json={"status": "ok", "version": "1.2.3"}))]})
    workflow = git_repo.write(".github/workflows/verify.yml", WORKFLOW)
    git_repo.commit("ci: verify deploys")

    run = act.run(workflow, cwd=git_repo.path, env={"SMOKE_URL": service.url("/health")},
                  secrets={"SMOKE_TOKEN": TOKEN})

    assert run.ok, run.report
    out = run.records()[-1]
    assert (out["passed"], out["total"], out["failed"], out["ok"], out["version"]) == ("1", "1", "0", "true",
                                                                                     "1.2.3"), run.report
    assert out["report"].endswith(".json") and out["junit"] is True
    assert (out["stale_outcome"], out["stale_failed"]) == ("failure", "1"), run.report
    assert "running 1.2.3, expected 9.9.9" in run.log
    assert TOKEN not in run.log
    authorised = [s for s in service.requests_to("/health") if s.headers.get("Authorization") == f"Bearer {TOKEN}"]
    assert len(authorised) == 5  # 503, 503, old version, then the new one twice in a row
