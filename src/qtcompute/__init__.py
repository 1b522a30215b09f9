"""qtcompute: Qt desktop apps whose heavy computation runs in worker processes.

The areas, each a subpackage:

- :mod:`qtcompute.engine` - a Qt-free pool of persistent worker processes (``Pool``).
- :mod:`qtcompute.qt` - delivers results, errors and progress as signals in the GUI thread.
- :mod:`qtcompute.freeze` - the entry point that makes frozen apps safe (``qtcompute.run``).
- :mod:`qtcompute.build` - ``qtcompute build``: freeze with PyInstaller, then prove it runs.
- :mod:`qtcompute.check` - ``qtcompute check``: a static checker for multiprocessing pitfalls.

Only the engine is imported eagerly; the rest load on first use so that importing ``qtcompute``
never imports Qt or PyInstaller.
"""

from __future__ import annotations

from typing import Any

from qtcompute import errors
from qtcompute.engine import (
    Pool,
    PoolEvent,
    PoolStats,
    TaskFuture,
    WorkerState,
    report_progress,
)

__version__ = "0.1.0"

__all__ = [
    "Pool",
    "PoolEvent",
    "PoolStats",
    "TaskFuture",
    "WorkerState",
    "__version__",
    "errors",
    "main",
    "report_progress",
    "run",
]

_LAZY = {"run": "qtcompute.freeze", "main": "qtcompute.freeze"}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'qtcompute' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
