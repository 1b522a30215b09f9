"""``TaskRunner``: any ``concurrent.futures.Executor``, with its outcomes delivered as Qt signals.

The runner speaks to futures only. With qtcompute's ``Pool`` it also relays the pool's worker
events (``Pool.subscribe``) and progress (``TaskFuture.add_progress_callback``) and can stop a
running task (``TaskFuture.stop``); with another executor (``ProcessPoolExecutor``, a cluster
client's executor) it delivers results, errors and cancellation, and skips what the executor's
futures cannot do. A later backend therefore needs no new bridge.
"""

from __future__ import annotations

import inspect
import logging
import pickle
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, Future
from typing import Any

from qtpy.QtCore import QCoreApplication, QObject, Signal

from qtcompute.qt._compat import emit
from qtcompute.qt._dispatch import DEFAULT_BUDGET_S, Inbox
from qtcompute.qt._handle import Delivery, TaskHandle

logger = logging.getLogger("qtcompute.qt")

# What an executor's submit() raises for the task rather than for the call: a broken or shut-down
# executor (RuntimeError, BrokenExecutor), an argument it pickles at once. In PyQt5 an exception
# that escapes a slot aborts the process, so these fail the task's handle instead.
_TASK_LEVEL_ERRORS = (RuntimeError, BrokenExecutor, pickle.PicklingError)


class _Lifetime:
    """What must survive the runner's C++ object to shut its executor down (see ``destroyed``)."""

    def __init__(self, executor: Executor, owns_executor: bool, inbox: Inbox) -> None:
        self.executor = executor
        self.owns_executor = owns_executor
        self.inbox = inbox
        self.unsubscribe: Callable[[], Any] | None = None
        self.closed = False

    def close(self, wait: bool, cancel_futures: bool) -> None:
        if self.closed:
            return
        self.closed = True
        self.inbox.close()  # Python-side only: safe even when its C++ object is already gone
        if self.unsubscribe is not None:
            try:
                self.unsubscribe()
            except Exception:
                logger.debug("unsubscribe failed", exc_info=True)
            self.unsubscribe = None
        if not self.owns_executor:
            return
        kwargs: dict[str, bool] = {"cancel_futures": cancel_futures}
        if cancel_futures and _accepts(self.executor.shutdown, "stop_running"):
            kwargs["stop_running"] = True  # qtcompute's Pool: quitting never waits for a task
        self.executor.shutdown(wait, **kwargs)


def _failed(error: BaseException) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_exception(error)
    return future


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


class _OnDestroyed:
    """The runner's ``destroyed`` slot; not a method: it runs while the C++ side is going away.

    PyQt5 holds a non-method slot only as long as Python does: if the runner's window is in a
    reference cycle and the garbage collector frees it before Qt's deferred delete, the slot is
    freed while still connected and Qt later calls freed memory (a segfault, seen with
    ``WA_DeleteOnClose`` windows and pytest-qt's ``addWidget``). So every slot is kept here until
    it has run.
    """

    pending: set[_OnDestroyed] = set()

    def __init__(self, lifetime: _Lifetime) -> None:
        self.lifetime = lifetime
        _OnDestroyed.pending.add(self)

    def __call__(self, *_: Any) -> None:
        _OnDestroyed.pending.discard(self)
        self.lifetime.close(wait=False, cancel_futures=True)


