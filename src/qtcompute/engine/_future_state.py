"""The one place that touches the private state of ``concurrent.futures.Future``.

For speed on every round trip (about 2 us of a ~22 us one), and to end a *running* future
cancelled (:func:`set_stopped`), which the public API cannot. Each function mirrors
``concurrent/futures/_base.py`` step for step on the CPython versions in ``PINNED``; on any other
version (``FAST`` is False) the public API is used, except by :func:`set_stopped`. Why, and how
it is tested: ``docs/engine.md``, "Future state".
"""

from __future__ import annotations

import sys
from concurrent.futures import Future, InvalidStateError, _base
from typing import Any

PINNED = ((3, 10), (3, 11), (3, 12), (3, 13))
_RUNNING = _base.RUNNING
_FINISHED = _base.FINISHED
_CANCELLED = _base.CANCELLED
_ENDED = (_base.CANCELLED, _base.CANCELLED_AND_NOTIFIED, _base.FINISHED)

FAST = sys.version_info[:2] in PINNED and all(
    hasattr(Future(), name) for name in ("_state", "_condition", "_waiters", "_done_callbacks")
)


def mark_running(future: Future[Any]) -> None:
    """``set_running_or_notify_cancel()`` for a future nobody else has seen yet."""
    if FAST:
        future._state = _RUNNING  # type: ignore[attr-defined]
    else:
        future.set_running_or_notify_cancel()


def is_running(future: Future[Any]) -> bool:
    """``future.running()``, without the lock (a plain read of one attribute)."""
    return future._state == _RUNNING if FAST else future.running()  # type: ignore[attr-defined]


def finished_result(future: Future[Any]) -> tuple[bool, Any]:
    """``(True, result)`` if the future has finished with a result, without the lock (its
    result is final by then); ``(False, None)`` otherwise, and always on an unpinned version:
    the caller then asks ``Future.result``."""
    if FAST and future._state == _FINISHED and future._exception is None:  # type: ignore[attr-defined]
        return True, future._result  # type: ignore[attr-defined]
    return False, None


def settle(future: Future[Any], result: Any, error: BaseException | None) -> bool:
    """``set_result`` or ``set_exception``; False (and nothing done) if the future has ended
    already (its owner cancelled it). The same steps as the public methods, minus
    ``notify_all`` when no thread waits in ``result()``."""
    if not FAST:
        try:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
        except InvalidStateError:
            return False
        return True
    with future._condition:  # type: ignore[attr-defined]
        if future._state in _ENDED:  # type: ignore[attr-defined]
            return False
        if error is None:
            future._result = result  # type: ignore[attr-defined]
        else:
            future._exception = error  # type: ignore[attr-defined]
        future._state = _FINISHED  # type: ignore[attr-defined]
        for waiter in future._waiters:  # type: ignore[attr-defined]
            if error is None:
                waiter.add_result(future)
            else:
                waiter.add_exception(future)
        if future._condition._waiters:  # type: ignore[attr-defined]
            future._condition.notify_all()  # type: ignore[attr-defined]
    if future._done_callbacks:  # type: ignore[attr-defined]
        future._invoke_callbacks()  # type: ignore[attr-defined]
    return True


def notify_cancelled(future: Future[Any]) -> None:
    """After ``cancel()`` returned True: tell ``wait()``/``as_completed()`` now, as an executor
    does when it reaches a cancelled item (which the pool never will: it forgot the task)."""
    with future._condition:  # type: ignore[attr-defined]  # re-entrant
        if future._state == _CANCELLED:  # type: ignore[attr-defined]
            future.set_running_or_notify_cancel()


def set_stopped(future: Future[Any]) -> bool:
    """End a *running* future as cancelled; False if it had ended already.

    Mirrors ``cancel`` + ``set_running_or_notify_cancel``, telling ``wait()``/``as_completed()``
    waiters too. Used by TaskFuture and DaskFuture.
    """
    with future._condition:  # type: ignore[attr-defined]
        if future._state in _ENDED:  # type: ignore[attr-defined]
            return False
        future._state = _base.CANCELLED_AND_NOTIFIED  # type: ignore[attr-defined]
        for waiter in future._waiters:  # type: ignore[attr-defined]
            waiter.add_cancelled(future)
        future._condition.notify_all()  # type: ignore[attr-defined]
    future._invoke_callbacks()  # type: ignore[attr-defined]
    return True


def start_if_pending(future: Future[Any]) -> bool:
    """``set_running_or_notify_cancel()`` for a future that may be running or ended already
    (a Dask task that starts again after a retry): True the first time only."""
    with future._condition:  # type: ignore[attr-defined]  # re-entrant
        if future._state != _base.PENDING:  # type: ignore[attr-defined]
            return False
        return future.set_running_or_notify_cancel()
