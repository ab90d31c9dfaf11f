"""Command specifications: one table per command that drives the flags, the action inputs,
the outputs and their documentation, so the three can never drift apart.

A value comes from the flag, else from the action input (`INPUT_<NAME>`), else the default,
and is converted here once, with one-line errors that name the input.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from deploy_actions import actions_runtime, untrusted
from deploy_actions.errors import FileError, InputError
from deploy_actions.git.identity import BOT_EMAIL, BOT_NAME

# str: free text (bounded); line: one line (trailers, names); ref: a git branch, tag or remote name;
# tag-prefix: a prefix of one; commit: hex commit id; repository: owner/name; url: absolute http(s);
# run-url: https (http only on loopback); path: a file or folder path (what it may name is the command's);
# yaml: YAML text the command reads (in .deploy-actions.yml, the mapping or list written in place).
# An input whose default is the runner's own `${{ github.repository }}` stays `str` and is checked where it is
# used (github.parse_repository): under act that default is a local path, and most runs never use it.
Kind = Literal["str", "line", "bool", "lines", "choice", "int", "float", "duration", "ref", "tag-prefix",
               "commit", "repository", "url", "run-url", "path", "yaml"]

# Kinds whose empty value is a value ("" = none), not a request for the default.
TEXT_KINDS = frozenset({"str", "line", "path", "ref", "tag-prefix", "commit", "repository", "url", "run-url"})

# Every number has a finite ceiling; an option may lower (or raise) its own with `maximum`.
DEFAULT_MAXIMUM: dict[str, float] = {"int": 1_000_000, "float": 1_000_000.0, "duration": untrusted.MAX_DURATION}

_TRUE = {"true", "True", "TRUE", "yes", "1", "on"}
_FALSE = {"false", "False", "FALSE", "no", "0", "off"}


@dataclass(frozen=True)
class Option:
    """One input of an action and the flag of the same name."""

    name: str  # hyphenated, as in action.yml: "tag-prefix"
    description: str
    default: str | None = None  # spelled as in action.yml
    kind: Kind = "str"
    choices: tuple[str, ...] = ()
    required: bool = False
    secret: bool = False  # masked before anything prints; never echoed in errors
    action_default: str | None = None  # default in action.yml when it differs, e.g. ${{ github.token }}
    env_fallback: str | None = None  # an environment variable read when the input is unset
    maximum: float | None = None  # int, float, duration: the largest value accepted (else DEFAULT_MAXIMUM)

    @property
    def is_flag(self) -> bool:
        # Secrets never get a flag: a token on the command line ends up in `ps` and shell history.
        return not self.secret

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    @property
    def limit(self) -> float | None:
        """The largest number accepted (int, float and duration options), else None."""
        if self.kind not in DEFAULT_MAXIMUM:
            return None
        return self.maximum if self.maximum is not None else DEFAULT_MAXIMUM[self.kind]


@dataclass(frozen=True)
class Output:
    name: str
    description: str


@dataclass(frozen=True)
class CommandSpec:
    """What `deploy-actions <name>` accepts and returns. `run` is 'module:function', imported lazily."""

    name: str
    description: str
    run: str
    options: tuple[Option, ...]
    outputs: tuple[Output, ...]
    action: bool = True  # has a composite action folder of the same name
    cli_options: tuple[Option, ...] = field(default=())  # flags with no action input (e.g. --repo)
    configurable: bool = False  # reads settings from the repository's .deploy-actions.yml

    def all_options(self) -> tuple[Option, ...]:
        return self.cli_options + self.options


def convert(option: Option, raw: str) -> Any:
    """Turn the text of an input into the typed value the command receives."""
    shown = "***" if option.secret else raw
    kind = option.kind
    if kind == "str":
        if option.secret:
            return raw
        return untrusted.text(option.name, raw.strip())
    if kind == "line":
        return untrusted.one_line(option.name, raw.strip())
    if kind == "bool":
        value = raw.strip()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise InputError(option.name, shown, "true or false")
    if kind == "yaml":
        return untrusted.text(option.name, raw)
    if kind == "lines":
        return tuple(line.strip() for line in untrusted.text(option.name, raw).splitlines() if line.strip())
    if kind == "choice":
        value = raw.strip()
        if value not in option.choices:
            raise InputError(option.name, shown, "one of " + ", ".join(option.choices))
        return value
    if kind == "ref":
        return untrusted.ref_name(option.name, raw.strip())
    if kind == "tag-prefix":
        return untrusted.ref_prefix(option.name, raw.strip())
    if kind == "commit":
        return untrusted.commit_sha(option.name, raw)
    if kind == "repository":
        return untrusted.repository(option.name, raw)
    if kind == "path":
        return untrusted.path_text(option.name, raw)
    if kind in ("url", "run-url"):
        return untrusted.url(option.name, raw, https_only=kind == "run-url")
    limit = option.limit
    assert limit is not None, f"unknown option kind {kind}"
    if kind == "int":
        text = raw.strip()
        if not re.fullmatch(r"[+]?\d{1,12}", text):
            raise InputError(option.name, shown, f"a whole number from 0 to {_number(limit)}")
        number = int(text)
        if number > limit:
            raise InputError(option.name, shown, f"a whole number from 0 to {_number(limit)}")
        return number
    if kind == "float":
        try:
            real = float(raw.strip()) if len(raw) < 64 else math.nan
        except ValueError:
            raise InputError(option.name, shown, "a number") from None
        if not math.isfinite(real) or real < 0 or real > limit:
            raise InputError(option.name, shown, f"a number from 0 to {_number(limit)}")
        return real
    return untrusted.duration(option.name, raw, limit)


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:g}"


def resolve(spec: CommandSpec, given: Mapping[str, str | None]) -> dict[str, Any]:
    """Typed values for every option: flag, else INPUT_*, else the repository's
    .deploy-actions.yml (configurable commands), else default. Secrets are masked first."""
    settings: dict[str, Any] = {}
    if spec.configurable:
        from deploy_actions.config import config_root, load_settings

        settings = load_settings(spec, config_root(spec, given))
    raw: dict[str, str | None] = {}
    for option in spec.all_options():
        value = given.get(option.dest)
        if value is None and option in spec.options:
            value = actions_runtime.get_input(option.name)
        if value is None and option.env_fallback:
            value = os.environ.get(option.env_fallback) or None
        if value is None and option.dest in settings:
            value = settings[option.dest].raw
        if value is None or (value.strip() == "" and option.kind not in TEXT_KINDS):
            value = option.default
        raw[option.dest] = value
        if option.secret and value:
            actions_runtime.mask(value)
    values: dict[str, Any] = {}
    for option in spec.all_options():
        value = raw[option.dest]
        if value is None or value == "":
            if option.required:
                raise InputError(option.name, "", "a value (this input is required)")
            values[option.dest] = _empty(option)
            continue
        try:
            values[option.dest] = convert(option, value)
        except InputError as err:
            setting = settings.get(option.dest)
            if setting is None or setting.raw != value:
                raise
            from deploy_actions.config import CONFIG_FILE

            raise FileError(f"{spec.name}.{option.name}: got {value!r}; expected {err.expected}",
                            file=CONFIG_FILE, line=setting.line) from None
    return values


def _empty(option: Option) -> Any:
    if option.kind == "lines":
        return ()
    if option.kind == "bool":
        return False
    if option.kind in ("int", "float", "duration"):
        return None
    return ""


# How gitops-bump and gate reach a registry. Credentials go to the image's registry host only (and to
# its known token service); a token service elsewhere gets them only when listed in registry-auth-hosts.
REGISTRY_ACCESS = (
    Option("registry-username", "Registry user name (for ghcr.io: any name with a token password).", "",
           kind="line"),
    Option("registry-password", "Registry password or token.", "", secret=True, env_fallback="REGISTRY_PASSWORD"),
    Option("registry-auth-hosts", "Token services on other hosts that may receive the registry credentials, one "
           "host per line (the registry's own host, and auth.docker.io for Docker Hub, always may).", "",
           kind="lines"),
)


# What every GitOps commit and record names (gitops-bump and deployment write them): where the
# image came from, who and which run made the change, and the commit's author.
GITOPS_PROVENANCE = (
    Option("source-repository", "Code repository the image was built from.", "",
           action_default="${{ github.repository }}", env_fallback="GITHUB_REPOSITORY", kind="repository"),
    Option("source-commit", "Commit the image was built from.", "", action_default="${{ github.sha }}",
           env_fallback="GITHUB_SHA", kind="commit"),
    Option("run-url", "URL of the run making the change (default: this workflow run).", "", kind="run-url"),
    Option("actor", "Who triggered the deployment.", "", action_default="${{ github.actor }}",
           env_fallback="GITHUB_ACTOR", kind="line"),
    Option("git-user-name", "Author of the GitOps commit.", BOT_NAME, kind="line"),
    Option("git-user-email", "E-mail of the GitOps commit's author.", BOT_EMAIL, kind="line"),
)

# How gitops-bump and deployment keep pushing while other pipelines land first (deploy_actions.git).
PUSH_TIMEOUT = Option(
    "push-timeout", "How long to keep re-applying the change on the new tip and pushing while other "
    "pipelines push first (exponential backoff with full jitter), e.g. 15m; at most 6h.", "15m", kind="duration",
    maximum=6 * 3600)
