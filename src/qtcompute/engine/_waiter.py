"""Block until a worker pipe, a process sentinel or the wake-up pipe is ready.

``multiprocessing.connection.wait`` builds a new selector on every call, which costs more than a
whole tiny-task round trip on Linux. On POSIX we keep one ``selectors`` object (epoll, kqueue)
for the life of the pool and only register and unregister as workers come and go. Windows has no
select() for pipes and process handles, so there we call ``connection.wait``, which wraps
``WaitForMultipleObjects`` with overlapped reads, exactly as CPython's executor does.
"""

from __future__ import annotations

import selectors
import sys
from typing import Any


class Waiter:
    """A set of waitable objects, each with a tag returned when it is ready."""

    def __init__(self) -> None:
        self._tags: dict[Any, Any] = {}
        self._selector: selectors.BaseSelector | None = None
        if sys.platform != "win32":
            self._selector = selectors.DefaultSelector()

    def add(self, obj: Any, tag: Any) -> None:
        if obj in self._tags:
            return
        self._tags[obj] = tag
        if self._selector is not None:
            self._selector.register(obj, selectors.EVENT_READ, tag)

    def remove(self, obj: Any) -> None:
        if self._tags.pop(obj, None) is not None and self._selector is not None:
            try:
                self._selector.unregister(obj)
            except (KeyError, ValueError, OSError):
                pass  # already closed: epoll forgot it with the descriptor

    def wait(self, timeout: float | None) -> list[Any]:
        if self._selector is not None:
            return [key.data for key, _events in self._selector.select(timeout)]
        from multiprocessing.connection import wait

        return [self._tags[obj] for obj in wait(list(self._tags), timeout)]

    def close(self) -> None:
        if self._selector is not None:
            self._selector.close()
        self._tags.clear()
