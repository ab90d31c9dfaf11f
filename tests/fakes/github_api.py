"""A local GitHub API for tests, held to GitHub's own OpenAPI description and GraphQL schema.

`GitHubAPIFake` serves the endpoints `deploy_actions.github` uses (repository, releases,
pull requests, their files and labels, issues, commits, deployments and their statuses, a run's
environment approvals; GraphQL for auto-merge) from in-memory state that
tests seed and inspect. Every JSON body it sends over REST is first validated against the
response schema that GitHub publishes for that operation and status (npm `@octokit/openapi`):
a body GitHub would never send is answered with a 500 and recorded in `problems`, which the
`github_api` fixture turns into a test failure. `ResponseSchemas` fetches, caches and indexes
that description.

GraphQL (`POST /graphql`) is held to GitHub's GraphQL schema (npm `@octokit/graphql-schema`,
see `GitHubGraphQLSchema`) by graphql-core: every document is parsed and validated against it
(one GitHub would refuse is a problem), then executed against it with resolvers over the
fake's state, so the schema itself shapes and type-checks every answer; a field the fake does
not back, or a value of the wrong type, is a problem too (answered with a 500).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import re
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from graphql import (
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    OperationType,
    assert_valid_schema,
    build_client_schema,
    build_schema,
    default_field_resolver,
    execute_sync,
    get_named_type,
    get_operation_ast,
    introspection_from_schema,
    is_abstract_type,
    is_object_type,
    parse,
    validate,
)
from jsonschema import Draft4Validator, FormatChecker

# -- GitHub's OpenAPI description ------------------------------------------------------------

OPENAPI_PACKAGE = "@octokit/openapi"
# Pinned so that the contract the tests hold us to changes only when we decide it does.
OPENAPI_VERSION = "23.0.2"
OPENAPI_MEMBER = "package/generated/api.github.com.deref.json"
INDEX_FORMAT = 1  # bump when the index layout or the schema conversion changes

# (method, path template) of every operation the fake serves, as spelled in the description.
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("GET", "/repos/{owner}/{repo}"),
    ("GET", "/repos/{owner}/{repo}/releases"),
    ("POST", "/repos/{owner}/{repo}/releases"),
    ("GET", "/repos/{owner}/{repo}/releases/tags/{tag}"),
    ("GET", "/repos/{owner}/{repo}/releases/{release_id}"),
    ("PATCH", "/repos/{owner}/{repo}/releases/{release_id}"),
    ("GET", "/repos/{owner}/{repo}/pulls"),
    ("POST", "/repos/{owner}/{repo}/pulls"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("GET", "/repos/{owner}/{repo}/issues"),
    ("POST", "/repos/{owner}/{repo}/issues"),
    ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}"),
    ("GET", "/repos/{owner}/{repo}/deployments"),
    ("POST", "/repos/{owner}/{repo}/deployments"),
    ("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}"),
    ("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"),
    ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/approvals"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"),
)
# GitHub documents its error body ("Basic Error") on most operations but not for every status
# (401 and 5xx are rarely listed); undocumented error statuses are held to this one.
_ERROR_SCHEMA_SOURCE = ("GET", "/repos/{owner}/{repo}/releases/tags/{tag}", "404")


def repository_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    raise RuntimeError(f"no pyproject.toml above {here}")


def openapi_cache_dir() -> Path:
    return repository_root() / ".work" / "octokit-openapi"


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """One process at a time (pytest-xdist workers start together and share the cache)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True)
class NpmFile:
    """One file of one pinned npm package version, fetched once with `npm pack` into a cache
    laid out as <cache_dir>/<version>/<file name> (written atomically, under <cache_dir>/.lock).
    """

    package: str
    version: str
    member: str  # path inside the package tarball
    what: str  # for messages: what the file is and what the fake does with it

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]

    def target(self, cache_dir: Path) -> Path:
        return cache_dir / self.version / self.filename

    def fetch(self, cache_dir: Path) -> Path:
        """The cached file's path, fetching it first if no process has yet."""
        target = self.target(cache_dir)
        if target.is_file():
            return target
        with _exclusive(cache_dir / ".lock"):
            return self.fetch_locked(cache_dir)

    def fetch_locked(self, cache_dir: Path) -> Path:
        """`fetch`, for a caller that already holds <cache_dir>/.lock."""
        target = self.target(cache_dir)
        if target.is_file():  # another worker fetched it while we waited
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".npm-pack-"))
        command = ["npm", "pack", f"{self.package}@{self.version}", "--json"]
        try:
            try:
                done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise self._failed(cache_dir, f"{' '.join(command)}: {exc}") from exc
            tarballs = sorted(workdir.glob("*.tgz"))
            if done.returncode != 0 or not tarballs:
                detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
                raise self._failed(cache_dir, f"{' '.join(command)} exited {done.returncode}: {' / '.join(detail)}")
            try:
                with tarfile.open(tarballs[0]) as archive:
                    member = archive.extractfile(self.member)
                    if member is None:
                        raise self._failed(cache_dir, f"{tarballs[0].name} has no {self.member}")
                    with member:
                        _write_atomically(target, member.read())
            except (tarfile.TarError, KeyError, OSError) as exc:
                raise self._failed(cache_dir, f"cannot extract {tarballs[0].name}: {exc}") from exc
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return target

    def fix_command(self, cache_dir: Path) -> str:
        tarball = f"{self.package.lstrip('@').replace('/', '-')}-{self.version}.tgz"
        return (
            f"mkdir -p {cache_dir}/{self.version} && cd {cache_dir} && "
            f"npm pack {self.package}@{self.version} && "
            f"tar -xzf {tarball} -O {self.member} > {self.version}/{self.filename}"
            f" && rm {tarball}"
        )

    def _failed(self, cache_dir: Path, why: str) -> RuntimeError:
        return RuntimeError(
            f"cannot get {self.what} ({self.package}@{self.version}): {why}\n"
            f"To fetch it by hand, run:\n  {self.fix_command(cache_dir)}"
        )


OPENAPI_FILE = NpmFile(
    OPENAPI_PACKAGE,
    OPENAPI_VERSION,
    OPENAPI_MEMBER,
    "GitHub's OpenAPI description that the GitHub API fake validates every REST response against",
)


def fetch_openapi_description(cache_dir: Path | None = None) -> Path:
    """The path of `api.github.com.deref.json`, fetched once with `npm pack` into the cache."""
    return OPENAPI_FILE.fetch(cache_dir or openapi_cache_dir())


# OpenAPI 3.0 schema objects are JSON Schema plus `nullable`; these keywords hold schemas.
_SCHEMA_MAPS = ("properties", "patternProperties")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_ONE = ("items", "additionalProperties", "not")
_NOT_VALIDATION = ("description", "example", "examples", "title", "externalDocs", "discriminator")


def to_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema object as plain JSON Schema (draft 4): `nullable` becomes null."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _NOT_VALIDATION or key.startswith("x-") or key == "nullable":
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [to_json_schema(sub) for sub in value]
        elif key in _SCHEMA_ONE and isinstance(value, dict):
            out[key] = to_json_schema(value)
        else:
            out[key] = value
    if node.get("nullable") is True:
        if "type" in out and not any(key in out for key in (*_SCHEMA_LISTS, "not")):
            out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


def _build_index(document: dict[str, Any]) -> dict[str, Any]:
    operations: dict[str, dict[str, Any]] = {}
    for method, template in OPERATIONS:
        try:
            operation = document["paths"][template][method.lower()]
        except KeyError:
            raise RuntimeError(f"{method} {template} is not in {OPENAPI_PACKAGE}@{OPENAPI_VERSION}") from None
        responses: dict[str, Any] = {}
        for status, response in operation.get("responses", {}).items():
            content = response.get("content") or {}
            schema = (content.get("application/json") or {}).get("schema")
            responses[status] = to_json_schema(schema) if schema is not None else None
        operations[f"{method} {template}"] = {
            "operationId": operation.get("operationId"),
            "responses": responses,
        }
    method, template, status = _ERROR_SCHEMA_SOURCE
    error_schema = operations[f"{method} {template}"]["responses"][status]
    return {
        "package": f"{OPENAPI_PACKAGE}@{OPENAPI_VERSION}",
        "operations": operations,
        "error": error_schema,
    }


_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
FORMATS = FormatChecker(formats=())


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path) and not re.search(r"\s", value)


FORMATS.checks("date-time")(_is_date_time)
FORMATS.checks("uri")(_is_uri)


