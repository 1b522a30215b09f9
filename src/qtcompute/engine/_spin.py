"""Spin briefly before a blocking wait while the other end answers fast: :class:`Spinner`, the
adaptive decision and the loop (its check comes from ``_channel``).

Why, and what it costs: ``docs/engine.md``, "Spinning before sleeping".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

DEFAULT_LIMIT = 100e-6  # seconds; a tiny task's whole round trip fits in it several times


class Spinner:
    """Decides whether to spin before a blocking wait, and does the spinning."""

    __slots__ = ("_check", "_enabled", "_since", "limit")

    def __init__(self, limit: float, check: Callable[[], Any]) -> None:
        self.limit = limit
        self._check = check  # non-blocking: a true value when the wait is over
        self._enabled = False
        self._since = 0.0

    def spin(self, limit: float | None = None) -> Any:
        """What ``check`` returned once it returned something true, or None: then block, and
        call :meth:`woke` when the blocking wait returns.

        ``limit``: spin at most this long this time, a part of the usual limit; running out of
        it says nothing about the other end, so spinning stays on (call again for the rest).
        """
        clock = time.perf_counter
        self._since = start = clock()
        if not self._enabled:
            return None
        check = self._check
        end = start + (self.limit if limit is None else limit)
        while True:
            ready = check()
            if ready:
                return ready
            if clock() >= end:
                if limit is None:
                    self._enabled = False  # the other end is slow: sleep until it is fast again
                return None

    def woke(self) -> None:
        """The blocking wait after :meth:`spin` ended: spin next time if it was short."""
        if self.limit > 0 and time.perf_counter() - self._since < self.limit:
            self._enabled = True
