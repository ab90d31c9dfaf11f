"""The errors a user can cause or meet, each with the exit status it maps to.

Anything raised from here is printed as one line (and, inside GitHub Actions, as an
annotation); never as a traceback. Anything else escaping a command is a bug.
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


class DeployActionsError(Exception):
    """Base of every expected failure."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        return f"{where}{self.message}"


def _show(value: object) -> str:
    text = str(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return repr(text)


class InputError(DeployActionsError):
    """An input (flag or action input) has a value we cannot use."""

    def __init__(self, name: str, value: object, expected: str):
        super().__init__(f"input '{name}': got {_show(value)}; expected {expected}")
        self.name = name
        self.value = value
        self.expected = expected


class FileError(DeployActionsError):
    """A file the user pointed us at is missing, unreadable or not in the expected shape."""


class RefusedError(DeployActionsError):
    """A rule of the runbook refused the operation (a rolled-back version, say); the message says
    which rule, why, and how to get past it."""

    exit_code = EXIT_CHECK_FAILED


class OperationError(DeployActionsError):
    """Something outside our control failed (git push rejected, API error, registry down)."""

    exit_code = EXIT_CHECK_FAILED
