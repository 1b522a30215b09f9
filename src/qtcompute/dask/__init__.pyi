from qtcompute.dask._argv import pool_from_argv as pool_from_argv
from qtcompute.dask._errors import SchedulerLostError as SchedulerLostError
from qtcompute.dask._errors import SchedulerUnreachableError as SchedulerUnreachableError
from qtcompute.dask._future import DaskFuture as DaskFuture
from qtcompute.dask._pool import DaskPool as DaskPool

__all__ = [
    "DaskFuture",
    "DaskPool",
    "SchedulerLostError",
    "SchedulerUnreachableError",
    "pool_from_argv",
]
