"""Hand-off from foreign threads to the GUI thread, coalesced and paced.

::

    supervisor / worker-facing threads           GUI thread (owner of the Inbox)
    ----------------------------------           -------------------------------
    future done / progress callbacks
        inbox.post(fn, arg) --> deque.append
                            \\-- first item since the last drain?
                                 emit _wake (queued) ---------->  _drain():
                                                                    pop and call fn(arg)
                                                                    until empty or budget spent;
                                                                    if items remain, _wake again

Why this shape:

* One queued signal per event-loop turn, not one per result. A queued signal costs a heap
  allocation and a trip through the event queue; at 100,000 results per second one signal each
  would drown the event loop (and every repaint and timer behind it).
* The drain has a time budget. When the deque holds more than the GUI can handle in one frame,
  the drain stops, re-arms itself and returns to the event loop, so paints, input and timers run
  between batches: the window stays responsive and nothing is dropped.
* ``collections.deque`` append and popleft are atomic, so producers never take the lock that
  guards the "wake already pending" flag for longer than a flag flip.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from qtpy.QtCore import QCoreApplication, QObject, Qt, QThread, Signal

from qtcompute.qt._compat import emit

logger = logging.getLogger("qtcompute.qt")

DEFAULT_BUDGET_S = 0.006
"""Longest time one drain may run before yielding to the event loop (well under a 16 ms frame)."""


class Inbox(QObject):
    """A thread-safe mailbox whose callbacks run in the thread that owns it (the GUI thread).

    ``post`` may be called from any thread, any number of times; the callbacks run in order, in
    batches, one batch per event-loop turn, each batch at most ``budget_s`` seconds long.
    """

    _wake = Signal()

    def __init__(self, parent: QObject | None = None, *, budget_s: float = DEFAULT_BUDGET_S):
        super().__init__(parent)
        app = QCoreApplication.instance()
        if app is None:
            raise RuntimeError(
                "qtcompute.qt needs a QApplication (or QCoreApplication) before its first use: "
                "create the application object first, then the TaskRunner."
            )
        if self.thread() is not app.thread():
            logger.warning(
                "qtcompute.qt.Inbox created outside the GUI thread; its callbacks run in %r",
                QThread.currentThread(),
            )
        self.budget_s = budget_s
        self._items: deque[tuple[Callable[[Any], None], Any]] = deque()
        self._lock = threading.Lock()
        self._armed = False  # a _wake is queued and its drain has not started yet
        self._closed = False
        self.batches = 0  # drains run so far (for tests and benchmarks)
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    def post(self, fn: Callable[[Any], None], arg: Any = None) -> None:
        """Queue ``fn(arg)`` to run in the owner's thread. Thread-safe, never blocks."""
        if self._closed:
            return
        self._items.append((fn, arg))
        with self._lock:
            if self._armed:
                return
            self._armed = True
        self._emit_wake()

    def close(self) -> None:
        """Drop everything still queued and refuse further posts."""
        self._closed = True
        self._items.clear()

    def pending(self) -> int:
        """How many callbacks are waiting."""
        return len(self._items)

    def _rearm(self) -> None:
        with self._lock:
            if self._armed:
                return
            self._armed = True
        self._emit_wake()

    def _emit_wake(self) -> None:
        try:
            emit(self._wake)
        except RuntimeError:  # the C++ object is gone (its owner was destroyed): stop posting
            self.close()

    def _drain(self) -> None:
        # Disarm first: anything posted from now on arms a new wake, so no item is ever left
        # behind with no drain scheduled (at worst one drain finds the deque already empty).
        with self._lock:
            self._armed = False
        self.batches += 1
        items = self._items
        deadline = time.perf_counter() + self.budget_s
        while items:
            fn, arg = items.popleft()
            try:
                fn(arg)
            except Exception:
                # A faulty user callback must not stop the deliveries behind it; report it the
                # way Qt reports an exception in a slot (pytest-qt turns it into a test failure).
                sys.excepthook(*sys.exc_info())
            if time.perf_counter() >= deadline:
                break
        if items and not self._closed:
            self._rearm()
