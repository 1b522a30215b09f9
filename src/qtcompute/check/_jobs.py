"""Checking many files in worker processes (``--jobs``).

::

    check_paths ── files, in chunks ──► ProcessPoolExecutor.map ──► check_batch() in a worker
         ▲                                                              │
         └──── results, in chunk order (map keeps it) ◄─────────────────┘

Files are independent and the checker is CPU-bound pure Python, so processes, not threads. The
parent only discovers files and merges results; it sorts the findings as a single run does, so
the output is the same whatever the number of workers or the order they finish in.

Why ``concurrent.futures`` and not qtcompute's own ``Pool``: the checker has to keep working when
the engine it ships next to does not (it runs in pre-commit on any branch of any project, and
imports nothing of the engine or of Qt); it needs only an ordered ``map``; and the standard
executor's behaviour is documented and known to every reader. Under spawn and forkserver (the
default on macOS, Windows and, from Python 3.14, Linux) a worker imports only
``qtcompute.check``; the ``python -m`` entry points are never re-run in workers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

log = logging.getLogger("qtcompute.check")

T = TypeVar("T")
R = TypeVar("R")

# A worker costs a process start (milliseconds under fork, a few hundred under spawn) and a
# checked file a few milliseconds: below this many files per worker, fewer workers are faster.
MIN_FILES_PER_WORKER = 24
# Chunks per worker: enough that one worker does not finish last with a chunk of big files.
CHUNKS_PER_WORKER = 8
MAX_CHUNK = 64


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def worker_count(jobs: int, files: int) -> int:
    """How many worker processes are worth starting; 1 means checking in this process."""
    return max(1, min(jobs, files // MIN_FILES_PER_WORKER))


def chunked(items: Sequence[T], workers: int) -> list[Sequence[T]]:
    size = max(1, min(MAX_CHUNK, len(items) // (workers * CHUNKS_PER_WORKER)))
    return [items[start : start + size] for start in range(0, len(items), size)]


def map_in_processes(
    function: Callable[[Sequence[T]], R], chunks: Sequence[Sequence[T]], workers: int
) -> list[R] | None:
    """``function`` over ``chunks`` in ``workers`` processes, results in chunk order.

    None when worker processes cannot be used here (no working semaphores in a sandbox, a worker
    killed by the OS): the caller then checks in its own process, which is slower but complete.
    """
    try:
        with ProcessPoolExecutor(max_workers=workers) as executor:
            return list(executor.map(function, chunks))
    except (OSError, ImportError, NotImplementedError, BrokenProcessPool) as exc:
        log.warning("checking in this process only: worker processes failed (%r)", exc)
        return None