class ResponseSchemas:
    """The response schemas of `OPERATIONS`, indexed out of the big description once.

    The deref description is ~73 MB; the index of just our operations is cached next to it
    (keyed by package version, operation list and index format) so each test process loads
    a small file.
    """

    def __init__(self, index: dict[str, Any]) -> None:
        self.package: str = index["package"]
        self._operations: dict[str, Any] = index["operations"]
        self._error: dict[str, Any] = index["error"]
        self._validators: dict[tuple[str, str], Draft4Validator] = {}

    @classmethod
    def load(cls, cache_dir: Path | None = None) -> ResponseSchemas:
        cache_dir = cache_dir or openapi_cache_dir()
        key = hashlib.sha256(json.dumps([INDEX_FORMAT, OPERATIONS]).encode()).hexdigest()[:12]
        index_path = cache_dir / OPENAPI_VERSION / f"index-{key}.json"
        if not index_path.is_file():
            # One process fetches and indexes; the other workers wait, then read its index.
            with _exclusive(cache_dir / ".lock"):
                if not index_path.is_file():
                    document = OPENAPI_FILE.fetch_locked(cache_dir)
                    with open(document, "rb") as handle:
                        index = _build_index(json.load(handle))
                    _write_atomically(index_path, json.dumps(index).encode())
        with open(index_path, "rb") as handle:
            return cls(json.load(handle))

    def operation_id(self, method: str, template: str) -> str:
        return str(self._operations[f"{method} {template}"]["operationId"])

    def validate(self, method: str, template: str, status: int, body: Any) -> list[str]:
        """Why GitHub would never send `body` with `status` for this operation ([] if it might)."""
        operation = self._operations[f"{method} {template}"]
        responses: dict[str, Any] = operation["responses"]
        where = f"{method} {template} ({operation['operationId']}) -> {status}"
        documented = str(status) in responses or f"{str(status)[0]}XX" in responses
        schema = responses.get(str(status), responses.get(f"{str(status)[0]}XX"))
        if schema is None and status >= 400:
            schema = self._error  # GitHub's error body, documented or not
        elif schema is None and documented:
            return [] if body is None else [f"{where}: documented without a body, got one"]
        elif schema is None:
            return [f"{where}: GitHub does not document this status for this operation"]
        if body is None:
            return [f"{where}: documented with a JSON body, sent none"]
        cache_key = (f"{method} {template}", str(status) if str(status) in responses else "error")
        validator = self._validators.get(cache_key)
        if validator is None:
            validator = Draft4Validator(schema, format_checker=FORMATS)
            self._validators[cache_key] = validator
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        return [f"{where}: at {e.json_path}: {_short(e.message)}" for e in errors[:10]]

    def validate_error(self, status: int, body: Any, where: str) -> list[str]:
        """Why GitHub would never send `body` as an error answer with `status` ([] if it might):
        for answers outside the REST operations, such as GraphQL's 401 and 5xx.
        """
        if body is None:
            return [f"{where} -> {status}: an error answer without its JSON body"]
        validator = self._validators.get(("error", "error"))
        if validator is None:
            validator = Draft4Validator(self._error, format_checker=FORMATS)
            self._validators[("error", "error")] = validator
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        return [f"{where} -> {status}: at {e.json_path}: {_short(e.message)}" for e in errors[:10]]


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- GitHub's GraphQL schema ----------------------------------------------------------------

GRAPHQL_PACKAGE = "@octokit/graphql-schema"
# Pinned, like the OpenAPI description. Not 15.26.x: its schema.graphql defines
# EnterpriseOwnerInfo.repositoryDeployKeySetting twice, which graphql-core rightly refuses.
GRAPHQL_VERSION = "15.25.0"
GRAPHQL_MEMBER = "package/schema.graphql"
GRAPHQL_INDEX_FORMAT = 1  # bump when what the introspection cache holds changes

GRAPHQL_FILE = NpmFile(
    GRAPHQL_PACKAGE,
    GRAPHQL_VERSION,
    GRAPHQL_MEMBER,
    "GitHub's GraphQL schema that the GitHub API fake validates and executes every GraphQL document against",
)


def graphql_cache_dir() -> Path:
    return repository_root() / ".work" / "octokit-graphql-schema"


class GitHubGraphQLSchema:
    """GitHub's GraphQL schema (`schema.graphql` of npm @octokit/graphql-schema), once per process.

    Building it from the 1.2 MB SDL takes about 2 s. The first process that needs it checks the
    SDL with graphql-core (the SDL rules, then the schema rules) and caches its introspection
    result beside it (keyed by version and format, written atomically under the cache's lock);
    every process builds from that in a fraction of the time. `prepare()` makes sure the cache
    exists (the fixture calls it, so a missing npm fails the session early); the schema itself
    is built on the first GraphQL request, so processes that never send one do not pay for it.
    """

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir or graphql_cache_dir()
        self.package = f"{GRAPHQL_PACKAGE}@{GRAPHQL_VERSION}"
        self._schema: GraphQLSchema | None = None
        self._lock = threading.Lock()

    @property
    def index_path(self) -> Path:
        key = hashlib.sha256(json.dumps([GRAPHQL_INDEX_FORMAT, GRAPHQL_VERSION]).encode()).hexdigest()[:12]
        return self.cache_dir / GRAPHQL_VERSION / f"introspection-{key}.json"

    def prepare(self) -> GitHubGraphQLSchema:
        """Fetch the SDL and cache its introspection result, unless a process already did."""
        index = self.index_path
        if not index.is_file():
            with _exclusive(self.cache_dir / ".lock"):
                if not index.is_file():
                    sdl = GRAPHQL_FILE.fetch_locked(self.cache_dir).read_text(encoding="utf-8")
                    try:
                        schema = build_schema(sdl, no_location=True)
                        assert_valid_schema(schema)
                    except (GraphQLError, TypeError) as exc:
                        raise RuntimeError(
                            f"{self.package} {GRAPHQL_MEMBER} is not a valid GraphQL schema: {_short(str(exc))}"
                        ) from exc
                    _write_atomically(index, json.dumps(introspection_from_schema(schema)).encode())
        return self

    @property
    def schema(self) -> GraphQLSchema:
        with self._lock:
            if self._schema is None:
                self.prepare()
                with open(self.index_path, "rb") as handle:
                    schema = build_client_schema(json.load(handle))
                for name, check in _SCALAR_CHECKS.items():
                    scalar = schema.get_type(name)
                    if isinstance(scalar, GraphQLScalarType):
                        scalar.serialize = _checked_serializer(name, check)  # type: ignore[method-assign,assignment]
                self._schema = schema
            return self._schema


# GitHub's own scalars arrive from the schema with no rules of their own (any value passes);
# these hold the fake's answers to what GitHub's documentation of each says.
def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _is_graphql_uri(value: object) -> bool:  # URI covers both url and resourcePath ("/org/app")
    return isinstance(value, str) and (value.startswith("/") or _is_uri(value)) and not re.search(r"\s", value)


_SCALAR_CHECKS: dict[str, Callable[[object], bool]] = {
    "DateTime": lambda v: isinstance(v, str) and _is_date_time(v),
    "PreciseDateTime": lambda v: isinstance(v, str) and _is_date_time(v),
    "GitTimestamp": lambda v: isinstance(v, str) and _is_date_time(v),
    "Date": lambda v: isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) is not None,
    "URI": _is_graphql_uri,
    "GitObjectID": lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{40}(?:[0-9a-f]{24})?", v) is not None,
    "BigInt": lambda v: isinstance(v, (int, str)) and not isinstance(v, bool) and str(v).lstrip("-").isdigit(),
    "HTML": _is_text,
    "GitRefname": _is_text,
    "GitSSHRemote": _is_text,
    "Base64String": _is_text,
    "X509Certificate": _is_text,
}


def _checked_serializer(name: str, check: Callable[[object], bool]) -> Callable[[Any], Any]:
    def serialize(value: Any) -> Any:
        if not check(value):
            raise GraphQLError(f"{name} cannot represent value: {value!r}")
        return value

    return serialize


