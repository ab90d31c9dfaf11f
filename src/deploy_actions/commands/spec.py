"""Command specifications: one table per command that drives the flags, the action inputs,
the outputs and their documentation, so the three can never drift apart.

A value comes from the flag, else from the action input (`INPUT_<NAME>`), else the default,
and is converted here once, with one-line errors that name the input.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from deploy_actions import actions_runtime
from deploy_actions.errors import FileError, InputError

Kind = Literal["str", "bool", "lines", "choice", "int", "float", "duration"]

_TRUE = {"true", "True", "TRUE", "yes", "1", "on"}
_FALSE = {"false", "False", "FALSE", "no", "0", "off"}
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m(?!s))?\s*"
                       r"(?:(\d+(?:\.\d+)?)\s*s)?\s*(?:(\d+)\s*ms)?\s*$")


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

    @property
    def is_flag(self) -> bool:
        # Secrets never get a flag: a token on the command line ends up in `ps` and shell history.
        return not self.secret

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


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
    if option.kind == "str":
        return raw.strip() if not option.secret else raw
    if option.kind == "bool":
        value = raw.strip()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise InputError(option.name, shown, "true or false")
    if option.kind == "lines":
        return tuple(line.strip() for line in raw.splitlines() if line.strip())
    if option.kind == "choice":
        value = raw.strip()
        if value not in option.choices:
            raise InputError(option.name, shown, "one of " + ", ".join(option.choices))
        return value
    if option.kind == "int":
        try:
            number = int(raw.strip())
        except ValueError:
            raise InputError(option.name, shown, "a whole number") from None
        if number < 0:
            raise InputError(option.name, shown, "a whole number, 0 or more")
        return number
    if option.kind == "float":
        try:
            real = float(raw.strip())
        except ValueError:
            raise InputError(option.name, shown, "a number") from None
        if real != real or real < 0:  # NaN or negative
            raise InputError(option.name, shown, "a number, 0 or more")
        return real
    if option.kind == "duration":
        return parse_duration(option.name, raw)
    raise AssertionError(f"unknown option kind {option.kind}")


def parse_duration(name: str, raw: str) -> float:
    """'10m', '90s', '1h30m', '250ms' or a bare number of seconds → seconds."""
    text = raw.strip()
    try:
        seconds = float(text)
    except ValueError:
        match = _DURATION.match(text)
        if not text or not match or not any(match.groups()):
            raise InputError(name, raw, "a duration such as 90s, 10m or 1h30m") from None
        h, m, s, ms = (float(g) if g else 0.0 for g in match.groups())
        seconds = h * 3600 + m * 60 + s + ms / 1000
    if seconds < 0 or seconds != seconds:
        raise InputError(name, raw, "a duration of 0 or more")
    return seconds


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
        if value is None or (value.strip() == "" and option.kind != "str"):
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


BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"

# What every GitOps commit and record names (gitops-bump and deployment write them): where the
# image came from, who and which run made the change, and the commit's author.
GITOPS_PROVENANCE = (
    Option("source-repository", "Code repository the image was built from.", "",
           action_default="${{ github.repository }}", env_fallback="GITHUB_REPOSITORY"),
    Option("source-commit", "Commit the image was built from.", "", action_default="${{ github.sha }}",
           env_fallback="GITHUB_SHA"),
    Option("run-url", "URL of the run making the change (default: this workflow run).", ""),
    Option("actor", "Who triggered the deployment.", "", action_default="${{ github.actor }}",
           env_fallback="GITHUB_ACTOR"),
    Option("git-user-name", "Author of the GitOps commit.", BOT_NAME),
    Option("git-user-email", "E-mail of the GitOps commit's author.", BOT_EMAIL),
)
