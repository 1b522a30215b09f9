"""``TaskFuture``: a standard ``concurrent.futures.Future`` plus progress and a forced stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from qtcompute.engine import _future_state

if TYPE_CHECKING:
    from qtcompute.engine._unretrieved import UnretrievedErrors

log = logging.getLogger("qtcompute.engine")

T = TypeVar("T")

PROGRESS_BACKLOG = 100_000
_progress_locks_made = threading.Lock()  # makes each future's progress lock exactly once


class TaskOwner(Protocol):
    """What a :class:`TaskFuture` needs of the pool that runs its task."""

    unretrieved: UnretrievedErrors
    """Where a failed future is watched until its error is retrieved (see ``_unretrieved``)."""

    def forget(self, future: TaskFuture[Any]) -> None:
        """Drop a task cancelled before it ran (and free its shared memory now)."""

    def stop_task(self, future: TaskFuture[Any]) -> bool:
        """Stop the worker running this task; False if the task is not running."""

    def wait_directly(self, future: TaskFuture[Any], deadline: float | None) -> None:
        """Read the running task's replies in the calling thread until it ends or the deadline
        (see ``_receive``); returns early on anything unusual."""


class TaskFuture(Future[T]):
    """The future of one task submitted to a :class:`~qtcompute.Pool`.

    It keeps the standard ``Future`` contract exactly: ``cancel()`` only cancels a task that has
    not started. Two additions:

    - :meth:`add_progress_callback` subscribes to the values the task reports;
    - :meth:`stop` stops a task *while it runs*, by stopping its worker process (which the pool
      replaces); the future then ends cancelled.
    """

    def __init__(self, task_id: int, owner: TaskOwner) -> None:
        super().__init__()
        self.task_id = task_id
        self._owner = owner
        self._progress_callbacks: list[tuple[Callable[[Any], object], bool]] = []
        # Values that arrive before anyone subscribed (a worker may report before submit() has
        # even returned); replayed to the first callback. Bounded: nobody may ever subscribe.
        self._progress_backlog: list[Any] | None = []
        # Re-entrant, and held while callbacks run: that is what keeps values in order when a
        # callback is added while values are being delivered from another thread. Made on first
        # use (see _progress_guard): most tasks never report progress.
        self._progress_lock: threading.RLock | None = None
        self.pid: int | None = None
        """Process id of the worker running the task, once it runs."""

    def add_progress_callback(self, fn: Callable[[Any], object], *, batch: bool = False) -> None:
        """Call ``fn(value)`` for every progress value the task reports.

        Values reported before the first callback was added are replayed to it (the last
        ``PROGRESS_BACKLOG`` of them), so no value is lost to the race between a fast worker and
        the caller. With ``batch=True``, ``fn`` receives a tuple of the values that arrived
        together (one call per frame, far cheaper under a flood).

        Callbacks run in a pool thread or in the thread blocked in :meth:`result`, in the order
        the task reported, always before the done callbacks. Exceptions raised by ``fn`` are
        logged and ignored, as for done callbacks.
        """
        with self._progress_guard():
            self._progress_callbacks.append((fn, batch))
            backlog, self._progress_backlog = self._progress_backlog, None
            if backlog:
                _call_progress(self, fn, batch, tuple(backlog))

    def cancel(self) -> bool:
        """Cancel the task if it has not started (standard ``Future.cancel``).

        The pool forgets a cancelled task at once: it no longer counts as pending, and the
        shared memory holding its arguments is released now rather than when a worker frees up.
        """
        if not super().cancel():
            return False
        self._owner.forget(self)
        # wait() and as_completed() only count a cancelled future once it is notified.
        _future_state.notify_cancelled(self)
        return True

    def stop(self) -> bool:
        """Stop the task whether or not it has started.

        A pending task is cancelled as by :meth:`cancel`. A running task's worker is terminated
        (SIGTERM, then SIGKILL after a grace period) and replaced; the future ends cancelled at
        once. Returns False if the task had already finished.
        """
        if self.cancel():
            return True
        return self._owner.stop_task(self)

    def result(self, timeout: float | None = None) -> T:
        if _is_running(self):
            deadline = self._wait_directly(timeout)
            timeout = _remaining(timeout, deadline)
        finished, value = _finished_result(self)
        if finished:
            return value  # type: ignore[no-any-return]
        try:
            return super().result(timeout)
        except BaseException:
            # Its error was seen (or the wait interrupted): not logged as never retrieved.
            if self.done() and not self.cancelled():
                self._owner.unretrieved.retrieved(self.task_id)
            raise

    def exception(self, timeout: float | None = None) -> BaseException | None:
        deadline = self._wait_directly(timeout)
        error = super().exception(_remaining(timeout, deadline))
        if error is not None:
            self._owner.unretrieved.retrieved(self.task_id)
        return error

    def _wait_directly(self, timeout: float | None) -> float | None:
        # Fast path for a caller that blocks on a running task: read the reply itself rather
        # than be woken by the supervisor thread (see _receive.Receiver.wait_directly).
        deadline = None if timeout is None else time.monotonic() + timeout
        if _is_running(self):
            self._owner.wait_directly(self, deadline)
        return deadline

    def _progress_guard(self) -> threading.RLock:
        lock = self._progress_lock
        if lock is None:
            with _progress_locks_made:
                if self._progress_lock is None:
                    self._progress_lock = threading.RLock()
                lock = self._progress_lock
        return lock

    def _settle(self, result: Any, error: BaseException | None, label: str = "") -> None:
        """``set_result``/``set_exception`` in one, for the pool; ignores a settled future (its
        owner cancelled it in the meantime). ``label`` names the task in the log if its error is
        never retrieved (see ``_unretrieved``)."""
        if error is not None:
            # Watched before anyone can see the state: a waiter retrieves after this.
            unretrieved = self._owner.unretrieved
            unretrieved.watch(self, error, label or f"#{self.task_id}")
            if not _future_state.settle(self, None, error):
                unretrieved.retrieved(self.task_id)  # cancelled meanwhile: nothing to log
        else:
            _future_state.settle(self, result, None)

    def _report_progress(self, values: tuple[Any, ...]) -> None:
        with self._progress_guard():
            if self._progress_backlog is not None:
                self._progress_backlog.extend(values)
                del self._progress_backlog[:-PROGRESS_BACKLOG]
                return
            for fn, batch in self._progress_callbacks:
                _call_progress(self, fn, batch, values)

    def _set_stopped(self) -> bool:
        """End a *running* future as cancelled (``cancel()`` refuses running futures)."""
        return _future_state.set_stopped(self)


_is_running = _future_state.is_running
_finished_result = _future_state.finished_result


def _remaining(timeout: float | None, deadline: float | None) -> float | None:
    if timeout is None or deadline is None:
        return timeout
    return max(0.0, deadline - time.monotonic())


def _call_progress(
    future: TaskFuture[Any], fn: Callable[[Any], object], batch: bool, values: tuple[Any, ...]
) -> None:
    call_progress(fn, batch, values, future.task_id)


def call_progress(
    fn: Callable[[Any], object], batch: bool, values: tuple[Any, ...], task: object
) -> None:
    """Give ``values`` to a progress callback (all at once if ``batch``); log what it raises,
    since it runs on the pool's thread, where nobody could catch it. Shared with DaskFuture."""
    try:
        if batch:
            fn(values)
        else:
            for value in values:
                fn(value)
    except Exception:
        log.exception("progress callback %r of task %s raised", fn, task)
