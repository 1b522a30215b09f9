"""qtcompute: Qt desktop apps whose heavy computation runs in worker processes.

The areas, each a subpackage:

- :mod:`qtcompute.engine` - a Qt-free pool of persistent worker processes (``Pool``).
- :mod:`qtcompute.qt` - delivers results, errors and progress as signals in the GUI thread.
- :mod:`qtcompute.freeze` - the entry point that makes frozen apps safe (``qtcompute.run``).
- :mod:`qtcompute.bundle` - ``qtcompute build``: freeze with PyInstaller, then prove it runs.
- :mod:`qtcompute.check` - ``qtcompute check``: a static checker for multiprocessing pitfalls.

Every name here is imported on first use, so ``import qtcompute`` costs nothing and never
imports Qt or PyInstaller; ``qtcompute check`` starts without loading the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qtcompute import errors
    from qtcompute.engine import (
        Pool,
        PoolEvent,
        PoolStats,
        TaskFuture,
        WorkerState,
        report_progress,
    )
    from qtcompute.freeze import main, run

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

_WHERE = {
    "Pool": "qtcompute.engine",
    "PoolEvent": "qtcompute.engine",
    "PoolStats": "qtcompute.engine",
    "TaskFuture": "qtcompute.engine",
    "WorkerState": "qtcompute.engine",
    "report_progress": "qtcompute.engine",
    "run": "qtcompute.freeze",
    "main": "qtcompute.freeze",
}


def __getattr__(name: str) -> Any:
    if name == "errors":
        return importlib.import_module("qtcompute.errors")
    module_name = _WHERE.get(name)
    if module_name is None:
        raise AttributeError(f"module 'qtcompute' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # once is enough
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
