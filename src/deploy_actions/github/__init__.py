"""The GitHub API: releases, pull requests, issues, commits and deployments, through PyGithub (REST;
GraphQL for auto-merge).

The only module that talks to GitHub. PyGithub (and `requests` under it) is imported inside
the methods, so commands that never call the API do not pay for loading it.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from deploy_actions import __version__
from deploy_actions.errors import InputError, OperationError

if TYPE_CHECKING:
    from github import Github
    from github.GitRelease import GitRelease
    from github.PullRequest import PullRequest
    from github.Repository import Repository

DEFAULT_API_URL = "https://api.github.com"
TIMEOUT_SECONDS = 15  # per request: connect, then each read
RETRIES = 3  # 5xx answers and dropped connections, with backoff 0 s, 1 s, 2 s
BACKOFF_SECONDS = 0.5
MAX_RATE_LIMIT_WAIT_SECONDS = 120  # longer than that and the job should fail, not hang
PER_PAGE = 100  # GitHub's maximum: fewest round trips when listing
MERGE_METHODS = ("MERGE", "SQUASH", "REBASE")  # GraphQL's PullRequestMergeMethod
# GitHub asks integrators to pace requests to stay clear of secondary rate limits;
# PyGithub's defaults do that.
SECONDS_BETWEEN_REQUESTS = 0.25
SECONDS_BETWEEN_WRITES = 1.0

# GitHub's rules: an owner is 1-39 letters, digits or inner hyphens; a name is up to 100
# letters, digits, '.', '_' or '-' and is not '.' or '..'.
_REPOSITORY = re.compile(
    r"(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?)/(?P<name>(?!\.\.?$)[A-Za-z0-9._-]{1,100})"
)


def parse_repository(repository: str) -> tuple[str, str]:
    """("owner", "name") from "owner/name", or InputError for input `github-repository`.

    >>> parse_repository("org/app")
    ('org', 'app')
    """
    match = _REPOSITORY.fullmatch(repository.strip()) if isinstance(repository, str) else None
    if match is None:
        raise InputError("github-repository", repository, "owner/name")
    return match["owner"], match["name"]


def api_url_from(value: str | None) -> str:
    """The API base URL: `value`, else $GITHUB_API_URL, else https://api.github.com."""
    url = (value or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        # Credentials never ride in the URL: the token goes in the Authorization header.
        shown = parts._replace(netloc=parts.hostname or "").geturl() if parts.username else url
        raise InputError("GITHUB_API_URL", shown, "an http(s) URL without credentials, e.g. https://api.github.com")
    return url


_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?")
_ENVIRONMENT = re.compile(r"[^\x00-\x1f\x7f]{1,255}")


@dataclass(frozen=True)
class RunApproval:
    """One review of a run's pending deployment: who, approved or rejected, which environments."""

    user: str
    state: str  # approved or rejected
    environments: tuple[str, ...]
    comment: str

    @classmethod
    def from_json(cls, item: object) -> RunApproval | None:
        """The review GitHub sent, or None when it is not shaped as the API describes."""
        if not isinstance(item, dict):
            return None
        user, state, comment = item.get("user"), item.get("state"), item.get("comment")
        login = user.get("login") if isinstance(user, dict) else None
        environments = item.get("environments")
        names = [e.get("name") for e in environments if isinstance(e, dict)] if isinstance(environments, list) else []
        if not (isinstance(login, str) and _LOGIN.fullmatch(login) and state in ("approved", "rejected")
                and isinstance(comment, str) and isinstance(environments, list) and len(names) == len(environments)
                and all(isinstance(n, str) and _ENVIRONMENT.fullmatch(n) for n in names)):
            return None
        return cls(login, str(state), tuple(str(n) for n in names), comment)


class GitHubClient:
    """One repository on GitHub (or GitHub Enterprise Server), as seen with one token.

    Every method is idempotent: calling it again with the same arguments changes nothing.
    Every API failure surfaces as an OperationError with a one-line message; the token never
    appears in messages, logs or URLs (it travels only in the Authorization header).
    Masking the token in the Actions log (`actions_runtime.mask`) is the caller's job, done
    where inputs are read.
    """

    def __init__(self, repository: str, token: str, api_url: str | None = None) -> None:
        self.owner, self.name = parse_repository(repository)
        self.repository = f"{self.owner}/{self.name}"
        if not token or not token.strip():
            raise InputError("github-token", "", "a token, e.g. ${{ github.token }}")
        self._token = token.strip()
        self.api_url = api_url_from(api_url)
        self._github: Github | None = None
        self._repo: Repository | None = None

    def __repr__(self) -> str:
        return f"GitHubClient({self.repository!r}, api_url={self.api_url!r})"

    # -- releases ---------------------------------------------------------------------------

    def create_release(
        self,
        tag: str,
        name: str,
        body: str,
        *,
        prerelease: bool = False,
        target_commitish: str | None = None,
    ) -> str:
        """Publish the release for `tag` and return its html_url.

        If the tag already has a release, its name, body and prerelease flag are brought up to
        date instead (no request at all when they already match): never a second release.
        """
        from github import GithubException
        from github.GithubObject import NotSet

        with self._calling(f"creating release {tag}"):
            release = self._release_for_tag(tag)
            if release is None:
                try:
                    created = self._repository.create_git_release(
                        tag,
                        name=name,
                        message=body,
                        prerelease=prerelease,
                        target_commitish=target_commitish if target_commitish else NotSet,
                        # "legacy": GitHub marks it latest only if it is the highest version,
                        # so a hotfix on an old line does not steal "latest".
                        make_latest="false" if prerelease else "legacy",
                    )
                    return str(created.html_url)
                except GithubException as exc:
                    # Someone else created it meanwhile, or our retried POST had landed.
                    if not _is_already_exists(exc):
                        raise
                    release = self._release_for_tag(tag)
                    if release is None:
                        raise
            if (release.name or "", release.body or "", release.prerelease) != (
                name,
                body,
                prerelease,
            ):
                release = release.update_release(name=name, message=body, draft=release.draft, prerelease=prerelease)
            return str(release.html_url)

    def _release_for_tag(self, tag: str) -> GitRelease | None:
        from github import GithubException

        try:
            return self._repository.get_release(tag)
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise

    def append_to_release(self, tag: str, line: str) -> str | None:
        """Add `line` at the end of the notes of `tag`'s release (once: a rerun adds nothing);
        the release's html_url, or None when the tag has no release."""
        with self._calling(f"adding a line to release {tag}"):
            release = self._release_for_tag(tag)
            if release is None:
                return None
            body = release.body or ""
            if line not in body:
                text = f"{body.rstrip()}\n\n{line}\n" if body.strip() else f"{line}\n"
                release = release.update_release(name=release.name or tag, message=text, draft=release.draft,
                                                 prerelease=release.prerelease)
            return str(release.html_url)

    # -- issues -----------------------------------------------------------------------------

    def open_issue(self, title: str, body: str, labels: list[str], *, closed_too: bool = False,
                   update: bool = False) -> tuple[str, int, bool]:
        """The issue titled `title` carrying the first of `labels`: the open one (or, with `closed_too`,
        a closed one as well), else one created with `body` and all of `labels`, so that a rerun opens
        no second one. With `update`, the body of the one found is updated when it differs.
        Returns (html_url, number, created)."""
        names = [label.strip() for label in labels if label.strip()]
        state = "all" if closed_too else "open"
        with self._calling(f"opening issue {_truncate(title, 60)!r}"):
            found = self._repository.get_issues(state=state, labels=names[:1]) if names else \
                self._repository.get_issues(state=state)
            for issue in found:
                # The issues list holds pull requests too; only a real issue with this exact title is ours.
                # (Asking for `pull_request` would cost a GET per issue: PyGithub completes a missing key.)
                if "/pull/" not in str(issue.html_url) and issue.title == title:
                    if update and (issue.body or "") != body:
                        issue.edit(body=body)
                    return str(issue.html_url), int(issue.number), False
            created = self._repository.create_issue(title, body=body, labels=names)
            return str(created.html_url), int(created.number), True

    # -- pull requests ----------------------------------------------------------------------

    def open_or_update_pull_request(self, head: str, base: str, title: str, body: str) -> tuple[str, bool]:
        """Open a pull request from `head` into `base`, or update the one already open.

        `head` is a branch of this repository, or "owner:branch" for a fork. Returns
        (html_url, created). The existing pull request keeps its number, reviews and labels;
        only its title and body change, and only when they differ.
        """
        from github import GithubException

        label = head if ":" in head else f"{self.owner}:{head}"
        with self._calling(f"opening pull request {label} -> {base}"):
            pull = self._open_pull_request(label, base)
            if pull is None:
                try:
                    created = self._repository.create_pull(base=base, head=head, title=title, body=body)
                    return str(created.html_url), True
                except GithubException as exc:
                    if not _is_already_exists(exc):
                        raise
                    pull = self._open_pull_request(label, base)
                    if pull is None:
                        raise
            if pull.title != title or (pull.body or "") != body:
                pull.edit(title=title, body=body)
            return str(pull.html_url), False

    def _open_pull_request(self, label: str, base: str) -> PullRequest | None:
        for pull in self._repository.get_pulls(state="open", head=label, base=base):
            # GitHub ignores a head filter it cannot parse; check rather than trust it.
            if pull.head.label.lower() == label.lower() and pull.base.ref == base:
                return pull
        return None

    def pull_request_files(self, number: int) -> list[str]:
        """Every file the pull request touches, across all pages (GitHub caps it at 3000)."""
        with self._calling(f"listing files of pull request #{number}"):
            pull = self._repository.get_pull(number)
            return [changed.filename for changed in pull.get_files()]

    def pull_request_body(self, number: int) -> str | None:
        """The description of pull request `number` (empty when it has none; None when there
        is no such pull request: `(#12)` in a commit title may name an issue)."""
        from github import UnknownObjectException

        with self._calling(f"reading pull request #{number}"):
            try:
                return self._repository.get_pull(number).body or ""
            except UnknownObjectException:
                return None

    def pull_request_labels(self, number: int) -> list[str]:
        """The names of the labels on the pull request, in GitHub's order."""
        with self._calling(f"listing labels of pull request #{number}"):
            issue = self._repository.get_issue(number)
            return [label.name for label in issue.get_labels()]

    def add_labels(self, number: int, labels: list[str]) -> None:
        """Put `labels` on pull request (or issue) `number`, keeping the labels it has.

        Names compare as GitHub compares them, ignoring case; GitHub creates a label the
        repository does not have yet. Labels already there are fine: when all of them are,
        nothing is written.
        """
        wanted: dict[str, str] = {}
        for label in labels:
            name = label.strip() if isinstance(label, str) else ""
            if not name:
                raise InputError("labels", label, "label names, none of them empty")
            wanted.setdefault(name.casefold(), name)
        if not wanted:
            return
        with self._calling(f"adding labels to pull request #{number}"):
            issue = self._repository.get_issue(number)
            present = {label.name.casefold() for label in issue.get_labels()}
            missing = [name for key, name in wanted.items() if key not in present]
            if missing:
                # Adding is additive on GitHub: a label someone added meanwhile is kept, not doubled.
                issue.add_to_labels(*missing)

    def enable_auto_merge(self, number: int, merge_method: str = "SQUASH") -> None:
        """Have GitHub merge pull request `number` with `merge_method` once its requirements pass.

        `merge_method` is MERGE, SQUASH or REBASE (any case). Nothing is written when auto-merge
        is already on with that method. Goes through GraphQL (`enablePullRequestAutoMerge`):
        REST has no way to do it. The repository must allow auto-merge (a setting, off by
        default); when it does not, the error says how to turn it on.
        """
        method = merge_method.strip().upper() if isinstance(merge_method, str) else ""
        if method not in MERGE_METHODS:
            raise InputError("merge-method", merge_method, "merge, squash or rebase")
        with self._calling(f"enabling auto-merge on pull request #{number}"):
            pull = self._repository.get_pull(number)
            current = pull.auto_merge  # this GET also brings the node id the mutation needs
            if isinstance(current, dict) and str(current.get("merge_method", "")).upper() == method:
                return
            pull.enable_automerge(merge_method=method)

    # -- commits ----------------------------------------------------------------------------

    def commit_time(self, sha: str) -> datetime.datetime | None:
        """When `sha` was committed (the committer's date, as GitHub reports it), or None if GitHub
        does not say."""
        with self._calling(f"reading commit {sha[:12]}"):
            commit = self._repository.get_commit(sha)
            moment: Any = commit.commit.committer.date if commit.commit.committer is not None else None
        if not isinstance(moment, datetime.datetime):
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)

    # -- deployments ------------------------------------------------------------------------

    def ensure_deployment(self, sha: str, environment: str, payload: dict[str, Any], description: str, *,
                          known_id: int | None = None, production: bool = False) -> tuple[int, bool]:
        """The GitHub deployment of `sha` to `environment` for `payload["version"]`: the one already
        there (`known_id`, else the newest listed for sha and environment with that version), or a
        new one (task deploy, no auto-merge, no required contexts). Returns (id, created)."""
        with self._calling(f"creating the deployment of {sha[:12]} to {environment}"):
            found = self._find_deployment(sha, environment, str(payload.get("version", "")), known_id)
            if found is not None:
                return found, False
            created = self._repository.create_deployment(
                ref=sha, task="deploy", auto_merge=False, required_contexts=[], payload=payload,
                environment=environment, description=_truncate(description),
                transient_environment=False, production_environment=production,
            )
            return int(created.id), True

    def _find_deployment(self, sha: str, environment: str, version: str, known_id: int | None) -> int | None:
        from github import GithubException

        if known_id:
            try:
                known = self._repository.get_deployment(known_id)
                if known.sha == sha and known.environment == environment:
                    return int(known.id)
            except GithubException as exc:
                if exc.status != 404:
                    raise
        for deployment in self._repository.get_deployments(sha=sha, environment=environment, task="deploy"):
            payload = deployment.payload if isinstance(deployment.payload, dict) else {}
            if not version or str(payload.get("version", "")) == version:
                return int(deployment.id)  # GitHub lists the newest first
        return None

    def set_deployment_status(self, deployment_id: int, state: str, description: str, *,
                              environment_url: str = "", log_url: str = "") -> bool:
        """Give deployment `deployment_id` the status `state` (pending, queued, in_progress, success,
        failure, error, inactive), unless its latest status already says exactly that. True if written."""
        text = _truncate(description)
        with self._calling(f"setting the status of deployment {deployment_id} to {state}"):
            statuses = self.deployment_statuses(deployment_id)
            if statuses and (statuses[0]["state"], statuses[0]["description"]) == (state, text):
                return False
            body: dict[str, Any] = {"state": state, "description": text}
            if log_url:
                body["log_url"] = body["target_url"] = log_url
            if environment_url:
                body["environment_url"] = environment_url
            # PyGithub's create_status has no log_url; its requester is the documented way past that.
            self._client.requester.requestJsonAndCheck(
                "POST", f"/repos/{self.repository}/deployments/{deployment_id}/statuses", input=body)
            return True

    def deployment_statuses(self, deployment_id: int) -> list[dict[str, str]]:
        """The statuses of a deployment, newest first, as {"state", "description"}."""
        with self._calling(f"listing the statuses of deployment {deployment_id}"):
            deployment = self._repository.get_deployment(deployment_id)
            return [{"state": str(status.state), "description": str(status.description or "")}
                    for status in deployment.get_statuses()]

    # -- environment approvals --------------------------------------------------------------

    def run_approvals(self, run_id: int) -> list[RunApproval]:
        """Who reviewed the pending deployments of workflow run `run_id` (environment protection
        rules), oldest first; each answer checked before it is believed."""
        with self._calling(f"reading the approvals of run {run_id}"):
            _, data = self._client.requester.requestJsonAndCheck(
                "GET", f"/repos/{self.repository}/actions/runs/{run_id}/approvals")
        if not isinstance(data, list):
            raise OperationError(f"GitHub API: the approvals of run {run_id} in {self.repository} are not a list")
        found = []
        for item in reversed(data):  # GitHub lists the newest first
            approval = RunApproval.from_json(item)
            if approval is None:
                raise OperationError(f"GitHub API: an approval of run {run_id} in {self.repository} is not "
                                     "{user.login, state, environments[].name, comment}")
            found.append(approval)
        return found

    # -- repository -------------------------------------------------------------------------

    def default_branch(self) -> str:
        """The repository's default branch, e.g. "main"."""
        with self._calling("reading the repository"):
            return str(self._repository.default_branch)

    def close(self) -> None:
        """Release the HTTP connections; the client opens new ones if used again."""
        if self._github is not None:
            self._github.close()
        self._github = None
        self._repo = None

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def _repository(self) -> Repository:
        if self._repo is None:
            from github import Auth, Github, GithubRetry
            from urllib3.util.retry import Retry

            retry = GithubRetry(
                total=RETRIES,
                backoff_factor=BACKOFF_SECONDS,
                max_rate_limit_wait=MAX_RATE_LIMIT_WAIT_SECONDS,
                # Every write here is safe to repeat: creates fall back to update on 422,
                # adding labels is additive, and enabling auto-merge sets a state, once.
                allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"GET", "POST", "PATCH"},
                # When retries run out, hand back GitHub's last answer (status + message)
                # rather than urllib3's "too many 502 error responses".
                raise_on_status=False,
            )
            self._github = Github(
                auth=Auth.Token(self._token),
                base_url=self.api_url,
                timeout=TIMEOUT_SECONDS,
                user_agent=f"deploy-actions/{__version__}",
                per_page=PER_PAGE,
                retry=retry,
                seconds_between_requests=SECONDS_BETWEEN_REQUESTS,
                seconds_between_writes=SECONDS_BETWEEN_WRITES,
                lazy=True,  # no GET for objects we only address (repo, pull, issue)
            )
            self._repo = self._github.get_repo(self.repository)
        return self._repo

    @property
    def _client(self) -> Github:
        self._repository  # noqa: B018 -- builds the client
        assert self._github is not None
        return self._github

    @contextlib.contextmanager
    def _calling(self, doing: str) -> Iterator[None]:
        """Turn whatever PyGithub or the network raises into one readable OperationError."""
        from github import GithubException
        from requests import RequestException

        try:
            yield
        except GithubException as exc:
            message = f"GitHub API: {doing} in {self.repository} failed: {_describe(exc, self.repository)}"
            raise OperationError(self._redact(message)) from exc
        except RequestException as exc:
            message = f"GitHub API: {doing} in {self.repository} failed: cannot reach {self.api_url} ({_reason(exc)})"
            raise OperationError(self._redact(message)) from exc
        except (ValueError, KeyError, TypeError, AttributeError, AssertionError) as exc:
            # PyGithub meets an answer that is not GitHub's JSON (a proxy's HTML login page, a captive
            # portal) with whatever its parsing raises; that is the server's fault, not a bug of ours.
            message = (f"GitHub API: {doing} in {self.repository} failed: {self.api_url} did not answer as "
                       f"GitHub's API does ({type(exc).__name__})")
            raise OperationError(self._redact(message)) from exc

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***")


