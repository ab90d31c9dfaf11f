"""Values from outside (inputs, records read back, servers' answers), checked once where they enter.

Each function returns the value it accepts, or raises an InputError that names the input, the
value and what was expected. Callers pass the checked value on and never re-parse the raw text.
"""

from __future__ import annotations

import ipaddress
import math
import re
from urllib.parse import urlsplit

from deploy_actions.errors import InputError

# git check-ref-format's rules (man git-check-ref-format), plus no leading '-' so a name can
# never be read as an option: no control characters, space, ~ ^ : ? * [ \ or DEL; no '..', '@{',
# '//'; no component starting with '.' or ending with '.lock'; not ending with '/' or '.'; not '@'.
_REF_BAD_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_HEX_COMMIT = re.compile(r"^(?:[0-9a-f]{7,40}|[0-9a-f]{64})$")
_OWNER_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
MAX_DURATION = 24 * 3600.0  # seconds: the ceiling of a duration whose input names none
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m(?!s))?\s*"
                       r"(?:(\d+(?:\.\d+)?)\s*s)?\s*(?:(\d+)\s*ms)?\s*$")
MAX_TEXT = 1_000_000  # characters; a "reason" longer than this is a mistake (and GitHub caps bodies lower)


def ref_name(name: str, value: str, *, what: str = "a git branch or tag name") -> str:
    """A branch, tag or remote name as `git check-ref-format` accepts it, never option-like."""
    problem = ref_problem(value)
    if problem:
        raise InputError(name, value, f"{what} ({problem})")
    return value


def ref_problem(value: str) -> str | None:
    """Why `value` is not a safe ref name, or None when it is."""
    if not value:
        return "empty"
    if value.startswith("-"):
        return "it must not start with '-'"
    if _REF_BAD_CHARS.search(value):
        return "no spaces, control characters or any of ~ ^ : ? * [ \\"
    if ".." in value or "@{" in value or "//" in value:
        return "no '..', '@{' or '//'"
    if value == "@" or value.endswith(("/", ".")) or value.startswith("/"):
        return "it must not be '@', start with '/' or end with '/' or '.'"
    if any(part.startswith(".") or part.endswith(".lock") for part in value.split("/")):
        return "no part may start with '.' or end with '.lock'"
    if len(value.encode()) > 255:
        return "at most 255 bytes"
    return None


def ref_prefix(name: str, value: str) -> str:
    """A tag prefix such as 'v' or 'hotfix-v' or 'app/v': a prefix of a valid tag name."""
    if value and ref_problem(value + "0.0.0"):
        raise InputError(name, value, f"a tag prefix ({ref_problem(value + '0.0.0')})")
    return value


PATH_MAX = 4096
NAME_MAX = 255


def path_text(name: str, value: str) -> str:
    """A file or folder path as text: no NUL or line breaks, names and the whole within the file system's
    limits (where it may point is the command's to check: inside a repository, a regular file...)."""
    text = value.strip()
    if re.search(r"[\x00\r\n]", text):
        raise InputError(name, value, "a path without NUL or line breaks")
    if len(text.encode()) > PATH_MAX or any(len(part.encode()) > NAME_MAX for part in text.split("/")):
        raise InputError(name, value, f"a path whose names are at most {NAME_MAX} bytes ({PATH_MAX} in all)")
    return text


def commit_sha(name: str, value: str) -> str:
    """A commit id: 7 to 40 lowercase hex digits (SHA-1), or 64 (SHA-256 repositories)."""
    text = value.strip().lower()
    if not _HEX_COMMIT.match(text):
        raise InputError(name, value, "a commit id of 7 to 40 hex digits (or 64 for SHA-256)")
    return text


def repository(name: str, value: str) -> str:
    """A GitHub repository as owner/name."""
    text = value.strip()
    if not _OWNER_NAME.match(text) or text.endswith((".git", ".")) or "/." in text:
        raise InputError(name, value, "a GitHub repository as owner/name")
    return text


def url(name: str, value: str, *, https_only: bool = False) -> str:
    """An absolute http(s) URL with a host. With https_only, plain http is allowed only for
    loopback hosts (a local test server), never across a network."""
    text = value.strip()
    expected = "an absolute https URL (http only for loopback)" if https_only else "an absolute http(s) URL"
    if any(c in text for c in "\r\n\t ") or len(text) > 8192:
        raise InputError(name, value, expected)
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError for a port out of range or not a number
    except ValueError:
        raise InputError(name, value, expected) from None
    if parts.scheme not in ("http", "https") or not host:
        raise InputError(name, value, expected)
    if parts.username is not None or parts.password is not None:
        raise InputError(name, "<a URL with credentials>", expected + " without credentials in it")
    if https_only and parts.scheme == "http" and not is_loopback(host):
        raise InputError(name, value, expected)
    return text


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def one_line(name: str, value: str, *, limit: int = 1024) -> str:
    """Text that must stay on one line (a commit trailer's value, a name): no control characters."""
    if re.search(r"[\x00-\x1f\x7f\u2028\u2029\x85]", value) or len(value) > limit:
        raise InputError(name, value, f"one line of text of at most {limit} characters, without control characters")
    return value


def text(name: str, value: str, *, limit: int = MAX_TEXT) -> str:
    """Free text (a reason, a message): bounded, and without NUL or other non-printing controls."""
    if len(value) > limit:
        raise InputError(name, value, f"at most {limit} characters (got {len(value)})")
    if re.search(r"[\x00-\x08\x0b\x0e-\x1f\x7f]", value):
        raise InputError(name, value, "text without control characters")
    return value


def describe_limit(seconds: float) -> str:
    """A duration ceiling as people write it: 24h, 15m, 90s."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def duration(name: str, raw: str, limit: float = MAX_DURATION) -> float:
    """'10m', '90s', '1h30m', '250ms' or a bare number of seconds → seconds, at most `limit`."""
    text = raw.strip()
    expected = f"a duration such as 90s, 10m or 1h30m, at most {describe_limit(limit)}"
    if len(text) > 64:
        raise InputError(name, raw, expected)
    try:
        seconds = float(text)
    except ValueError:
        match = _DURATION.match(text)
        if not text or not match or not any(match.groups()):
            raise InputError(name, raw, expected) from None
        h, m, s, ms = (float(g) if g else 0.0 for g in match.groups())
        seconds = h * 3600 + m * 60 + s + ms / 1000
    if not math.isfinite(seconds) or seconds < 0 or seconds > limit:
        raise InputError(name, raw, expected)
    return seconds
