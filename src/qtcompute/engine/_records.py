"""The records a pool hands out: worker states, stats snapshots and events."""

from __future__ import annotations

import enum
from typing import NamedTuple


class WorkerState(enum.Enum):
    """The life of a worker process, as reported in :class:`~qtcompute.PoolEvent`."""

    STARTING = "starting"
    """Spawned; importing modules and running the initializer. Tasks wait for it."""
    READY = "ready"
    """Idle and waiting for a task."""
    BUSY = "busy"
    """Running exactly one task (one task in flight per worker, so a stop loses nothing else)."""
    STOPPING = "stopping"
    """Asked to exit (graceful Stop) or terminated; its task, if any, is already settled."""
    CRASHED = "crashed"
    """Died unexpectedly; its task failed with WorkerCrashedError and a replacement follows."""
    STOPPED = "stopped"
    """Exited and reaped."""


class PoolStats(NamedTuple):
    """A snapshot of a pool's workers and queue."""

    workers: int
    """Configured number of workers."""
    alive: int
    """Worker processes currently alive (including ones starting)."""
    busy: int
    """Workers running a task."""
    pending: int
    """Tasks waiting for a worker."""
    crashes: int
    """Workers that died unexpectedly since the pool started."""
    restarts: int
    """Replacement workers started (after crashes, timeouts and stops)."""


class PoolEvent(NamedTuple):
    """A change in one worker's state, delivered to ``Pool.subscribe`` listeners."""

    kind: WorkerState
    pid: int
    stats: PoolStats
    detail: str = ""
