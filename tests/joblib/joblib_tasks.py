"""Task functions for the joblib back-end tests (importable by spawned workers)."""

from __future__ import annotations

import os
import signal
import time


def square(i: int) -> int:
    return i * i


def pid_of(_i: int) -> int:
    return os.getpid()


def fail_on(i: int, bad: int) -> int:
    if i == bad:
        raise ValueError(f"item {i} is bad")
    return i


def slow_unless_first(i: int) -> int:
    if i:
        time.sleep(0.5)  # the work itself: cancelled batches never start it
    return i


def die_on(i: int, bad: int) -> int:
    if i == bad:  # a real kill (on Windows SIGTERM is TerminateProcess)
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
    return i


def inner_parallel(i: int) -> tuple[int, list[int], str]:
    """A Parallel call inside a task: which pids computed it, and on which back end."""
    from joblib import Parallel, delayed
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    pids = Parallel(n_jobs=2)(delayed(pid_of)(j) for j in range(4))
    return os.getpid(), sorted(set(pids)), type(backend).__name__


def report_then_square(i: int) -> int:
    from qtcompute import report_progress

    report_progress(i)
    return i * i


def inner_qtcompute_parallel(_i: int) -> tuple[int, list[int], int]:
    """The "qtcompute" back end asked for explicitly inside a task: no pool of pools."""
    import multiprocessing

    from joblib import Parallel, delayed, parallel_config

    import qtcompute.joblib  # noqa: F401

    with parallel_config(backend="qtcompute"):
        pids = Parallel(n_jobs=2)(delayed(pid_of)(j) for j in range(4))
    return os.getpid(), sorted(set(pids)), len(multiprocessing.active_children())


def wait_for_fifo(path: str) -> int:
    """A straggler: blocks until the test opens the FIFO for writing (no sleep, no timer)."""
    with open(path, encoding="utf-8") as fifo:
        return int(fifo.read() or 0)