def _truncate(text: str, limit: int = 140) -> str:
    """GitHub refuses deployment descriptions longer than 140 characters: keep the start, mark the cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(exc: Any, repository: str) -> str:
    """'<status> <GitHub's message>[ (<details>)]' with a hint for the usual suspects."""
    status = exc.status
    data = exc.data
    if _is_graphql_error(data):
        return _describe_graphql(data["errors"], repository)
    message = ""
    details: list[str] = []
    if isinstance(data, dict):
        message = str(data.get("message") or "")
        for error in data.get("errors") or []:
            if isinstance(error, dict):
                text = error.get("message") or " ".join(str(error[key]) for key in ("field", "code") if error.get(key))
                if text:
                    details.append(str(text))
            elif error:
                details.append(str(error))
    elif isinstance(data, (str, bytes)):
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        message = " ".join(text.split())[:200]
    line = f"{status} {message or 'no message'}"
    if details:
        line += f" ({'; '.join(details)})"
    hint = _HINTS.get(status)
    return f"{line}; {hint}" if hint else line


_HINTS = {
    401: "check that the token is valid and not expired",
    403: "check the token's permissions (contents/pull-requests: write) and rate limits",
    404: "it does not exist, or the token cannot see it",
}


def _is_graphql_error(data: Any) -> bool:
    """GraphQL answers 200 with {"data": ..., "errors": [...]}; PyGithub raises it as a 400/404."""
    return (
        isinstance(data, dict)
        and not data.get("message")
        and isinstance(data.get("errors"), list)
        and any(isinstance(error, dict) and error.get("message") for error in data["errors"])
    )


