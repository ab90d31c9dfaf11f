"""Image references in Docker's grammar, parsed once and compared by normalised repository.

`nginx` ≡ `docker.io/library/nginx`; `ghcr.io/org/app` ≠ `ghcr.io/org/app-worker`.
A first path component is a registry only if it contains `.` or `:`, or is `localhost`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

DOCKER_HUB = "docker.io"
_LEGACY_HUBS = {"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
                   r"(?::[0-9]+)?$|^\[[0-9A-Fa-f:]+\](?::[0-9]+)?$")


class ImageRefError(ValueError):
    """The text is not an image reference; the message says why."""


@dataclass(frozen=True, order=True)
class ImageRef:
    """registry/repository[:tag][@digest], with Docker Hub's defaults filled in."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """
        >>> ImageRef.parse("nginx:1.25").name
        'docker.io/library/nginx'
        >>> str(ImageRef.parse("ghcr.io/org/app:v1@sha256:" + "a" * 64))[:26]
        'ghcr.io/org/app:v1@sha256:'
        """
        raw = text.strip()
        if not raw or any(c.isspace() for c in raw):
            raise ImageRefError(f"{text!r} is not an image reference")
        rest, digest = raw, None
        if "@" in rest:
            rest, digest = rest.split("@", 1)
            if not _DIGEST.match(digest):
                raise ImageRefError(f"{text!r} has a malformed digest {digest!r}")
        tag = None
        last_slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > last_slash:
            rest, tag = rest[:colon], rest[colon + 1:]
            if not _TAG.match(tag):
                raise ImageRefError(f"{text!r} has a malformed tag {tag!r}")
        parts = rest.split("/")
        registry = DOCKER_HUB
        if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
            registry = parts[0]
            parts = parts[1:]
            if not _HOST.match(registry):
                raise ImageRefError(f"{text!r} has a malformed registry {registry!r}")
        if registry in _LEGACY_HUBS:
            registry = DOCKER_HUB
        if registry == DOCKER_HUB and len(parts) == 1:
            parts = ["library", *parts]
        if not parts or not all(_COMPONENT.match(p) for p in parts):
            raise ImageRefError(f"{text!r} has a malformed repository path (lower-case a-z, 0-9, . _ - and /)")
        return cls(registry, "/".join(parts), tag, digest)

    @property
    def name(self) -> str:
        """The normalised repository: registry/path, no tag, no digest."""
        return f"{self.registry}/{self.repository}"

    def same_repository(self, other: ImageRef) -> bool:
        return self.name == other.name

    def with_tag(self, tag: str | None, digest: str | None = None) -> ImageRef:
        return replace(self, tag=tag, digest=digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def short(self) -> str:
        """How people write it: Docker Hub's defaults left out (`nginx:1.25`)."""
        text = self.name
        if self.registry == DOCKER_HUB:
            text = self.repository.removeprefix("library/")
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def is_valid_tag(tag: str) -> bool:
    return bool(_TAG.match(tag))


def is_valid_digest(digest: str) -> bool:
    return bool(_DIGEST.match(digest))
