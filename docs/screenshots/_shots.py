"""What the screenshot scripts share: waiting on the event loop, and capturing a window."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtpy.QtCore import QEventLoop, QTimer


def wait_until(app: Any, done: Callable[[], bool], timeout: float = 120.0) -> None:
    """Run the event loop, blocked on events (the workers need the cores), until ``done()``."""
    deadline = time.monotonic() + timeout
    guard = QTimer()  # wakes the loop now and then so that the clock is looked at
    guard.start(50)
    try:
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError("the window did not reach the state to capture")
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    finally:
        guard.stop()


def capture(app: Any, window: Any, out: Path) -> None:
    """Write ``window`` to ``out``: ImageMagick's ``import`` on X (what the screen shows), else
    Qt's own grab."""
    deadline = time.monotonic() + 0.5  # let the last repaint reach the X server
    wait_until(app, lambda: time.monotonic() > deadline)
    if shutil.which("import"):
        subprocess.run(["import", "-window", str(int(window.winId())), str(out)], check=True)
    else:
        window.grab().save(str(out))
