"""``DaskFuture``: a standard ``concurrent.futures.Future`` for a task on a Dask cluster.

It has what qtcompute's ``TaskFuture`` adds to the standard future, so the Qt bridge (and any
code written against ``Pool``) uses it unchanged: :meth:`add_progress_callback`, :meth:`stop`,
``pid``. It is settled exactly once, by whichever comes first: the task's outcome, its timeout,
``stop()``, or the loss of the scheduler; the others find it settled and do nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import TYPE_CHECKING, Any, TypeVar

from qtcompute.engine._future import call_progress
from qtcompute.engine._future_state import notify_cancelled, set_stopped, start_if_pending

if TYPE_CHECKING:
    from qtcompute.dask._pool import DaskPool


T = TypeVar("T")

PROGRESS_BACKLOG = 100_000  # as the engine's TaskFuture


class DaskFuture(Future[T]):
    """The future of one task submitted to a :class:`~qtcompute.dask.DaskPool`.

    The standard ``Future`` contract holds: ``cancel()`` cancels only a task that has not started
    on a worker. Additions, as on ``qtcompute.TaskFuture``:

    - :meth:`add_progress_callback` subscribes to the values the task reports;
    - :meth:`stop` stops the task whether it runs or not; the future ends cancelled at once;
    - ``pid`` and ``worker``: the process id and address of the Dask worker running it.
    """

    def __init__(self, key: str, pool: DaskPool) -> None:
        super().__init__()
        self.key = key
        self._pool = pool
        self._progress_callbacks: list[tuple[Callable[[Any], object], bool]] = []
        self._progress_backlog: list[Any] | None = []  # replayed to the first callback
        self._progress_lock = threading.RLock()  # held while callbacks run: keeps the order
        self.pid: int | None = None
        """Process id of the Dask worker running the task, once it runs."""
        self.worker: str | None = None
        """Address of the Dask worker running the task, once it runs."""

    def add_progress_callback(self, fn: Callable[[Any], object], *, batch: bool = False) -> None:
        """Call ``fn(value)`` for every value the task reports, in order (see
        ``TaskFuture.add_progress_callback``). Values reported before the first callback was
        added are replayed to it. Callbacks run in the Dask client's event-loop thread: keep
        them short (the Qt bridge only posts to the GUI thread)."""
        with self._progress_lock:
            self._progress_callbacks.append((fn, batch))
            backlog, self._progress_backlog = self._progress_backlog, None
            if backlog:
                self._call_progress(fn, batch, tuple(backlog))

    def cancel(self) -> bool:
        """Cancel the task if it has not started on a worker (standard ``Future.cancel``)."""
        if not super().cancel():
            return False
        notify_cancelled(self)  # what an executor does on reaching a cancelled item
        self._pool._forget(self)
        return True

    def stop(self) -> bool:
        """Stop the task whether or not it has started; the future ends cancelled at once.

        The Dask task is cancelled with ``force=True``; if it was running, its worker raises an
        exception in the task's thread at its next Python bytecode (native code that holds the
        thread stops when it returns). Returns False if the task had already finished.
        """
        if self.cancel():
            return True
        if not self._set_stopped():
            return False
        self._pool._forget(self)
        return True

    # --- for the pool ---------------------------------------------------------------------

    def _started(self, pid: int | None, worker: str | None) -> bool:
        """The task started on a worker (again, after a retry): True the first time."""
        self.pid, self.worker = pid, worker
        return start_if_pending(self)

    def _settle(self, result: Any, error: BaseException | None) -> bool:
        """``set_result`` or ``set_exception``; ignores a future that is already settled."""
        try:
            if error is None:
                self.set_result(result)
            else:
                self.set_exception(error)
        except InvalidStateError:  # checked under the future's lock: no race with stop()
            return False
        return True

    def _set_stopped(self) -> bool:
        """End a *running* future as cancelled (``cancel()`` refuses running futures)."""
        return set_stopped(self)

    def _report_progress(self, values: tuple[Any, ...]) -> None:
        with self._progress_lock:
            if self._progress_backlog is not None:
                self._progress_backlog.extend(values)
                del self._progress_backlog[:-PROGRESS_BACKLOG]
                return
            for fn, batch in self._progress_callbacks:
                self._call_progress(fn, batch, values)

    def _call_progress(self, fn: Callable[[Any], object], batch: bool, values: tuple) -> None:
        call_progress(fn, batch, values, self.key)
