"""Helpers for the engine tests: gates, waiting for processes and pool events."""

from __future__ import annotations

import os
import select
import threading
import time
from pathlib import Path

import psutil

from qtcompute import Pool, WorkerState


class Gate:
    """A FIFO that blocks ``engine_tasks.wait_for_gate`` until :meth:`release`."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        os.mkfifo(self.path)

    def release(self) -> None:
        # Opening a FIFO for writing blocks until the task has opened it for reading.
        with open(self.path, "w"):
            pass

    def release_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.release, daemon=True)
        thread.start()
        return thread


def wait_gone(pids, timeout: float = 10.0) -> list[int]:
    """Wait until processes that are *not our children* exit; return those still alive.

    Blocks on a pidfd (Linux 5.3+: readable when the process exits), so nothing polls; falls back
    to psutil elsewhere. Never use it on our own workers before the pool reaped them: psutil would
    reap them first and confuse multiprocessing.
    """
    deadline = time.monotonic() + timeout
    alive = []
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        except (AttributeError, OSError):
            fd = None
        if fd is None:
            try:
                _gone, still = psutil.wait_procs([psutil.Process(pid)], timeout=timeout)
            except psutil.NoSuchProcess:
                continue
            alive += [p.pid for p in still]
            continue
        try:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                alive.append(pid)
        finally:
            os.close(fd)
    return alive


def wait_for_state(pool: Pool, kind: WorkerState, pid: int | None = None, *, count: int = 1):
    """Subscribe before acting; ``.wait(timeout)`` returns the matching events."""
    return _EventWaiter(pool, kind, pid, count)


class _EventWaiter:
    def __init__(self, pool: Pool, kind: WorkerState, pid: int | None, count: int) -> None:
        self.events: list = []
        self._done = threading.Event()
        self._kind, self._pid, self._count = kind, pid, count
        self._unsubscribe = pool.subscribe(self._on_event)

    def _on_event(self, event) -> None:
        if event.kind is self._kind and (self._pid is None or event.pid == self._pid):
            self.events.append(event)
            if len(self.events) >= self._count:
                self._done.set()

    def wait(self, timeout: float = 30.0) -> list:
        assert self._done.wait(timeout), f"no {self._kind} event within {timeout} s"
        self._unsubscribe()
        return self.events
