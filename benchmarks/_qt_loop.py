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


def start_heartbeat(app: Any) -> tuple[Any, list[float]]:
    """A 1 ms precise QTimer recording when it fires; returns once it runs steadily.

    The gaps between ticks are the event-loop stalls the benchmarks report.
    """
    from qtpy.QtCore import Qt, QTimer

    ticks: list[float] = []
    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(1)
    heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    heartbeat.start()
    wait_until(app, lambda: len(ticks) > 50)
    return heartbeat, ticks
