"""Freeze safety: frozen apps with worker processes that never turn into fork bombs.

- :func:`run` / :func:`main` - the app's entry point: ``freeze_support()`` first, the runaway
  guard, the start method, then the app.
- :func:`before_pool_start` - called by a pool before it starts anything (``qtcompute.Pool()``
  calls ``_guard.before_pool_start`` with its class): automatic diversion of frozen children
  when the app forgot the entry point, the runaway guard, and the build's self-test.
- :func:`freeze_support` - ``multiprocessing.freeze_support()`` with the worker's command line
  validated first (a mistyped one is one line, not a traceback).

Environment variables: ``QTCOMPUTE_SELFTEST`` (self-test result file, set by ``qtcompute
build``), ``QTCOMPUTE_SELFTEST_WORKERS`` (its pool size) and ``QTCOMPUTE_POOL_OWNER`` (set by
every pool owner, read by the guard in its descendants).
"""

from qtcompute.freeze._argv import Role, role_of
from qtcompute.freeze._entry import before_pool_start, freeze_support, main, run
from qtcompute.freeze._errors import FreezeError, MalformedWorkerArgumentsError, RunawaySpawnError

__all__ = [
    "FreezeError",
    "MalformedWorkerArgumentsError",
    "Role",
    "RunawaySpawnError",
    "before_pool_start",
    "freeze_support",
    "main",
    "role_of",
    "run",
]