def _describe_graphql(errors: list[Any], repository: str) -> str:
    """'GraphQL: <message>[; <message>...]' with a hint for the usual suspects."""
    messages: list[str] = []
    hints: list[str] = []
    for error in errors:
        if not isinstance(error, dict) or not error.get("message"):
            continue
        text = " ".join(str(error["message"]).split())[:300]
        messages.append(text)
        hint = next((h.format(repository=repository) for needle, h in _GRAPHQL_HINTS if needle in text), None)
        hint = hint or _HINTS.get(_GRAPHQL_STATUS.get(str(error.get("type")), 0))
        if hint and hint not in hints:
            hints.append(hint)
    return "; ".join(["GraphQL: " + "; ".join(messages), *hints])


_GRAPHQL_STATUS = {"NOT_FOUND": 404, "FORBIDDEN": 403}
_GRAPHQL_HINTS = (
    (
        "Auto merge is not allowed for this repository",
        "a repository admin can turn it on: Settings > General > Pull Requests > 'Allow auto-merge'"
        " (or: gh api -X PATCH repos/{repository} -F allow_auto_merge=true)",
    ),
    (
        "is in clean status",
        "GitHub arms auto-merge only while a required check or review is pending, and this pull"
        " request can be merged now; merge it directly, or require status checks on the base branch",
    ),
)


def _is_already_exists(exc: Any) -> bool:
    if exc.status != 422 or not isinstance(exc.data, dict):
        return False
    errors = exc.data.get("errors") or []
    return any(
        isinstance(error, dict)
        and (error.get("code") == "already_exists" or "already exists" in str(error.get("message")))
        for error in errors
    )


def _reason(exc: BaseException) -> str:
    """The innermost cause of a connection failure, e.g. 'Connection refused'."""
    seen: BaseException = exc
    while True:
        inner = getattr(seen, "reason", None) or seen.__cause__ or seen.__context__
        if not isinstance(inner, BaseException) or inner is seen:
            break
        seen = inner
    text = str(seen).split(": ", 1)[-1] if ": " in str(seen) else str(seen)
    return " ".join(text.split())[:200] or type(exc).__name__


__all__ = ["DEFAULT_API_URL", "MERGE_METHODS", "GitHubClient", "api_url_from", "parse_repository"]
