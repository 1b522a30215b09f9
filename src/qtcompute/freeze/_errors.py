"""Errors raised by freeze safety.

Hierarchy::

    FreezeError                  base of everything below
    ├── MalformedWorkerArgumentsError
    │       argv says "multiprocessing worker" (``--multiprocessing-fork``) but the
    │       ``name=value`` arguments after it are not what multiprocessing writes
    │       (typed by hand, or a broken launcher)
    └── RunawaySpawnError
            a process that descends from a qtcompute worker reached the app's start or a new
            pool: starting it would spawn more workers, each doing the same (the fork bomb)

Library functions raise these. Only :func:`qtcompute.run` (the app's entry point) turns them
into a one-line message and a non-zero exit, because a frozen app that must refuse to run has
nobody above it to catch anything.
"""

from __future__ import annotations


class FreezeError(RuntimeError):
    """Base class of the errors raised by :mod:`qtcompute.freeze`."""

    exit_code = 1


class MalformedWorkerArgumentsError(FreezeError):
    """The command line claims to start a worker, but its arguments are not multiprocessing's."""

    exit_code = 2


class RunawaySpawnError(FreezeError):
    """A descendant of a worker process tried to start the app or a pool (a fork bomb)."""

    exit_code = 3