class GraphQLRefusal(Exception):
    """An error GitHub answers on purpose, e.g. NOT_FOUND or UNPROCESSABLE, in GitHub's shape."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message


class _FakeGap(Exception):
    """The fake cannot answer faithfully (a field it does not back, a value of the wrong type)."""


class _Obj:
    """A GraphQL object backed by the fake's state: its fields by schema name; a callable
    field is called with the field's arguments when (and only if) a document asks for it.
    A field missing here is a gap in the fake, never a silent null.
    """

    __slots__ = ("fields", "typename")

    def __init__(self, typename: str, **fields: Any) -> None:
        self.typename = typename
        self.fields = fields


def _resolve_field(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    if not isinstance(source, _Obj):
        return default_field_resolver(source, info, **args)
    where = f"{info.parent_type.name}.{info.field_name}"
    if info.field_name not in source.fields:
        raise _FakeGap(f"the fake does not back the GraphQL field {where}")
    value = source.fields[info.field_name]
    if callable(value):
        value = value(**args)
    _check_value(info.return_type, value, where)
    return value


def _resolve_type(value: Any, info: GraphQLResolveInfo, abstract_type: Any) -> str | None:
    return value.typename if isinstance(value, _Obj) else None


_BUILT_IN_SCALARS: dict[str, type | tuple[type, ...]] = {
    "String": str,
    "ID": str,  # GitHub's ids are strings
    "Boolean": bool,
    "Int": int,
    "Float": (int, float),
}


def _check_value(type_: Any, value: Any, where: str) -> None:
    """What graphql-core lets pass that GitHub never sends: 7 for a String, "1" for an Int..."""
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if value is None:
        return  # the executor itself refuses a null where the schema says non-null
    if isinstance(type_, GraphQLList):
        if not isinstance(value, (list, tuple)):
            raise _FakeGap(f"{where}: a list in the schema, got {type(value).__name__}")
        for item in value:
            _check_value(type_.of_type, item, where)
        return
    name = get_named_type(type_).name
    expected = _BUILT_IN_SCALARS.get(name)
    if expected is not None and (not isinstance(value, expected) or (name != "Boolean" and isinstance(value, bool))):
        raise _FakeGap(f"{where}: {name} in the schema, got {type(value).__name__} {value!r}")
    if is_object_type(type_) and (not isinstance(value, _Obj) or value.typename != name):
        got = value.typename if isinstance(value, _Obj) else type(value).__name__
        raise _FakeGap(f"{where}: {name} in the schema, got {got}")
    if is_abstract_type(type_) and not isinstance(value, _Obj):
        raise _FakeGap(f"{where}: {name} in the schema, got {type(value).__name__}")


def _graphql_error_json(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    body: dict[str, Any] = {}
    if isinstance(original, GraphQLRefusal):
        body["type"] = original.type
    if error.path:
        body["path"] = list(error.path)
    if error.locations:
        body["locations"] = [{"line": where.line, "column": where.column} for where in error.locations]
    body["message"] = original.message if isinstance(original, GraphQLRefusal) else error.message
    return body


def _where(error: GraphQLError) -> str:
    spots = ", ".join(f"line {where.line}, column {where.column}" for where in error.locations or [])
    path = ".".join(map(str, error.path or []))
    return " ".join(part for part in (f"at {path}" if path else "", f"({spots})" if spots else "") if part)


# -- in-memory state -------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha(*parts: object) -> str:
    return hashlib.sha1("\0".join(map(str, parts)).encode()).hexdigest()


@dataclass
class FakeRelease:
    id: int
    tag_name: str
    name: str | None
    body: str | None
    draft: bool = False
    prerelease: bool = False
    target_commitish: str = "main"
    created_at: str = field(default_factory=_now)
    published_at: str | None = None
    updated_at: str | None = None


@dataclass
class FakeAutoMerge:
    """Auto-merge as enabled on a pull request, spelled as GraphQL spells it."""

    merge_method: str  # "MERGE", "SQUASH" or "REBASE"
    enabled_by: str  # login
    enabled_at: str = field(default_factory=_now)
    commit_headline: str | None = None
    commit_body: str | None = None
    author_email: str | None = None


@dataclass
class FakePullRequest:
    number: int
    head: str  # branch name
    base: str
    title: str
    body: str | None
    head_owner: str
    state: str = "open"
    draft: bool = False
    files: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    auto_merge: FakeAutoMerge | None = None
    # GraphQL's MergeStateStatus. BLOCKED: a required check or review is pending, which is
    # when auto-merge applies; CLEAN: mergeable right now, and GitHub refuses to arm it.
    merge_state_status: str = "BLOCKED"
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    closed_at: str | None = None

    @property
    def label(self) -> str:
        return f"{self.head_owner}:{self.head}"

    @property
    def node_id(self) -> str:
        """The global id that REST calls node_id and GraphQL calls id."""
        return f"PR_{_sha('pr', self.number)[:14]}"


@dataclass
class FakeIssue:
    """An issue (not a pull request; those share the numbers)."""

    number: int
    title: str
    body: str | None
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    closed_at: str | None = None


@dataclass
class FakeCommit:
    sha: str
    message: str
    committed_at: str  # the committer's date, as GitHub spells it: 2026-11-20T10:00:00Z
    authored_at: str


@dataclass
class FakeDeploymentStatus:
    id: int
    state: str
    description: str
    target_url: str
    log_url: str
    environment_url: str
    environment: str
    created_at: str = field(default_factory=_now)


@dataclass
class FakeDeployment:
    """A deployment and its statuses (newest last, as they were posted)."""

    id: int
    sha: str
    ref: str
    task: str
    environment: str
    payload: Any
    description: str | None
    transient_environment: bool
    production_environment: bool
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    statuses: list[FakeDeploymentStatus] = field(default_factory=list)

    @property
    def states(self) -> list[str]:
        return [status.state for status in self.statuses]


@dataclass
class FakeApproval:
    """One review of a run's pending deployment (environment protection rules)."""

    user: str
    environments: list[str]
    state: str = "approved"  # or "rejected"
    comment: str = ""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # without the fake's prefix and without the query
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0


class _Answer(Exception):
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _not_found() -> _Answer:
    return _Answer(
        404,
        {
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest",
            "status": "404",
        },
    )


def _validation_failed(*errors: dict[str, Any], message: str = "Validation Failed") -> _Answer:
    return _Answer(
        422,
        {
            "message": message,
            "errors": list(errors),
            "documentation_url": "https://docs.github.com/rest",
            "status": "422",
        },
    )


@dataclass
class _Tamper:
    change: Callable[[Any], Any]
    method: str | None
    path: str | None


@dataclass
class _Fault:
    status: int
    method: str | None
    path: str | None
    after_handling: bool

    def answer(self) -> _Answer:
        return _Answer(
            self.status,
            {
                "message": HTTPStatus(self.status).phrase,
                "documentation_url": "https://docs.github.com/rest",
                "status": str(self.status),
            },
        )


# -- the server ------------------------------------------------------------------------------

WEB_URL = "https://github.com"


