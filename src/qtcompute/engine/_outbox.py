"""What the pool keeps of each task (:class:`Task`), and the :class:`Outbox` of actions that
settle futures, report progress and emit events once the pool's lock is released (user
callbacks may call back into the pool, and the lock is not re-entrant)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from qtcompute.engine import _shm
from qtcompute.engine._future import TaskFuture
from qtcompute.engine._messages import task_tag

log = logging.getLogger("qtcompute.engine")


class Task:
    """One submitted task as the pool tracks it (from ``Dispatcher.submit`` to its end)."""

    __slots__ = (
        "cache",
        "deadline",
        "finished",
        "frame",
        "future",
        "label",
        "reusable",
        "segments",
        "started",
        "tag",
        "timeout",
    )

    def __init__(
        self,
        future: TaskFuture,
        frame: bytes,
        label: str,
        timeout: float | None,
        segments: list[str],
        cache: _shm.SegmentCache | None = None,
    ) -> None:
        self.future = future
        self.tag = task_tag(future.task_id)  # how its frames start
        self.segments = segments  # shared memory holding its large arguments, if any
        self.cache = cache  # where those segments were borrowed from
        self.reusable: set[str] | None = None  # the ones the worker reported it unmapped
        self.frame: bytes | None = frame
        self.label = label
        self.timeout = timeout
        self.deadline: float | None = None
        self.started = False
        self.finished = False


class Outbox(list):  # type: ignore[type-arg]
    """What to do once the lock is released: settle futures, report progress, emit events.

    A list of ``(function, args)`` actions (a list itself: one is made per round trip on each
    side, and a list subclass without ``__init__`` is made in C).
    """

    __slots__ = ()

    def settle(self, task: Task, result: Any = None, error: BaseException | None = None) -> None:
        """Settle a task exactly once (callers hold the lock, so ``finished`` is race-free)."""
        if self._end(task):
            self.append((task.future._settle, (result, error, task.label)))

    def settle_with(self, task: Task, compute: Callable[..., Any], *args: Any) -> None:
        """Settle a task with ``compute(*args)`` -> (result, error), run once the lock is
        released (a slow step, such as copying a large result)."""
        if self._end(task):
            self.append((_settle_computed, (task.future, compute, args)))

    def cancel_running(self, task: Task) -> None:
        if self._end(task):
            self.append((task.future._set_stopped, ()))

    def cancel_pending(self, task: Task) -> None:
        if task.started:  # put back in the queue after a failed send: already marked running
            self.cancel_running(task)
        elif self._end(task):
            self.append((task.future.cancel, ()))

    def end_quietly(self, task: Task) -> None:
        """End a task whose future is already settled (its owner cancelled it)."""
        self._end(task)

    def _end(self, task: Task) -> bool:
        if task.finished:
            return False
        task.finished = True
        sent = task.frame is None  # a task frame is dropped once it reached a worker
        task.frame = None
        if task.segments:
            # Back to the pool's cache if no worker can still map them, else unlinked (and a
            # task that never reached a worker frees its shared memory here).
            self.append((_shm.end_loans, (task.segments, task.cache, task.reusable, sent)))
        return True

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        self.append((fn, args))

    def deliver(self) -> None:
        if not self:
            return
        actions = self[:]
        del self[:]
        interrupted: BaseException | None = None
        for fn, args in actions:
            try:
                fn(*args)
            except Exception:
                # The app's log handler may be what raised (a log view whose widget is gone):
                # the actions after this one (settling tasks) must run all the same.
                with contextlib.suppress(Exception):
                    log.exception("error while delivering %r", fn)
            except BaseException as exc:  # Ctrl-C: the other tasks are still settled first
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted


def _settle_computed(future: TaskFuture[Any], compute: Callable[..., Any], args: Any) -> None:
    try:
        result, error = compute(*args)
    except BaseException as exc:  # Ctrl-C in the middle of a copy: still settled, exactly once
        future._settle(None, exc)
        raise
    future._settle(result, error)  # (no task name: an error here is about the copy)