class TaskRunner(QObject):
    """Submit work to an executor; get results, errors and progress as signals in the GUI thread.

    Parameters
    ----------
    executor:
        Any ``concurrent.futures.Executor``; qtcompute's ``Pool`` unlocks progress, pool events
        and stopping running tasks.
    parent:
        Optional QObject parent. When the runner is destroyed, its executor is shut down.
    owns_executor:
        Shut the executor down with the runner (the default). Pass False to share an executor.
    shutdown_on_quit:
        Shut down when ``QCoreApplication.aboutToQuit`` is emitted (the default).
    budget_s:
        Longest time one batch of deliveries may hold the GUI thread.

    Nothing here blocks the GUI thread on a queue, a pipe or a future: outcomes are posted from
    the executor's threads and delivered in batches, one batch per event-loop turn.
    """

    pool_state_changed = Signal(object)
    """A ``PoolEvent`` from qtcompute's ``Pool`` (worker starting, ready, busy, crashed...)."""

    def __init__(
        self,
        executor: Executor,
        parent: QObject | None = None,
        *,
        owns_executor: bool = True,
        shutdown_on_quit: bool = True,
        budget_s: float = DEFAULT_BUDGET_S,
    ) -> None:
        super().__init__(parent)
        self._executor = executor
        self._inbox = Inbox(self, budget_s=budget_s)
        self._handles: set[TaskHandle] = set()
        self._lifetime = _Lifetime(executor, owns_executor, self._inbox)
        self.destroyed.connect(_OnDestroyed(self._lifetime))
        subscribe = getattr(executor, "subscribe", None)
        if callable(subscribe):
            self._lifetime.unsubscribe = subscribe(self._pool_event_from_executor)
        app = QCoreApplication.instance()
        if shutdown_on_quit and app is not None:
            app.aboutToQuit.connect(self.shutdown)

    @property
    def executor(self) -> Executor:
        """The wrapped executor."""
        return self._executor

    @property
    def inbox(self) -> Inbox:
        """The thread-safe mailbox into the GUI thread (``inbox.post(fn, arg)`` from any thread)."""
        return self._inbox

    def active(self) -> int:
        """Tasks submitted or delivered through this runner whose outcome is not emitted yet."""
        return len(self._handles)

    def is_shut_down(self) -> bool:
        """True after :meth:`shutdown` (or the runner's destruction)."""
        return self._lifetime.closed

    def submit(
        self,
        fn: Callable[..., Any],
        /,
        *args: Any,
        owner: QObject | None = None,
        on_result: Callable[[Any], Any] | None = None,
        on_error: Callable[[BaseException], Any] | None = None,
        on_progress: Callable[[Any], Any] | None = None,
        progress: Delivery = Delivery.EACH,
        **kwargs: Any,
    ) -> TaskHandle:
        """Run ``fn(*args, **kwargs)`` on the executor and deliver its outcome in the GUI thread.

        ``owner``: when this QObject is destroyed, the task is cancelled (stopped if running and
        the future supports it) and none of its callbacks or signals fire. ``on_result``,
        ``on_error`` and ``on_progress`` are called in the GUI thread; the returned
        :class:`TaskHandle` has the same outcomes as signals. ``progress`` chooses how progress
        values are delivered (every one, batched lists, or only the latest).

        The keyword names above are taken; pass a ``functools.partial`` for a task that needs
        a keyword argument of the same name.

        Never raises for a failure of the task: an argument that cannot be pickled, a broken or
        shut-down executor reach ``on_error`` and ``failed`` like any task error (in PyQt5 an
        exception escaping a slot aborts the app). A call that is wrong in itself (a function
        that is not callable) raises ``TypeError``. After :meth:`shutdown` nothing is delivered
        any more: the task is not run and a warning is logged.
        """
        if self._lifetime.closed:
            logger.warning(
                "TaskRunner.submit(%r) after the runner was shut down: the task was not run and "
                "nothing will be emitted. Submit before the application quits, or check "
                "is_shut_down() first.",
                fn,
            )
            handle = TaskHandle(
                _failed(RuntimeError("the TaskRunner has been shut down")), self._inbox
            )
            handle._detach(cancel=False)  # emits nothing, like every task after shutdown()
            return handle
        try:
            future = self._executor.submit(fn, *args, **kwargs)
        except _TASK_LEVEL_ERRORS as exc:
            logger.debug("submit of %r failed: %r", fn, exc)
            future = _failed(exc)
        return self.deliver(
            future,
            owner=owner,
            on_result=on_result,
            on_error=on_error,
            on_progress=on_progress,
            progress=progress,
        )

    def deliver(
        self,
        future: Future[Any],
        *,
        owner: QObject | None = None,
        on_result: Callable[[Any], Any] | None = None,
        on_error: Callable[[BaseException], Any] | None = None,
        on_progress: Callable[[Any], Any] | None = None,
        progress: Delivery = Delivery.EACH,
    ) -> TaskHandle:
        """Deliver the outcome of a future from any executor to the GUI thread.

        Same callbacks and lifetime rules as :meth:`submit`. Progress is delivered only when the
        future has ``add_progress_callback`` (qtcompute's ``TaskFuture``).
        """
        handle = TaskHandle(
            future, self._inbox, delivery=progress, owner=owner, on_settled=self._forget
        )
        if on_result is not None:
            handle.on_result(on_result)
        if on_error is not None:
            handle.on_error(on_error)
        if on_progress is not None:
            handle.on_progress(on_progress)
        self._handles.add(handle)
        handle._attach()
        return handle

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = True) -> None:
        """Stop delivering, cancel outstanding tasks, and shut the executor down if owned.

        With ``cancel_futures`` (the default), pending tasks are cancelled and running tasks whose
        futures can be stopped (qtcompute's ``TaskFuture``) are stopped, so quitting never waits
        for a long computation. No signal of any task is emitted afterwards. Idempotent;
        connected to ``aboutToQuit``.
        """
        if self._lifetime.closed:
            return
        # An owned executor stops its running tasks in one go below (stopping them one by one
        # would start a replacement worker for each); a shared one only loses our tasks.
        stop_here = not self._lifetime.owns_executor
        for handle in list(self._handles):
            handle._detach(cancel=cancel_futures, stop_running=stop_here)
        self._lifetime.close(wait=wait, cancel_futures=cancel_futures)

    def _forget(self, handle: TaskHandle) -> None:
        self._handles.discard(handle)

    def _pool_event_from_executor(self, event: Any) -> None:
        self._inbox.post(self._emit_pool_event, event)

    def _emit_pool_event(self, event: Any) -> None:
        emit(self.pool_state_changed, event)
