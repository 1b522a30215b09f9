"""Helpers shared by the Qt benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(app: Any, done: Callable[[], bool], timeout: float = 60.0) -> None:
    """Run the event loop (blocking on events, not spinning) until ``done()``."""
    from qtpy.QtCore import QEventLoop, QTimer

    deadline = time.perf_counter() + timeout
    guard = QTimer()  # wake up now and then so the deadline is noticed on a silent loop
    guard.start(50)
    try:
        while not done():
            if time.perf_counter() > deadline:
                raise TimeoutError("benchmark step timed out")
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    finally:
        guard.stop()