class GitHubAPIFake:
    """GitHub's REST API for one repository (`repository`, default "org/app"), on loopback.

    Seed with `seed_release` / `seed_pull_request` / `seed_issue` / `seed_commit` (and `allow_auto_merge`,
    the repository setting); inspect `releases`, `pulls`, `issues`, `deployments` (each with its `statuses`)
    and `requests`; inject failures with `fail_next`;
    corrupt a REST response on purpose with `tamper_next`. `problems` lists what the fake
    caught: bodies that fail GitHub's schema, requests to endpoints it does not implement,
    GraphQL documents GitHub would refuse and GraphQL fields the fake does not back.
    GraphQL requests are recorded with the path "/graphql" (on GHES too).
    """

    def __init__(
        self,
        schemas: ResponseSchemas,
        *,
        repository: str = "org/app",
        token: str | None = None,
        prefix: str = "",
        user: str = "deploy-bot",
        graphql: GitHubGraphQLSchema | None = None,
    ) -> None:
        self.schemas = schemas
        self.graphql = graphql or GitHubGraphQLSchema()
        self.repository = repository
        self.owner, self.name = repository.split("/")
        self.token = token or "ghs_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")
        self.prefix = prefix.rstrip("/")  # "/api/v3" to look like GitHub Enterprise Server
        # GraphQL sits beside REST: /graphql, or /api/graphql on GitHub Enterprise Server.
        self.graphql_path = self.prefix.removesuffix("/v3") + "/graphql"
        self.user = user
        self.repository_id = 4242
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # lifecycle

    def start(self) -> GitHubAPIFake:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="github-api-fake", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> GitHubAPIFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Empty state: no releases, no pull requests, no recorded requests or problems."""
        with self._lock:
            self.releases: list[FakeRelease] = []
            self.pulls: dict[int, FakePullRequest] = {}
            self.deployments: dict[int, FakeDeployment] = {}
            self.issues: dict[int, FakeIssue] = {}
            self.commits: dict[str, FakeCommit] = {}
            self.approvals: dict[int, list[FakeApproval]] = {}  # run id → reviews, oldest first
            self.requests: list[RecordedRequest] = []
            self.problems: list[str] = []
            self.default_branch = "main"
            self.allow_auto_merge = True  # the repository setting "Allow auto-merge"
            self._ids = itertools.count(1000)
            self._numbers = itertools.count(1)
            self._faults: list[_Fault] = []
            self._tamper: list[_Tamper] = []

    @property
    def url(self) -> str:
        """The API base URL, as GITHUB_API_URL."""
        if self._server is None:
            raise RuntimeError("GitHubAPIFake is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    @property
    def env(self) -> dict[str, str]:
        """What a step running against this fake needs in its environment."""
        return {
            "GITHUB_API_URL": self.url,
            "GITHUB_TOKEN": self.token,
            "GITHUB_REPOSITORY": self.repository,
        }

    # seeding and inspection

    def seed_release(
        self,
        tag: str,
        *,
        name: str | None = None,
        body: str | None = "",
        draft: bool = False,
        prerelease: bool = False,
        target_commitish: str = "main",
    ) -> FakeRelease:
        with self._lock:
            release = FakeRelease(
                id=next(self._ids),
                tag_name=tag,
                name=tag if name is None else name,
                body=body,
                draft=draft,
                prerelease=prerelease,
                target_commitish=target_commitish,
            )
            release.published_at = None if draft else release.created_at
            self.releases.append(release)
            return release

    def seed_pull_request(
        self,
        *,
        head: str = "feature",
        base: str = "main",
        title: str = "A change",
        body: str | None = "",
        files: list[str] | None = None,
        labels: list[str] | None = None,
        state: str = "open",
        head_owner: str | None = None,
    ) -> FakePullRequest:
        with self._lock:
            pull = FakePullRequest(
                number=next(self._numbers),
                head=head,
                base=base,
                title=title,
                body=body,
                head_owner=head_owner or self.owner,
                state=state,
                files=list(files or []),
                labels=list(labels or []),
            )
            if state == "closed":
                pull.closed_at = pull.updated_at
            self.pulls[pull.number] = pull
            return pull

    def seed_issue(self, title: str, *, body: str | None = "", labels: list[str] | None = None,
                   state: str = "open") -> FakeIssue:
        with self._lock:
            issue = FakeIssue(number=next(self._numbers), title=title, body=body, labels=list(labels or []),
                              state=state)
            if state == "closed":
                issue.closed_at = issue.updated_at
            self.issues[issue.number] = issue
            return issue

    def seed_commit(self, sha: str, committed_at: str, *, message: str = "feat: a change",
                    authored_at: str | None = None) -> FakeCommit:
        with self._lock:
            commit = FakeCommit(sha, message, committed_at, authored_at or committed_at)
            self.commits[sha] = commit
            return commit

    def seed_approval(self, run_id: int, user: str, *environments: str, state: str = "approved",
                      comment: str = "") -> None:
        """A person reviewed run `run_id`'s pending deployment to `environments`."""
        with self._lock:
            self.approvals.setdefault(run_id, []).append(FakeApproval(user, list(environments), state, comment))

    def release_for_tag(self, tag: str) -> FakeRelease | None:
        with self._lock:
            return next((r for r in self.releases if r.tag_name == tag), None)

    def calls(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Recorded requests, optionally only those with this method and/or path."""
        with self._lock:
            return [
                r for r in self.requests if (method is None or r.method == method) and (path is None or r.path == path)
            ]

    # fault injection and the debugging hook

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 502,
        method: str | None = None,
        path: str | None = None,
        after_handling: bool = False,
    ) -> None:
        """Answer the next `count` matching requests with `status` and GitHub's error body.

        With `after_handling`, the request takes effect first and only its answer is lost,
        as when a proxy times out on a write that GitHub completed.
        """
        with self._lock:
            self._faults.extend(_Fault(status, method, path, after_handling) for _ in range(count))

    def tamper_next(self, change: Callable[[Any], Any], *, method: str | None = None, path: str | None = None) -> None:
        """Pass the next JSON body (of a matching REST request) through `change` before it is
        validated and sent: the debugging hook for tests of the fake itself, where a body
        broken on purpose must be caught by validation. (GraphQL answers are made by executing
        against the schema, so there is no body to corrupt after the fact; corrupt the state.)
        """
        with self._lock:
            self._tamper.append(_Tamper(change, method, path))

    def take_problems(self) -> list[str]:
        with self._lock:
            problems, self.problems = self.problems, []
            return problems

    def raise_for_problems(self) -> None:
        problems = self.take_problems()
        if problems:
            raise AssertionError("the GitHub API fake caught problems:\n" + "\n".join(f"  - {p}" for p in problems))

    # request handling

    def _handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        parts = urlsplit(target)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
        inner = path[len(self.prefix) :] if path.startswith(self.prefix + "/") else None
        with self._lock:
            if method == "POST" and path == self.graphql_path:
                inner = "/graphql"
                status, payload, extra = self._dispatch_graphql(headers, body, bad_json)
            else:
                status, payload, extra = self._dispatch(method, inner, path, query, headers, body, bad_json)
            self.requests.append(RecordedRequest(method, inner or path, query, headers, body, status))
        data = b"" if payload is None else json.dumps(payload, indent=1).encode()
        return status, data, extra

    def _dispatch(
        self,
        method: str,
        path: str | None,
        raw_path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
        bad_json: bool,
    ) -> tuple[int, Any, dict[str, str]]:
        route = _match(method, path) if path is not None else None
        fault = self._take_fault(method, path)
        try:
            if fault is not None and not fault.after_handling:
                raise fault.answer()
            if not self._authorized(headers.get("authorization", "")):
                raise _Answer(
                    401,
                    {
                        "message": "Bad credentials",
                        "documentation_url": "https://docs.github.com/rest",
                        "status": "401",
                    },
                )
            if route is None:
                self.problems.append(f"the fake does not implement {method} {raw_path}")
                raise _not_found()
            template, params, handler_name = route
            if bad_json:
                raise _Answer(
                    400,
                    {
                        "message": "Problems parsing JSON",
                        "documentation_url": "https://docs.github.com/rest",
                        "status": "400",
                    },
                )
            if (params["owner"].lower(), params["repo"].lower()) != (
                self.owner.lower(),
                self.name.lower(),
            ):
                raise _not_found()
            handler = getattr(self, handler_name)
            answer = handler(params=params, query=query, path=path, body=body if body is not None else {})
        except _Answer as exc:
            answer = exc
        if fault is not None and fault.after_handling:
            answer = fault.answer()  # the change happened; the client never hears of it
        if route is None:
            return answer.status, answer.body, answer.headers
        template = route[0]
        payload = answer.body
        for tamper in self._tamper:
            if payload is not None and tamper.method in (None, method) and tamper.path in (None, path):
                self._tamper.remove(tamper)
                payload = tamper.change(payload)
                break
        errors = self.schemas.validate(method, template, answer.status, payload)
        if errors:
            self.problems.extend(errors)
            return (
                500,
                {
                    "message": "GitHub API fake: response failed GitHub's schema: " + errors[0],
                    "documentation_url": "https://github.com/octokit/openapi",
                },
                {},
            )
        return answer.status, payload, answer.headers

    def _take_fault(self, method: str, path: str | None) -> _Fault | None:
        for fault in self._faults:
            if fault.method in (None, method) and fault.path in (None, path):
                self._faults.remove(fault)
                return fault
        return None

    def _authorized(self, value: str) -> bool:
        scheme, _, credential = value.partition(" ")
        return scheme.lower() in ("token", "bearer") and secrets.compare_digest(
            credential.strip().encode(), self.token.encode()
        )

    # GraphQL: POST /graphql, the fault injection and credentials of REST, then graphql-core

    def _dispatch_graphql(self, headers: dict[str, str], body: Any, bad_json: bool) -> tuple[int, Any, dict[str, str]]:
        where = "POST /graphql"
        fault = self._take_fault("POST", "/graphql")
        try:
            if fault is not None and not fault.after_handling:
                raise fault.answer()
            if not self._authorized(headers.get("authorization", "")):
                raise _Answer(
                    401,
                    {
                        "message": "Bad credentials",
                        "documentation_url": "https://docs.github.com/graphql",
                        "status": "401",
                    },
                )
            if bad_json:
                raise _Answer(
                    400,
                    {
                        "message": "Problems parsing JSON",
                        "documentation_url": "https://docs.github.com/graphql",
                        "status": "400",
                    },
                )
            answer = self._execute_graphql(body, where)
        except _Answer as exc:
            answer = exc
        if fault is not None and fault.after_handling:
            answer = fault.answer()  # the mutation happened; the client never hears of it
        if answer.status >= 400:
            errors = self.schemas.validate_error(answer.status, answer.body, where)
            if errors:
                self.problems.extend(errors)
                return (
                    500,
                    {"message": "GitHub API fake: " + errors[0], "documentation_url": "https://docs.github.com"},
                    {},
                )
        return answer.status, answer.body, answer.headers

    def _execute_graphql(self, body: Any, where: str) -> _Answer:
        """GitHub's answer to one GraphQL request: always 200, with errors in the body."""
        query = body.get("query") if isinstance(body, dict) else None
        variables = (body.get("variables") if isinstance(body, dict) else None) or {}
        operation_name = (body.get("operationName") if isinstance(body, dict) else None) or None
        if (
            not isinstance(query, str)
            or not isinstance(variables, dict)
            or not isinstance(operation_name, (str, type(None)))
        ):
            self.problems.append(f"{where}: not a GraphQL request (a JSON object with a string query)")
            return _Answer(200, {"errors": [{"message": "A query attribute must be specified and must be a string."}]})
        try:
            schema = self.graphql.schema
        except RuntimeError as exc:  # no cached schema and npm cannot fetch it
            self.problems.append(f"{where}: {exc}")
            raise _Answer(500, {"message": f"GitHub API fake: {_short(str(exc))}", "documentation_url": ""}) from exc
        try:
            document = parse(query)
        except GraphQLError as exc:
            return self._graphql_refused(where, [exc])
        invalid = validate(schema, document)
        if invalid:
            return self._graphql_refused(where, invalid)
        operation = get_operation_ast(document, operation_name)
        mutation = operation is not None and operation.operation == OperationType.MUTATION
        result = execute_sync(
            schema,
            document,
            root_value=self._graphql_mutation_root() if mutation else self._graphql_query_root(),
            variable_values=variables,
            operation_name=operation_name,
            field_resolver=_resolve_field,
            type_resolver=_resolve_type,
        )
        errors = list(result.errors or [])
        request_errors = [e for e in errors if not e.path]  # bad variables, unknown operation name
        if request_errors:
            return self._graphql_refused(where, request_errors)
        gaps = [e for e in errors if not isinstance(e.original_error, GraphQLRefusal)]
        if gaps:
            self.problems.extend(f"{where}: {e.message} {_where(e)}".rstrip() for e in gaps)
            return _Answer(
                500,
                {
                    "message": f"GitHub API fake: cannot answer this GraphQL document faithfully: {gaps[0].message}",
                    "documentation_url": "https://github.com/octokit/graphql-schema",
                },
            )
        answer: dict[str, Any] = {"data": result.data}
        if errors:
            answer["errors"] = [_graphql_error_json(e) for e in errors]
        return _Answer(200, answer)

    def _graphql_refused(self, where: str, errors: list[GraphQLError]) -> _Answer:
        """A document or request GitHub refuses: answered as GitHub does, and a problem."""
        self.problems.extend(
            f"{where}: GitHub would refuse this GraphQL request: {e.message} {_where(e)}".rstrip() for e in errors
        )
        return _Answer(200, {"errors": [_graphql_error_json(e) for e in errors]})

    def _graphql_query_root(self) -> _Obj:
        return _Obj(
            "Query",
            node=lambda id, **_: self._gql_node(id),
            repository=lambda owner, name, **_: self._gql_repository_named(owner, name),
        )

    def _graphql_mutation_root(self) -> _Obj:
        return _Obj(
            "Mutation",
            enablePullRequestAutoMerge=lambda input, **_: self._gql_enable_auto_merge(input),
        )

    def _gql_enable_auto_merge(self, given: dict[str, Any]) -> _Obj:
        node_id = given["pullRequestId"]
        pull = next((p for p in self.pulls.values() if p.node_id == node_id), None)
        if pull is None:
            raise GraphQLRefusal("NOT_FOUND", f"Could not resolve to a node with the global id of '{node_id}'")
        if not self.allow_auto_merge:  # GitHub checks the setting first
            raise GraphQLRefusal("UNPROCESSABLE", "Auto merge is not allowed for this repository")
        unmodelled = [
            what
            for what, applies in (
                ("a pull request that is not open", pull.state != "open"),
                ("a draft pull request", pull.draft),
                ("expectedHeadOid", given.get("expectedHeadOid") is not None),
            )
            if applies
        ]
        if unmodelled:  # GitHub's answers to these are not modelled: say so rather than guess
            raise _FakeGap(f"the fake does not model enablePullRequestAutoMerge with {', '.join(unmodelled)}")
        if pull.merge_state_status == "CLEAN":
            raise GraphQLRefusal("UNPROCESSABLE", "Pull request Pull request is in clean status")
        pull.auto_merge = FakeAutoMerge(
            merge_method=given["mergeMethod"],  # the schema defaults it to MERGE
            enabled_by=self.user,
            commit_headline=given.get("commitHeadline"),
            commit_body=given.get("commitBody"),
            author_email=given.get("authorEmail"),
        )
        pull.updated_at = _now()
        return _Obj(
            "EnablePullRequestAutoMergePayload",
            actor=lambda: self._gql_actor(self.user),
            clientMutationId=given.get("clientMutationId"),
            pullRequest=lambda: self._gql_pull(pull),
        )

    def _gql_node(self, node_id: str) -> _Obj:
        if node_id == self._repository_json()["node_id"]:
            return self._gql_repository()
        for pull in self.pulls.values():
            if pull.node_id == node_id:
                return self._gql_pull(pull)
        raise GraphQLRefusal("NOT_FOUND", f"Could not resolve to a node with the global id of '{node_id}'")

    def _gql_repository_named(self, owner: str, name: str) -> _Obj:
        if f"{owner}/{name}".lower() != self.repository.lower():
            raise GraphQLRefusal("NOT_FOUND", f"Could not resolve to a Repository with the name '{owner}/{name}'.")
        return self._gql_repository()

    def _gql_repository(self) -> _Obj:
        def pull_request(number: int, **_: Any) -> _Obj:
            if number not in self.pulls:
                raise GraphQLRefusal("NOT_FOUND", f"Could not resolve to a PullRequest with the number of {number}.")
            return self._gql_pull(self.pulls[number])

        return _Obj(
            "Repository",
            id=self._repository_json()["node_id"],
            databaseId=self.repository_id,
            name=self.name,
            nameWithOwner=self.repository,
            url=f"{WEB_URL}/{self.repository}",
            resourcePath=f"/{self.repository}",
            autoMergeAllowed=self.allow_auto_merge,
            pullRequest=pull_request,
        )

    def _gql_pull(self, pull: FakePullRequest) -> _Obj:
        path = f"/{self.repository}/pull/{pull.number}"
        return _Obj(
            "PullRequest",
            id=pull.node_id,
            databaseId=int(_sha("pull", pull.number)[:8], 16),
            number=pull.number,
            title=pull.title,
            body=pull.body or "",
            url=f"{WEB_URL}{path}",
            resourcePath=path,
            state=pull.state.upper(),
            closed=pull.state == "closed",
            merged=False,
            isDraft=pull.draft,
            headRefName=pull.head,
            baseRefName=pull.base,
            mergeStateStatus=pull.merge_state_status,
            createdAt=pull.created_at,
            updatedAt=pull.updated_at,
            closedAt=pull.closed_at,
            autoMergeRequest=lambda: self._gql_auto_merge(pull),
            repository=self._gql_repository,
        )

    def _gql_auto_merge(self, pull: FakePullRequest) -> _Obj | None:
        auto = pull.auto_merge
        if auto is None:
            return None
        return _Obj(
            "AutoMergeRequest",
            mergeMethod=auto.merge_method,
            enabledAt=auto.enabled_at,
            enabledBy=lambda: self._gql_actor(auto.enabled_by),
            commitHeadline=auto.commit_headline,
            commitBody=auto.commit_body,
            authorEmail=auto.author_email,
            pullRequest=lambda: self._gql_pull(pull),
        )

    def _gql_actor(self, login: str) -> _Obj:
        rest = self._user_json(login)
        bot = rest["type"] == "Bot"
        name = login.removesuffix("[bot]")
        path = f"/apps/{name}" if bot else f"/{name}"
        stamp = "2024-01-02T03:04:05Z"
        return _Obj(
            "Bot" if bot else "User",
            id=rest["node_id"],
            databaseId=rest["id"],
            login=name,
            avatarUrl=lambda size=None, **_: rest["avatar_url"] + (f"&s={size}" if size else ""),
            resourcePath=path,
            url=f"{WEB_URL}{path}",
            createdAt=stamp,
            updatedAt=stamp,
        )

    # endpoints: each returns an _Answer (or raises one)

    def _get_repository(self, **_: Any) -> _Answer:
        return _Answer(200, self._full_repository_json())

    def _list_releases(self, query: dict[str, str], path: str, **_: Any) -> _Answer:
        ordered = sorted(self.releases, key=lambda r: r.id, reverse=True)
        items, links = self._paginate(ordered, query, path)
        return _Answer(200, [self._release_json(r) for r in items], links)

    def _create_release(self, body: dict[str, Any], **_: Any) -> _Answer:
        tag = body.get("tag_name")
        if not isinstance(tag, str) or not tag:
            raise _validation_failed({"resource": "Release", "code": "missing_field", "field": "tag_name"})
        if any(r.tag_name == tag and not r.draft for r in self.releases) and not body.get("draft"):
            raise _validation_failed({"resource": "Release", "code": "already_exists", "field": "tag_name"})
        release = FakeRelease(
            id=next(self._ids),
            tag_name=tag,
            name=body.get("name") or tag,
            body=body.get("body"),
            draft=bool(body.get("draft", False)),
            prerelease=bool(body.get("prerelease", False)),
            target_commitish=body.get("target_commitish") or self.default_branch,
        )
        release.published_at = None if release.draft else release.created_at
        self.releases.append(release)
        return _Answer(201, self._release_json(release), {"Location": self._release_api_url(release)})

    def _get_release_by_tag(self, params: dict[str, str], **_: Any) -> _Answer:
        # Drafts have no tag yet, so GitHub does not find them by tag.
        for release in self.releases:
            if release.tag_name == params["tag"] and not release.draft:
                return _Answer(200, self._release_json(release))
        raise _not_found()

    def _release(self, params: dict[str, str]) -> FakeRelease:
        for release in self.releases:
            if str(release.id) == params["release_id"]:
                return release
        raise _not_found()

    def _get_release(self, params: dict[str, str], **_: Any) -> _Answer:
        return _Answer(200, self._release_json(self._release(params)))

    def _update_release(self, params: dict[str, str], body: dict[str, Any], **_: Any) -> _Answer:
        release = self._release(params)
        for key in ("tag_name", "target_commitish", "name", "body"):
            if key in body:
                setattr(release, key, body[key])
        for key in ("draft", "prerelease"):
            if key in body:
                setattr(release, key, bool(body[key]))
        release.updated_at = _now()
        if not release.draft and release.published_at is None:
            release.published_at = release.updated_at
        return _Answer(200, self._release_json(release))

    def _list_pulls(self, query: dict[str, str], path: str, **_: Any) -> _Answer:
        state = query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise _validation_failed({"resource": "PullRequest", "code": "invalid", "field": "state"})
        pulls = [p for p in self.pulls.values() if state in ("all", p.state)]
        head = query.get("head")
        if head and ":" in head:  # GitHub ignores a head filter that is not "owner:branch"
            owner, ref = head.split(":", 1)
            pulls = [p for p in pulls if p.head_owner.lower() == owner.lower() and p.head == ref]
        if query.get("base"):
            pulls = [p for p in pulls if p.base == query["base"]]
        pulls.sort(key=lambda p: p.number, reverse=query.get("direction", "desc") == "desc")
        items, links = self._paginate(pulls, query, path)
        return _Answer(200, [self._pull_json(p, full=False) for p in items], links)

    def _create_pull(self, body: dict[str, Any], **_: Any) -> _Answer:
        missing = [key for key in ("head", "base") if not body.get(key)]
        if not body.get("title") and not body.get("issue"):
            missing.append("title")
        if missing:
            raise _validation_failed(
                *({"resource": "PullRequest", "code": "missing_field", "field": m} for m in missing)
            )
        head = str(body["head"])
        owner, _colon, ref = head.rpartition(":")
        owner = owner or self.owner
        base = str(body["base"])
        if ref == base and owner.lower() == self.owner.lower():
            raise _validation_failed(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"No commits between {base} and {ref}",
                }
            )
        for pull in self.pulls.values():
            if (
                pull.state == "open"
                and pull.head_owner.lower() == owner.lower()
                and pull.head == ref
                and pull.base == base
            ):
                raise _validation_failed(
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {owner}:{ref}.",
                    }
                )
        pull = FakePullRequest(
            number=next(self._numbers),
            head=ref,
            base=base,
            title=str(body.get("title") or ""),
            body=body.get("body"),
            head_owner=owner,
            draft=bool(body.get("draft", False)),
        )
        self.pulls[pull.number] = pull
        return _Answer(201, self._pull_json(pull, full=True), {"Location": self._pull_api_url(pull)})

    def _pull(self, number: str) -> FakePullRequest:
        pull = self.pulls.get(int(number)) if number.isdigit() else None
        if pull is None:
            raise _not_found()
        return pull

    def _get_pull(self, params: dict[str, str], **_: Any) -> _Answer:
        return _Answer(200, self._pull_json(self._pull(params["pull_number"]), full=True))

    def _update_pull(self, params: dict[str, str], body: dict[str, Any], **_: Any) -> _Answer:
        pull = self._pull(params["pull_number"])
        if "state" in body:
            if body["state"] not in ("open", "closed"):
                raise _validation_failed({"resource": "PullRequest", "code": "invalid", "field": "state"})
            pull.state = body["state"]
            pull.closed_at = _now() if pull.state == "closed" else None
        for key in ("title", "body", "base"):
            if key in body:
                setattr(pull, key, body[key])
        pull.updated_at = _now()
        return _Answer(200, self._pull_json(pull, full=True))

    def _list_pull_files(self, params: dict[str, str], query: dict[str, str], path: str, **_: Any) -> _Answer:
        pull = self._pull(params["pull_number"])
        items, links = self._paginate(pull.files[:3000], query, path)  # GitHub stops at 3000
        return _Answer(200, [self._diff_entry_json(pull, name) for name in items], links)

    def _list_issue_labels(self, params: dict[str, str], query: dict[str, str], path: str, **_: Any) -> _Answer:
        pull = self._pull(params["issue_number"])  # every pull request is an issue
        items, links = self._paginate(pull.labels, query, path)
        return _Answer(200, [self._label_json(name) for name in items], links)

    def _add_issue_labels(self, params: dict[str, str], body: Any, **_: Any) -> _Answer:
        # {"labels": [...]} is what GitHub documents; a bare array is what it also accepts
        # (and PyGithub sends). Items are names or {"name": ...}. Adding is additive, and a
        # label the issue has already (in any case) stays as it is: never twice.
        pull = self._pull(params["issue_number"])
        items = body.get("labels") if isinstance(body, dict) else body
        given = [i.get("name") if isinstance(i, dict) else i for i in items] if isinstance(items, list) else []
        names = [name.strip() for name in given if isinstance(name, str) and name.strip()]
        if not names or len(names) != len(given):
            raise _validation_failed({"resource": "Label", "code": "invalid", "field": "labels"})
        for name in names:
            if name.casefold() not in {label.casefold() for label in pull.labels}:
                pull.labels.append(name)
                pull.updated_at = _now()
        return _Answer(200, [self._label_json(name) for name in pull.labels])

    def _list_issues(self, query: dict[str, str], path: str, **_: Any) -> _Answer:
        # GitHub lists pull requests among the issues; `labels` is a comma-separated list, all required.
        state = query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise _validation_failed({"resource": "Issue", "code": "invalid", "field": "state"})
        wanted = {name.strip().casefold() for name in query.get("labels", "").split(",") if name.strip()}
        found: list[tuple[int, Any]] = [(i.number, i) for i in self.issues.values()]
        found += [(p.number, p) for p in self.pulls.values()]
        items = [item for _n, item in sorted(found, key=lambda pair: pair[0], reverse=query.get("direction", "desc")
                                             == "desc")
                 if state in ("all", item.state) and wanted <= {label.casefold() for label in item.labels}]
        chunk, links = self._paginate(items, query, path)
        return _Answer(200, [self._issue_json(i) if isinstance(i, FakeIssue) else self._pull_as_issue_json(i)
                             for i in chunk], links)

    def _create_issue(self, body: dict[str, Any], **_: Any) -> _Answer:
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            raise _validation_failed({"resource": "Issue", "code": "missing_field", "field": "title"})
        given = body.get("labels") or []
        names = [i.get("name") if isinstance(i, dict) else i for i in given] if isinstance(given, list) else [None]
        if not all(isinstance(name, str) and name.strip() for name in names):
            raise _validation_failed({"resource": "Issue", "code": "invalid", "field": "labels"})
        issue = FakeIssue(number=next(self._numbers), title=title, body=body.get("body"), labels=list(names))
        self.issues[issue.number] = issue
        return _Answer(201, self._issue_json(issue), {"Location": self._api(f"/repos/{self.repository}/issues/"
                                                                            f"{issue.number}")})

    def _update_issue(self, params: dict[str, str], body: dict[str, Any], **_: Any) -> _Answer:
        number = params["issue_number"]
        issue = self.issues.get(int(number)) if number.isdigit() else None
        if issue is None:
            raise _not_found()
        if "state" in body:
            if body["state"] not in ("open", "closed"):
                raise _validation_failed({"resource": "Issue", "code": "invalid", "field": "state"})
            issue.state = body["state"]
            issue.closed_at = _now() if issue.state == "closed" else None
        for key in ("title", "body"):
            if key in body:
                setattr(issue, key, body[key])
        issue.updated_at = _now()
        return _Answer(200, self._issue_json(issue))

    def _get_commit(self, params: dict[str, str], **_: Any) -> _Answer:
        ref = params["ref"]
        matches = [c for sha, c in self.commits.items() if sha == ref or (len(ref) >= 7 and sha.startswith(ref))]
        if len(matches) != 1:
            if not matches:
                raise _Answer(422, {"message": f"No commit found for SHA: {ref}",
                                    "documentation_url": "https://docs.github.com/rest", "status": "422"})
            raise _not_found()
        return _Answer(200, self._commit_json(matches[0]))

    def _list_deployments(self, query: dict[str, str], path: str, **_: Any) -> _Answer:
        found = [
            d
            for d in sorted(self.deployments.values(), key=lambda d: d.id, reverse=True)  # newest first
            if all(query.get(key) in (None, getattr(d, key)) for key in ("sha", "ref", "task", "environment"))
        ]
        items, links = self._paginate(found, query, path)
        return _Answer(200, [self._deployment_json(d) for d in items], links)

    def _create_deployment(self, body: dict[str, Any], **_: Any) -> _Answer:
        ref = body.get("ref")
        if not isinstance(ref, str) or not ref:
            raise _validation_failed({"resource": "Deployment", "code": "missing_field", "field": "ref"})
        if body.get("auto_merge", True) or body.get("required_contexts") != []:
            # GitHub would merge the default branch or wait on commit statuses: not modelled.
            self.problems.append("the fake models deployments only with auto_merge false and required_contexts []")
            raise _validation_failed({"resource": "Deployment", "code": "custom", "message": "not modelled"})
        if not re.fullmatch(r"[0-9a-f]{40}", ref):
            self.problems.append(f"the fake models deployments of a commit SHA only, got ref {ref!r}")
            raise _validation_failed({"resource": "Deployment", "code": "invalid", "field": "ref"})
        environment = str(body.get("environment") or "production")
        deployment = FakeDeployment(
            id=next(self._ids),
            sha=ref,
            ref=ref,
            task=str(body.get("task") or "deploy"),
            environment=environment,
            payload=body.get("payload", {}) if body.get("payload") not in (None, "") else {},
            description=body.get("description"),
            transient_environment=bool(body.get("transient_environment", False)),
            production_environment=bool(body.get("production_environment", environment == "production")),
        )
        self.deployments[deployment.id] = deployment
        return _Answer(201, self._deployment_json(deployment), {"Location": self._deployment_api_url(deployment)})

    def _deployment(self, params: dict[str, str]) -> FakeDeployment:
        key = params["deployment_id"]
        deployment = self.deployments.get(int(key)) if key.isdigit() else None
        if deployment is None:
            raise _not_found()
        return deployment

    def _get_deployment(self, params: dict[str, str], **_: Any) -> _Answer:
        return _Answer(200, self._deployment_json(self._deployment(params)))

    def _list_deployment_statuses(self, params: dict[str, str], query: dict[str, str], path: str, **_: Any) -> _Answer:
        deployment = self._deployment(params)
        items, links = self._paginate(list(reversed(deployment.statuses)), query, path)
        return _Answer(200, [self._deployment_status_json(deployment, s) for s in items], links)

    def _create_deployment_status(self, params: dict[str, str], body: dict[str, Any], **_: Any) -> _Answer:
        deployment = self._deployment(params)
        state = body.get("state")
        if state not in ("error", "failure", "inactive", "in_progress", "queued", "pending", "success"):
            raise _validation_failed({"resource": "DeploymentStatus", "code": "invalid", "field": "state"})
        description = str(body.get("description") or "")
        if len(description) > 140:
            raise _validation_failed({"resource": "DeploymentStatus", "code": "custom",
                                      "field": "description", "message": "description is too long (maximum is 140 characters)"})
        log_url = str(body.get("log_url") or body.get("target_url") or "")
        status = FakeDeploymentStatus(
            id=next(self._ids),
            state=state,
            description=description,
            target_url=str(body.get("target_url") or log_url),
            log_url=log_url,
            environment_url=str(body.get("environment_url") or ""),
            environment=str(body.get("environment") or deployment.environment),
        )
        deployment.statuses.append(status)
        deployment.updated_at = status.created_at
        return _Answer(201, self._deployment_status_json(deployment, status))

    # pagination, as GitHub does it: ?per_page (default 30, at most 100) and ?page, with a
    # Link header naming next/last (and prev/first when not on the first page)

    def _get_issue(self, params: dict[str, str], **_: Any) -> _Answer:
        # PyGithub completes an issue from the list (its pull_request field) with this GET.
        number = params["issue_number"]
        if number.isdigit() and int(number) in self.issues:
            return _Answer(200, self._issue_json(self.issues[int(number)]))
        if number.isdigit() and int(number) in self.pulls:
            return _Answer(200, self._pull_as_issue_json(self.pulls[int(number)]))
        raise _not_found()

    def _list_run_approvals(self, params: dict[str, str], **_: Any) -> _Answer:
        if not params["run_id"].isdigit():
            raise _not_found()
        # GitHub answers with the whole list, newest first, unpaginated.
        reviews = list(reversed(self.approvals.get(int(params["run_id"]), [])))
        return _Answer(200, [self._approval_json(review) for review in reviews])

    def _paginate(self, items: list[Any], query: dict[str, str], path: str) -> tuple[list[Any], dict[str, str]]:
        per_page = _positive(query.get("per_page"), 30)
        per_page = min(per_page, 100)
        page = _positive(query.get("page"), 1)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []

        def link(number: int, rel: str) -> str:
            target = {**query, "per_page": str(per_page), "page": str(number)}
            if "per_page" not in query:
                del target["per_page"]
            return f'<{self.url}{path}?{urlencode(target)}>; rel="{rel}"'

        if page > 1:
            links += [link(min(page - 1, last), "prev")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first")]
        return chunk, ({"Link": ", ".join(links)} if links else {})

    # response objects, complete enough for GitHub's schemas

    def _api(self, path: str) -> str:
        return f"{self.url}{path}"

    def _user_json(self, login: str) -> dict[str, Any]:
        api = self._api(f"/users/{login}")
        user_id = int(_sha("user", login)[:6], 16)
        return {
            "login": login,
            "id": user_id,
            "node_id": f"U_{_sha('node', login)[:14]}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{WEB_URL}/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": "Bot" if login.endswith("[bot]") or login == self.user else "User",
            "user_view_type": "public",
            "site_admin": False,
        }

    def _repository_json(self, owner: str | None = None) -> dict[str, Any]:
        owner = owner or self.owner
        full_name = f"{owner}/{self.name}"
        api = self._api(f"/repos/{full_name}")
        web = f"{WEB_URL}/{full_name}"
        stamp = "2024-01-02T03:04:05Z"
        return {
            "id": self.repository_id if owner == self.owner else int(_sha(full_name)[:6], 16),
            "node_id": f"R_{_sha('repo', full_name)[:14]}",
            "name": self.name,
            "full_name": full_name,
            "private": True,
            "owner": self._user_json(owner),
            "html_url": web,
            "description": "The application",
            "fork": owner != self.owner,
            "url": api,
            "archive_url": f"{api}/{{archive_format}}{{/ref}}",
            "assignees_url": f"{api}/assignees{{/user}}",
            "blobs_url": f"{api}/git/blobs{{/sha}}",
            "branches_url": f"{api}/branches{{/branch}}",
            "collaborators_url": f"{api}/collaborators{{/collaborator}}",
            "comments_url": f"{api}/comments{{/number}}",
            "commits_url": f"{api}/commits{{/sha}}",
            "compare_url": f"{api}/compare/{{base}}...{{head}}",
            "contents_url": f"{api}/contents/{{+path}}",
            "contributors_url": f"{api}/contributors",
            "deployments_url": f"{api}/deployments",
            "downloads_url": f"{api}/downloads",
            "events_url": f"{api}/events",
            "forks_url": f"{api}/forks",
            "git_commits_url": f"{api}/git/commits{{/sha}}",
            "git_refs_url": f"{api}/git/refs{{/sha}}",
            "git_tags_url": f"{api}/git/tags{{/sha}}",
            "git_url": f"git://github.com/{full_name}.git",
            "issue_comment_url": f"{api}/issues/comments{{/number}}",
            "issue_events_url": f"{api}/issues/events{{/number}}",
            "issues_url": f"{api}/issues{{/number}}",
            "keys_url": f"{api}/keys{{/key_id}}",
            "labels_url": f"{api}/labels{{/name}}",
            "languages_url": f"{api}/languages",
            "merges_url": f"{api}/merges",
            "milestones_url": f"{api}/milestones{{/number}}",
            "notifications_url": f"{api}/notifications{{?since,all,participating}}",
            "pulls_url": f"{api}/pulls{{/number}}",
            "releases_url": f"{api}/releases{{/id}}",
            "ssh_url": f"git@github.com:{full_name}.git",
            "stargazers_url": f"{api}/stargazers",
            "statuses_url": f"{api}/statuses/{{sha}}",
            "subscribers_url": f"{api}/subscribers",
            "subscription_url": f"{api}/subscription",
            "tags_url": f"{api}/tags",
            "teams_url": f"{api}/teams",
            "trees_url": f"{api}/git/trees{{/sha}}",
            "clone_url": f"{web}.git",
            "mirror_url": None,
            "hooks_url": f"{api}/hooks",
            "svn_url": web,
            "homepage": None,
            "language": "Python",
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": 108,
            "default_branch": self.default_branch,
            "open_issues_count": sum(p.state == "open" for p in self.pulls.values()),
            "open_issues": sum(p.state == "open" for p in self.pulls.values()),
            "is_template": False,
            "topics": [],
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": True,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "private",
            "pushed_at": stamp,
            "created_at": stamp,
            "updated_at": stamp,
            "license": None,
            "allow_forking": True,
            "web_commit_signoff_required": False,
        }

    def _full_repository_json(self) -> dict[str, Any]:
        return {
            **self._repository_json(),
            "network_count": 0,
            "subscribers_count": 1,
            "allow_auto_merge": self.allow_auto_merge,
            "permissions": {
                "admin": False,
                "maintain": False,
                "push": True,
                "triage": True,
                "pull": True,
            },
        }

    def _release_api_url(self, release: FakeRelease) -> str:
        return self._api(f"/repos/{self.repository}/releases/{release.id}")

    def _release_json(self, release: FakeRelease) -> dict[str, Any]:
        api = self._release_api_url(release)
        tag = quote(release.tag_name, safe="")
        web = f"{WEB_URL}/{self.repository}"
        return {
            "url": api,
            "assets_url": f"{api}/assets",
            "upload_url": (
                f"https://uploads.github.com/repos/{self.repository}/releases/{release.id}/assets{{?name,label}}"
            ),
            "html_url": (
                f"{web}/releases/tag/{tag}"
                if not release.draft
                else f"{web}/releases/tag/untagged-{_sha(release.id)[:20]}"
            ),
            "id": release.id,
            "author": self._user_json(self.user),
            "node_id": f"RE_{_sha('release', release.id)[:14]}",
            "tag_name": release.tag_name,
            "target_commitish": release.target_commitish,
            "name": release.name,
            "draft": release.draft,
            "immutable": False,
            "prerelease": release.prerelease,
            "created_at": release.created_at,
            "updated_at": release.updated_at or release.created_at,
            "published_at": release.published_at,
            "assets": [],
            "tarball_url": self._api(f"/repos/{self.repository}/tarball/{tag}"),
            "zipball_url": self._api(f"/repos/{self.repository}/zipball/{tag}"),
            "body": release.body,
        }

    def _pull_api_url(self, pull: FakePullRequest) -> str:
        return self._api(f"/repos/{self.repository}/pulls/{pull.number}")

    def _pull_json(self, pull: FakePullRequest, *, full: bool) -> dict[str, Any]:
        api = self._pull_api_url(pull)
        issue = self._api(f"/repos/{self.repository}/issues/{pull.number}")
        web = f"{WEB_URL}/{self.repository}/pull/{pull.number}"
        head_sha = _sha("head", pull.head_owner, pull.head, pull.title)
        base_sha = _sha("base", pull.base)
        statuses = self._api(f"/repos/{self.repository}/statuses/{head_sha}")

        def part(owner: str, ref: str, sha: str) -> dict[str, Any]:
            return {
                "label": f"{owner}:{ref}",
                "ref": ref,
                "sha": sha,
                "user": self._user_json(owner),
                "repo": self._repository_json(owner),
            }

        data: dict[str, Any] = {
            "url": api,
            "id": int(_sha("pull", pull.number)[:8], 16),
            "node_id": pull.node_id,
            "html_url": web,
            "diff_url": f"{web}.diff",
            "patch_url": f"{web}.patch",
            "issue_url": issue,
            "commits_url": f"{api}/commits",
            "review_comments_url": f"{api}/comments",
            "review_comment_url": self._api(f"/repos/{self.repository}/pulls/comments{{/number}}"),
            "comments_url": f"{issue}/comments",
            "statuses_url": statuses,
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self._user_json(self.user),
            "body": pull.body,
            "labels": [self._label_json(name) for name in pull.labels],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": pull.created_at,
            "updated_at": pull.updated_at,
            "closed_at": pull.closed_at,
            "merged_at": None,
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": part(pull.head_owner, pull.head, head_sha),
            "base": part(self.owner, pull.base, base_sha),
            "_links": {
                "self": {"href": api},
                "html": {"href": web},
                "issue": {"href": issue},
                "comments": {"href": f"{issue}/comments"},
                "review_comments": {"href": f"{api}/comments"},
                "review_comment": {"href": self._api(f"/repos/{self.repository}/pulls/comments{{/number}}")},
                "commits": {"href": f"{api}/commits"},
                "statuses": {"href": statuses},
            },
            "author_association": "CONTRIBUTOR",
            "auto_merge": self._auto_merge_json(pull),
            "draft": pull.draft,
        }
        if full:
            data.update(
                {
                    "merged": False,
                    "mergeable": None,
                    "rebaseable": None,
                    "mergeable_state": pull.merge_state_status.lower(),
                    "merged_by": None,
                    "comments": 0,
                    "review_comments": 0,
                    "maintainer_can_modify": False,
                    "commits": 1,
                    "additions": 2 * len(pull.files),
                    "deletions": len(pull.files),
                    "changed_files": len(pull.files),
                }
            )
        return data

    def _auto_merge_json(self, pull: FakePullRequest) -> dict[str, Any] | None:
        auto = pull.auto_merge
        if auto is None:
            return None
        # What GitHub fills in when enabling left the commit title and message to it.
        title, message = {
            "MERGE": (f"Merge pull request #{pull.number} from {pull.label.replace(':', '/', 1)}", pull.title),
            "SQUASH": (f"{pull.title} (#{pull.number})", pull.body or ""),
            "REBASE": (pull.title, ""),
        }[auto.merge_method]
        return {
            "enabled_by": self._user_json(auto.enabled_by),
            "merge_method": auto.merge_method.lower(),
            "commit_title": auto.commit_headline if auto.commit_headline is not None else title,
            "commit_message": auto.commit_body if auto.commit_body is not None else message,
        }

    def _diff_entry_json(self, pull: FakePullRequest, filename: str) -> dict[str, Any]:
        head_sha = _sha("head", pull.head_owner, pull.head, pull.title)
        path = quote(filename)
        return {
            "sha": _sha("blob", filename),
            "filename": filename,
            "status": "modified",
            "additions": 2,
            "deletions": 1,
            "changes": 3,
            "blob_url": f"{WEB_URL}/{self.repository}/blob/{head_sha}/{path}",
            "raw_url": f"{WEB_URL}/{self.repository}/raw/{head_sha}/{path}",
            "contents_url": self._api(f"/repos/{self.repository}/contents/{path}?ref={head_sha}"),
            "patch": "@@ -1,1 +1,2 @@\n-old\n+new\n+more",
        }

    def _deployment_api_url(self, deployment: FakeDeployment) -> str:
        return self._api(f"/repos/{self.repository}/deployments/{deployment.id}")

    def _deployment_json(self, deployment: FakeDeployment) -> dict[str, Any]:
        api = self._deployment_api_url(deployment)
        return {
            "url": api,
            "id": deployment.id,
            "node_id": f"DE_{_sha('deployment', deployment.id)[:14]}",
            "sha": deployment.sha,
            "ref": deployment.ref,
            "task": deployment.task,
            "payload": deployment.payload,
            "original_environment": deployment.environment,
            "environment": deployment.environment,
            "description": deployment.description,
            "creator": self._user_json(self.user),
            "created_at": deployment.created_at,
            "updated_at": deployment.updated_at,
            "statuses_url": f"{api}/statuses",
            "repository_url": self._api(f"/repos/{self.repository}"),
            "transient_environment": deployment.transient_environment,
            "production_environment": deployment.production_environment,
        }

    def _deployment_status_json(self, deployment: FakeDeployment, status: FakeDeploymentStatus) -> dict[str, Any]:
        api = self._deployment_api_url(deployment)
        data: dict[str, Any] = {
            "url": f"{api}/statuses/{status.id}",
            "id": status.id,
            "node_id": f"DES_{_sha('deployment-status', status.id)[:14]}",
            "state": status.state,
            "creator": self._user_json(self.user),
            "description": status.description,
            "environment": status.environment,
            # GitHub answers "" for a status posted without one, which its own description (format:
            # uri) does not allow; the fake answers the deployment's URL instead, to stay valid.
            "target_url": status.target_url or api,
            "created_at": status.created_at,
            "updated_at": status.created_at,
            "deployment_url": api,
            "repository_url": self._api(f"/repos/{self.repository}"),
        }
        if status.log_url:
            data["log_url"] = status.log_url
        if status.environment_url:
            data["environment_url"] = status.environment_url
        return data

    def _issue_base_json(self, number: int, title: str, body: str | None, labels: list[str], state: str,
                         created_at: str, updated_at: str, closed_at: str | None) -> dict[str, Any]:
        api = self._api(f"/repos/{self.repository}/issues/{number}")
        return {
            "id": int(_sha("issue", number)[:8], 16),
            "node_id": f"I_{_sha('issue-node', number)[:14]}",
            "url": api,
            "repository_url": self._api(f"/repos/{self.repository}"),
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": f"{WEB_URL}/{self.repository}/issues/{number}",
            "number": number,
            "state": state,
            "state_reason": "completed" if state == "closed" else None,
            "title": title,
            "body": body,
            "user": self._user_json(self.user),
            "labels": [self._label_json(name) for name in labels],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": 0,
            "closed_at": closed_at,
            "created_at": created_at,
            "updated_at": updated_at,
            "author_association": "CONTRIBUTOR",
        }

    def _issue_json(self, issue: FakeIssue) -> dict[str, Any]:
        return self._issue_base_json(issue.number, issue.title, issue.body, issue.labels, issue.state,
                                     issue.created_at, issue.updated_at, issue.closed_at)

    def _pull_as_issue_json(self, pull: FakePullRequest) -> dict[str, Any]:
        data = self._issue_base_json(pull.number, pull.title, pull.body, pull.labels, pull.state, pull.created_at,
                                     pull.updated_at, pull.closed_at)
        web = f"{WEB_URL}/{self.repository}/pull/{pull.number}"
        data["html_url"] = web
        data["pull_request"] = {"url": self._pull_api_url(pull), "html_url": web, "diff_url": f"{web}.diff",
                                "patch_url": f"{web}.patch", "merged_at": None}
        return data

    def _commit_json(self, commit: FakeCommit) -> dict[str, Any]:
        api = self._api(f"/repos/{self.repository}/commits/{commit.sha}")
        person = {"name": "Test Author", "email": "author@example.com"}
        return {
            "url": api,
            "sha": commit.sha,
            "node_id": f"C_{_sha('commit', commit.sha)[:14]}",
            "html_url": f"{WEB_URL}/{self.repository}/commit/{commit.sha}",
            "comments_url": f"{api}/comments",
            "commit": {
                "url": self._api(f"/repos/{self.repository}/git/commits/{commit.sha}"),
                "author": {**person, "date": commit.authored_at},
                "committer": {**person, "date": commit.committed_at},
                "message": commit.message,
                "comment_count": 0,
                "tree": {"sha": _sha("tree", commit.sha), "url": self._api(f"/repos/{self.repository}/git/trees/"
                                                                           f"{_sha('tree', commit.sha)}")},
                "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None,
                                 "verified_at": None},
            },
            "author": self._user_json("octocat"),
            "committer": self._user_json("octocat"),
            "parents": [],
            "stats": {"additions": 1, "deletions": 0, "total": 1},
            "files": [],
        }

    def _approval_json(self, review: FakeApproval) -> dict[str, Any]:
        def environment(name: str) -> dict[str, Any]:
            env_id = int(_sha("environment", name)[:6], 16)
            return {"id": env_id, "node_id": f"EN_{_sha('environment-node', name)[:14]}", "name": name,
                    "url": self._api(f"/repos/{self.repository}/environments/{quote(name)}"),
                    "html_url": f"{WEB_URL}/{self.repository}/deployments/activity_log?environments_filter="
                                f"{quote(name)}",
                    "created_at": "2026-01-01T00:00:00Z", "updated_at": _now()}

        return {"environments": [environment(name) for name in review.environments], "state": review.state,
                "user": self._user_json(review.user), "comment": review.comment}

    def _label_json(self, name: str) -> dict[str, Any]:
        return {
            "id": int(_sha("label", name)[:8], 16),
            "node_id": f"LA_{_sha('label-node', name)[:14]}",
            "url": self._api(f"/repos/{self.repository}/labels/{quote(name)}"),
            "name": name,
            "color": _sha("color", name)[:6],
            "default": name in ("bug", "documentation", "enhancement"),
            # Not None: GitHub's schema for labels inside pull-request-simple says string, not nullable.
            "description": f"{name} label",
        }


