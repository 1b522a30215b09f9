"""Task errors nobody retrieved, logged once, as asyncio logs "exception was never retrieved":
:class:`UnretrievedErrors` (a weak reference per failed future) and the record's
:data:`MESSAGE`.

What counts as retrieved, and when it is logged: ``docs/engine.md``, "Errors nobody retrieved".
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from typing import Any

log = logging.getLogger("qtcompute.engine")

MESSAGE = "Task exception was never retrieved"
"""How every such record starts (``record.getMessage()``): stable, so a build can count them."""


class UnretrievedErrors:
    """The failed futures of one pool whose error nobody has retrieved yet."""

    def __init__(self) -> None:
        # task id -> (weak reference to the future, its error, the task's name). Plain dict
        # operations, atomic under the GIL: futures are settled and collected in any thread.
        self._watched: dict[int, tuple[weakref.ref[Any], BaseException, str]] = {}

    def watch(self, future: Any, error: BaseException, label: str) -> None:
        task_id = future.task_id
        self._watched[task_id] = (weakref.ref(future, self._collector(task_id)), error, label)

    def retrieved(self, task_id: int) -> None:
        self._watched.pop(task_id, None)

    def flush(self) -> None:
        """The pool has shut down: log every error still unretrieved."""
        for task_id in list(self._watched):
            # A handler that raises must not keep the pool from releasing its resources.
            with contextlib.suppress(Exception):
                self._log(task_id, "at pool shutdown")

    def _collector(self, task_id: int) -> Any:
        def collected(_ref: weakref.ref[Any]) -> None:
            try:
                self._log(task_id, "its future was garbage-collected")
            except Exception:  # pragma: no cover - logging torn down at interpreter exit
                pass

        return collected

    def _log(self, task_id: int, when: str) -> None:
        entry = self._watched.pop(task_id, None)
        if entry is None:
            return  # retrieved, or logged already
        _ref, error, label = entry
        log.error(
            "%s (%s): task %s failed with %s. Handle errors with result() or exception() on "
            "the future, or on_error= in TaskRunner.submit. The error and the worker's "
            "traceback:",
            MESSAGE,
            when,
            label,
            type(error).__name__,
            exc_info=(type(error), error, error.__traceback__),
        )
