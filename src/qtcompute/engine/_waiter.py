"""The supervisor thread's one wait over worker pipes, process sentinels, the bell and the wake-up
pipe (:func:`make_waiter`): epoll on Linux, ``selectors`` elsewhere on POSIX,
``multiprocessing.connection.wait`` on Windows.

Why one selector kept for the pool's life: ``docs/engine.md``, "The supervisor thread".
"""

from __future__ import annotations

import select
import selectors
import sys
from typing import Any


def make_waiter() -> _EpollWaiter | _SelectorWaiter | _WindowsWaiter:
    """A set of waitable objects, each with a tag returned when it is ready."""
    if hasattr(select, "epoll"):
        return _EpollWaiter()
    if sys.platform != "win32":
        return _SelectorWaiter()
    return _WindowsWaiter()


class _EpollWaiter:
    """Linux: the epoll object itself, no ``selectors`` layer (without frame counts it is on the
    round-trip path: a thread that waits on a result unregisters and re-registers its worker's
    pipe)."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._tags: dict[int, Any] = {}

    def add(self, obj: Any, tag: Any) -> None:
        fd = obj if type(obj) is int else obj.fileno()
        if fd not in self._tags:
            self._tags[fd] = tag
            self._epoll.register(fd, select.EPOLLIN)

    def remove(self, obj: Any) -> None:
        fd = obj if type(obj) is int else obj.fileno()
        if self._tags.pop(fd, None) is not None:
            try:
                self._epoll.unregister(fd)
            except OSError:
                pass  # already closed: epoll forgot it with the descriptor

    def wait(self, timeout: float | None) -> list[Any]:
        ready = self._epoll.poll(-1 if timeout is None else timeout)
        tags = self._tags
        return [tags[fd] for fd, _events in ready if fd in tags]

    def close(self) -> None:
        self._epoll.close()
        self._tags.clear()


class _SelectorWaiter:
    """Other POSIX systems: kqueue or poll through ``selectors``."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._tags: dict[Any, Any] = {}

    def add(self, obj: Any, tag: Any) -> None:
        if obj not in self._tags:
            self._tags[obj] = tag
            self._selector.register(obj, selectors.EVENT_READ, tag)

    def remove(self, obj: Any) -> None:
        if self._tags.pop(obj, None) is not None:
            try:
                self._selector.unregister(obj)
            except (KeyError, ValueError, OSError):
                pass  # already closed

    def wait(self, timeout: float | None) -> list[Any]:
        return [key.data for key, _events in self._selector.select(timeout)]

    def close(self) -> None:
        self._selector.close()
        self._tags.clear()


class _WindowsWaiter:
    """Windows: ``connection.wait`` (WaitForMultipleObjects with overlapped reads)."""

    def __init__(self) -> None:
        self._tags: dict[Any, Any] = {}

    def add(self, obj: Any, tag: Any) -> None:
        self._tags.setdefault(obj, tag)

    def remove(self, obj: Any) -> None:
        self._tags.pop(obj, None)

    def wait(self, timeout: float | None) -> list[Any]:
        from multiprocessing.connection import wait

        return [self._tags[obj] for obj in wait(list(self._tags), timeout)]

    def close(self) -> None:
        self._tags.clear()
