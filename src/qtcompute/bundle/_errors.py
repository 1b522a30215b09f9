"""Errors of ``qtcompute build``.

Hierarchy::

    BuildError                 base; the build did not produce a verified app
    ├── CheckFailedError       the static checker found errors (the app would misbehave)
    ├── FreezeFailedError      PyInstaller stopped (its message is included)
    └── VerifyFailedError      the frozen app did not pass its self-test
        └── RunawaySpawningError
                               the frozen app's process tree grew past the cap: killed

The CLI turns these into a message and exit 1; library callers get the exception (with the
partial :class:`~qtcompute.bundle.BuildReport` as ``.report`` when there is one).
"""

from __future__ import annotations

from typing import Any


class BuildError(Exception):
    """The build did not produce a verified app."""

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


class CheckFailedError(BuildError):
    """The static checker reported errors."""


class FreezeFailedError(BuildError):
    """PyInstaller failed."""


class VerifyFailedError(BuildError):
    """The frozen app failed its self-test."""


class RunawaySpawningError(VerifyFailedError):
    """The frozen app spawned processes without bound and was killed."""
