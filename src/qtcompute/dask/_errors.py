"""Errors of a Dask cluster as a whole, in the engine's hierarchy (``PoolError``)::

    PoolError
    ├── SchedulerUnreachableError   DaskPool(address): no scheduler answered there
    └── SchedulerLostError          the scheduler went away (stopped, crashed, network down)
                                    while tasks were pending; also a ConnectionError

One task's failures are the engine's: ``WorkerCrashedError`` (the Dask worker running it died
more often than the scheduler allows, ``KilledWorker``), ``TaskTimeoutError``, and the task's own
exception re-raised with the worker's traceback as ``__cause__``.
"""

from __future__ import annotations

from qtcompute.engine.errors import PoolError, WorkerCrashedError

__all__ = ["SchedulerLostError", "SchedulerUnreachableError"]


class SchedulerUnreachableError(PoolError, ConnectionError):
    """No Dask scheduler answered at the address given to ``DaskPool``."""

    def __init__(self, address: str, timeout: float, cause: BaseException | None = None) -> None:
        detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
        super().__init__(
            f"Could not reach a Dask scheduler at {address} within {timeout:g} s{detail}. "
            "Likely causes: the scheduler is not started, the address or port is wrong, a "
            "firewall blocks it, or it requires TLS (a tls:// address and a Security object). "
            f"Start one with `dask scheduler` (it prints its address), or check `{address}` "
            "from this machine; see docs/dask.md."
        )
        self.address = address


class SchedulerLostError(PoolError, ConnectionError):
    """The scheduler stopped answering while this task was pending; the task's outcome is lost."""

    def __init__(self, address: str, how: str) -> None:
        super().__init__(
            f"Lost the Dask scheduler at {address}: {how}. The task's outcome is unknown and "
            "it was given up. Likely causes: the scheduler process was stopped or crashed, or "
            "the network to it is down. Restart the scheduler (`dask scheduler`) and its "
            "workers, then submit the task again; the app itself keeps running."
        )
        self.address = address


def killed_worker_error(key: str, detail: str) -> WorkerCrashedError:
    """``KilledWorker`` as the engine says it: the task took down every worker that ran it."""
    return WorkerCrashedError(
        f"The Dask workers running task {key} died while running it, as often as the scheduler "
        f"allows (distributed.scheduler.allowed-failures), so it was given up ({detail}). "
        "Likely causes: the task itself kills its worker (a crash in native code, running out "
        "of memory: see the worker's log and the nanny's memory limit), or the workers were "
        "stopped from outside. The pool goes on; a task that only met an unlucky crash can be "
        "submitted again.",
        pid=None,
        exitcode=None,
    )
