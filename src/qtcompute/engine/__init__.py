"""The engine: a supervised pool of persistent worker processes (``Pool``). It knows nothing of Qt.

This package re-exports the public names. ``docs/engine.md`` follows one task through the
modules ("One task, from submit to result()"), says what each module owns ("Who owns what") and
draws the data flow ("The data flow").
"""

from qtcompute.engine import errors
from qtcompute.engine._future import TaskFuture
from qtcompute.engine._pool import Pool
from qtcompute.engine._records import PoolEvent, PoolStats, WorkerState
from qtcompute.engine._worker import report_progress

__all__ = [
    "Pool",
    "PoolEvent",
    "PoolStats",
    "TaskFuture",
    "WorkerState",
    "errors",
    "report_progress",
]
