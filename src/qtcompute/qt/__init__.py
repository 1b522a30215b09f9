"""The Qt bridge: outcomes of worker-process tasks as signals in the GUI thread.

Built on qtpy, so it works with PyQt5, PyQt6 and PySide6 (choose with ``QT_API``). Importing it
imports a Qt binding; importing :mod:`qtcompute` or :mod:`qtcompute.engine` never does.

.. code-block:: python

    from qtcompute import Pool
    from qtcompute.qt import TaskRunner

    runner = TaskRunner(Pool(workers=2), parent=window)
    runner.submit(crunch, data, owner=window, on_result=window.show_result)

See ``docs/qt.md`` for the delivery model (coalescing, pacing, "latest only" progress) and the
lifetime rules.
"""

from __future__ import annotations

from qtcompute.qt._compat import API_NAME, is_alive, is_deleted
from qtcompute.qt._dispatch import Inbox
from qtcompute.qt._handle import Delivery, TaskHandle
from qtcompute.qt._runner import TaskRunner

__all__ = [
    "API_NAME",
    "Delivery",
    "Inbox",
    "TaskHandle",
    "TaskRunner",
    "is_alive",
    "is_deleted",
]