def _positive(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() and int(value) > 0 else default


_ROUTE_HANDLERS = {
    ("GET", "/repos/{owner}/{repo}"): "_get_repository",
    ("GET", "/repos/{owner}/{repo}/releases"): "_list_releases",
    ("POST", "/repos/{owner}/{repo}/releases"): "_create_release",
    ("GET", "/repos/{owner}/{repo}/releases/tags/{tag}"): "_get_release_by_tag",
    ("GET", "/repos/{owner}/{repo}/releases/{release_id}"): "_get_release",
    ("PATCH", "/repos/{owner}/{repo}/releases/{release_id}"): "_update_release",
    ("GET", "/repos/{owner}/{repo}/pulls"): "_list_pulls",
    ("POST", "/repos/{owner}/{repo}/pulls"): "_create_pull",
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"): "_get_pull",
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}"): "_update_pull",
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files"): "_list_pull_files",
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/labels"): "_list_issue_labels",
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"): "_add_issue_labels",
    ("GET", "/repos/{owner}/{repo}/issues"): "_list_issues",
    ("POST", "/repos/{owner}/{repo}/issues"): "_create_issue",
    ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"): "_update_issue",
    ("GET", "/repos/{owner}/{repo}/commits/{ref}"): "_get_commit",
    ("GET", "/repos/{owner}/{repo}/deployments"): "_list_deployments",
    ("POST", "/repos/{owner}/{repo}/deployments"): "_create_deployment",
    ("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}"): "_get_deployment",
    ("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"): "_list_deployment_statuses",
    ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/approvals"): "_list_run_approvals",
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}"): "_get_issue",
    ("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"): "_create_deployment_status",
}
assert set(_ROUTE_HANDLERS) == set(OPERATIONS), "every served route needs its schema indexed"


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(pattern)


_ROUTES = [(method, template, _compile(template), handler) for (method, template), handler in _ROUTE_HANDLERS.items()]


def _match(method: str, path: str) -> tuple[str, dict[str, str], str] | None:
    for route_method, template, pattern, handler in _ROUTES:
        found = pattern.fullmatch(path)
        if found and route_method == method:
            return template, {k: unquote(v) for k, v in found.groupdict().items()}, handler
    return None


class _Handler(BaseHTTPRequestHandler):
    fake: GitHubAPIFake
    protocol_version = "HTTP/1.1"  # keep-alive, like api.github.com

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, data, extra = self.fake._handle(self.command, self.path, headers, raw)
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        self.send_header("X-RateLimit-Limit", "5000")
        self.send_header("X-RateLimit-Remaining", "4999")
        self.send_header("X-RateLimit-Used", "1")
        self.send_header("X-RateLimit-Resource", "core")
        self.send_header("X-RateLimit-Reset", str(int(datetime.now(timezone.utc).timestamp()) + 3600))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass
