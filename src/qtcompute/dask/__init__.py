"""Run qtcompute tasks on a Dask cluster: :class:`DaskPool`, the same interface as ``Pool``.

Data flow::

    caller thread(s)                   client's event loop thread          Dask workers
    ----------------                   --------------------------          ------------
    DaskPool.submit(fn, *args)
      cloudpickle check here: a bad
      argument fails now, in the caller
      client.submit(run_call, call) ---> update-graph --> scheduler ------> run_call(call):
                                                                             log_event "start"
    DaskFuture  <-- running, pid, <--- event handler  <-- scheduler <------- (pid, address)
                    timeout armed                                            fn(*args)
                <-- progress  <------- event handler  <-- scheduler <------- report_progress(v)
                <-- settled once <---- gather (result) or the exception <--- return / raise
                                       (exceptions ride on the task-erred
                                       message; results come from the worker)
    stop() / timeout: settle now, ---> cancel(force) --> scheduler ------> stop plugin: raises
      cancel the Dask future                                              in the task's thread
    watchdog thread (_watchdog): the scheduler answers? else pending futures fail
      (SchedulerLostError)

Everything here imports ``distributed`` on first use, with an install hint if it is missing;
``qtcompute.dask.client`` imports it at once (for apps frozen as cluster clients).
"""

from __future__ import annotations

import importlib
from typing import Any

# No TYPE_CHECKING imports here (the names are typed in __init__.pyi): PyInstaller follows
# those too, and every app that only parses --cluster would carry Dask in its frozen build.
# A frozen client imports DaskPool from qtcompute.dask.client instead (see docs/dask.md).
from qtcompute.dask._argv import pool_from_argv  # needs no Dask until an option asks for it

__all__ = [
    "DaskFuture",
    "DaskPool",
    "SchedulerLostError",
    "SchedulerUnreachableError",
    "pool_from_argv",
]

_INSTALL_HINT = 'pip install "qtcompute[dask]"'

_WHERE = {
    "DaskFuture": "qtcompute.dask._future",
    "DaskPool": "qtcompute.dask._pool",
    "SchedulerLostError": "qtcompute.dask._errors",
    "SchedulerUnreachableError": "qtcompute.dask._errors",
}


def __getattr__(name: str) -> Any:
    module_name = _WHERE.get(name)
    if module_name is None:
        raise AttributeError(f"module 'qtcompute.dask' has no attribute {name!r}")
    _require_distributed()
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _require_distributed() -> None:
    """Import ``distributed``, or say how to install it."""
    try:
        # By name: PyInstaller follows import statements, even inside functions, and every app
        # that merely offers --cluster would carry Dask (70 MB) in its frozen build.
        importlib.import_module("distributed")
    except ImportError as exc:
        raise ImportError(
            f"qtcompute.dask runs tasks on a Dask cluster and needs Dask's distributed "
            f"scheduler, which is not installed ({exc}). Install it with: {_INSTALL_HINT}"
        ) from exc
