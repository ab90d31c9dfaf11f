"""GitHub Deployments as a mirror of the records: one deployment per (sha, environment, version),
and a status for each lifecycle event. The records stay the source of truth; the mirror only
shows them where people look (the environment's page, the pull request, the commit).
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy_actions.records.lifecycle import FAILED_CAUSES

PRODUCTION_NAMES = ("production", "prod", "prd", "live")


@dataclass(frozen=True)
class MirrorRequest:
    """What one event asks of GitHub, in GitHub's words."""

    github_repository: str
    token: str
    sha: str
    environment: str
    app: str
    version: str
    image: str
    event: str  # opened, shelved, resumed, concluded
    cause: str = ""
    reason: str = ""
    environment_url: str = ""
    log_url: str = ""
    known_id: int | None = None


def status_for(event: str, cause: str) -> str:
    """The deployment status an event shows as on GitHub.

    >>> status_for("shelved", "canary-failed"), status_for("shelved", "freeze")
    ('failure', 'queued')
    """
    if event == "shelved":
        return "failure" if cause in FAILED_CAUSES else "queued"
    return {"opened": "in_progress", "resumed": "in_progress", "concluded": "success"}[event]


def description_for(request: MirrorRequest) -> str:
    if request.reason:
        return request.reason
    return {
        "opened": f"{request.app} {request.version} deploying",
        "shelved": f"{request.app} {request.version} paused ({request.cause})",
        "resumed": f"{request.app} {request.version} resumed",
        "concluded": f"{request.app} {request.version} running and smoke-tested",
    }[request.event]


def is_production(environment: str) -> bool:
    return environment.lower() in PRODUCTION_NAMES or environment.lower().startswith("production")


def mirror(request: MirrorRequest) -> int:
    """Bring GitHub in line with the event (idempotent: a rerun writes nothing); the deployment id."""
    from deploy_actions.github import GitHubClient

    client = GitHubClient(request.github_repository, request.token)
    try:
        payload = {"app": request.app, "version": request.version, "image": request.image}
        deployment_id, _ = client.ensure_deployment(
            request.sha, request.environment, payload, f"{request.app} {request.version}",
            known_id=request.known_id, production=is_production(request.environment))
        client.set_deployment_status(deployment_id, status_for(request.event, request.cause),
                                     description_for(request), environment_url=request.environment_url,
                                     log_url=request.log_url)
        return deployment_id
    finally:
        client.close()
