"""One task as the GUI thread sees it: a QObject whose signals carry the task's outcome.

A :class:`TaskHandle` wraps any ``concurrent.futures.Future``. Its callbacks arrive in foreign
threads (the executor's), so every one of them only *posts* to the runner's
:class:`~qtcompute.qt._dispatch.Inbox`; the signals are emitted later, in the GUI thread, by the
``_deliver_*`` methods. Every ``_deliver_*`` first checks that the handle is still live: once its
owner is destroyed (or the runner shuts down) nothing of the task reaches Python code again.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import qtpy
from qtpy.QtCore import QObject, Signal

from qtcompute.engine._unretrieved import MESSAGE as NEVER_RETRIEVED
from qtcompute.qt._compat import emit, is_alive, is_deleted

if TYPE_CHECKING:
    from qtcompute.qt._dispatch import Inbox

logger = logging.getLogger("qtcompute.qt")

_EMPTY = object()


class Delivery(enum.Enum):
    """How progress values reach the GUI thread. Results and errors are always delivered."""

    EACH = "each"
    """Every value, one ``progress(value)`` emission each, in order (drained in paced batches)."""

    BATCH = "batch"
    """Every value, in order, as one ``progress(list)`` emission per event-loop turn (floods)."""

    LATEST = "latest"
    """Only the newest value per event-loop turn; older ones are dropped (progress bars)."""


class TaskHandle(QObject):
    """The GUI-thread face of one future: signals for its result, error, cancellation, progress.

    Made by :meth:`TaskRunner.submit` or :meth:`TaskRunner.deliver`; not created directly.
    Exactly one of ``finished``, ``failed`` and ``cancelled`` is emitted, after every progress
    value, unless the handle's owner was destroyed first (then nothing more is emitted at all).
    """

    finished = Signal(object)
    """The task's return value."""
    failed = Signal(object)
    """The exception the task raised (a worker's traceback is chained as ``__cause__``)."""
    cancelled = Signal()
    """The task was cancelled (or stopped) before it produced a result."""
    progress = Signal(object)
    """A progress value, or a list of them with :attr:`Delivery.BATCH`."""

    def __init__(
        self,
        future: Future[Any],
        inbox: Inbox,
        *,
        delivery: Delivery = Delivery.EACH,
        owner: QObject | None = None,
        on_settled: Callable[[TaskHandle], None] | None = None,
    ) -> None:
        super().__init__()
        self._future = future
        self._inbox = inbox
        self._delivery = Delivery(delivery)
        self._owner = owner
        self._on_settled = on_settled
        self._live = True  # False once the owner is gone, the task settled or was detached
        self._lock = threading.Lock()
        self._batch: list[Any] = []
        self._latest: Any = _EMPTY
        self._callbacks: dict[str, list[Callable[..., Any]]] = {
            "result": [],
            "error": [],
            "progress": [],
            "cancelled": [],
        }
        if owner is not None:
            owner.destroyed.connect(self._owner_destroyed)

    # -- public -------------------------------------------------------------------------------

    @property
    def future(self) -> Future[Any]:
        """The wrapped future (do not block on it in the GUI thread)."""
        return self._future

    @property
    def owner(self) -> QObject | None:
        """The QObject whose destruction cancels this task, if any."""
        return self._owner

    @property
    def delivery(self) -> Delivery:
        """How progress values are delivered."""
        return self._delivery

    def is_live(self) -> bool:
        """True while the handle will still emit: not settled, owner not destroyed."""
        return self._live

    def cancel(self) -> bool:
        """Cancel the task: a pending task is dropped; a running one is stopped if the future can
        (qtcompute's ``TaskFuture.stop()`` kills and replaces its worker). ``cancelled`` follows.

        Returns False when the task could not be cancelled (already done, or running on an
        executor whose futures cannot be stopped).
        """
        return self._cancel(stop_running=True)

    def _cancel(self, *, stop_running: bool) -> bool:
        if self._future.cancel():
            return True
        stop = getattr(self._future, "stop", None)
        if stop_running and callable(stop) and self._future.running():
            return bool(stop())
        return False

    def on_result(self, fn: Callable[[Any], Any]) -> TaskHandle:
        """Call ``fn(result)`` in the GUI thread when the task succeeds. Returns the handle."""
        self._callbacks["result"].append(fn)
        return self

    def on_error(self, fn: Callable[[BaseException], Any]) -> TaskHandle:
        """Call ``fn(exception)`` in the GUI thread when the task fails. Returns the handle."""
        self._callbacks["error"].append(fn)
        return self

    def on_progress(self, fn: Callable[[Any], Any]) -> TaskHandle:
        """Call ``fn(value)`` (a list with ``Delivery.BATCH``) per delivery. Returns the handle."""
        self._callbacks["progress"].append(fn)
        return self

    def on_cancelled(self, fn: Callable[[], Any]) -> TaskHandle:
        """Call ``fn()`` in the GUI thread when the task is cancelled. Returns the handle."""
        self._callbacks["cancelled"].append(fn)
        return self

    # -- foreign threads: post only -----------------------------------------------------------

    def _attach(self) -> None:
        """Hook the future's callbacks (after the caller had a chance to add its own)."""
        add_progress = getattr(self._future, "add_progress_callback", None)
        if callable(add_progress):
            add_progress(self._progress_from_executor)
        self._future.add_done_callback(self._done_from_executor)

    def _progress_from_executor(self, value: Any) -> None:
        if not self._live:
            return
        if self._delivery is Delivery.EACH:
            self._inbox.post(self._deliver_progress, value)
            return
        with self._lock:
            if self._delivery is Delivery.BATCH:
                first = not self._batch
                self._batch.append(value)
            else:
                first = self._latest is _EMPTY
                self._latest = value
        if first:
            self._inbox.post(self._deliver_pending_progress)

    def _done_from_executor(self, future: Future[Any]) -> None:
        self._inbox.post(self._deliver_done, future)

    # -- GUI thread ---------------------------------------------------------------------------

    def _take_pending_progress(self) -> Any:
        with self._lock:
            if self._delivery is Delivery.BATCH:
                value, self._batch = (self._batch or _EMPTY), []
            else:
                value, self._latest = self._latest, _EMPTY
        return value

    def _deliver_pending_progress(self, _: Any = None) -> None:
        value = self._take_pending_progress()
        if value is not _EMPTY:
            self._deliver_progress(value)

    def _deliver_progress(self, value: Any) -> None:
        if not self._live or is_deleted(self):
            return
        emit(self.progress, value)
        self._call("progress", value)

    def _deliver_done(self, future: Future[Any]) -> None:
        if not self._live or is_deleted(self):
            return
        self._deliver_pending_progress()  # normally already delivered; keeps the order if not
        if future.cancelled():
            self._settle()
            emit(self.cancelled)
            self._call("cancelled")
            return
        exc = future.exception()
        self._settle()
        if exc is not None:
            logger.debug("task failed: %r", exc)
            # Retrieved from the future, but seen by nobody: logged as the engine logs errors
            # nobody retrieved (see qtcompute.engine._unretrieved).
            unseen = not self._callbacks["error"] and not _has_receivers(self, self.failed)
            emit(self.failed, exc)
            self._call("error", exc)
            if unseen:
                logger.error(
                    "%s (no on_error and nothing connected to failed): a task failed with %s. "
                    "Pass on_error= to TaskRunner.submit or connect the handle's failed signal.",
                    NEVER_RETRIEVED,
                    type(exc).__name__,
                    exc_info=(type(exc), exc, exc.__traceback__),
                )
        else:
            result = future.result()
            emit(self.finished, result)
            self._call("result", result)

    def _call(self, kind: str, *args: Any) -> None:
        for fn in list(self._callbacks[kind]):
            if not is_alive(fn):
                continue  # a bound method of a destroyed QObject: never touch it
            try:
                fn(*args)
            except Exception:
                sys.excepthook(*sys.exc_info())

    def _settle(self) -> None:
        """The outcome is about to be emitted: release the owner and the runner's reference."""
        self._live = False
        self._release_owner()
        if self._on_settled is not None:
            self._on_settled(self)
            self._on_settled = None

    def _detach(self, cancel: bool = True, stop_running: bool = True) -> None:
        """Never emit again (owner destroyed or runner shut down); cancel the task if asked."""
        if not self._live:
            return
        self._live = False
        for callbacks in self._callbacks.values():
            callbacks.clear()
        if cancel:
            self._cancel(stop_running=stop_running)
        self._release_owner()
        if self._on_settled is not None:
            self._on_settled(self)
            self._on_settled = None

    def _release_owner(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None and not is_deleted(owner):
            with contextlib.suppress(RuntimeError, TypeError):  # already disconnected
                owner.destroyed.disconnect(self._owner_destroyed)

    def _owner_destroyed(self, *_: Any) -> None:
        # Emitted from the owner's C++ destructor: the owner must not be touched any more.
        self._owner = None
        self._detach()


def _has_receivers(obj: QObject, signal: Any) -> bool:
    """Is anything connected to ``signal`` of ``obj``? True when the binding cannot tell."""
    try:
        if qtpy.PYQT5 or qtpy.PYQT6:
            return bool(obj.receivers(signal) > 0)
        from qtpy.QtCore import QMetaMethod

        return bool(obj.isSignalConnected(QMetaMethod.fromSignal(signal)))
    except Exception:
        return True
