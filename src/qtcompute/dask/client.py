"""``DaskPool`` imported at once, for an app frozen with ``qtcompute build`` as a cluster client.

``qtcompute.dask`` imports Dask lazily, which PyInstaller cannot see; an app that imports
``from qtcompute.dask.client import DaskPool`` gets ``distributed`` bundled into its build.
"""

from qtcompute.dask._errors import SchedulerLostError, SchedulerUnreachableError
from qtcompute.dask._future import DaskFuture
from qtcompute.dask._pool import DaskPool

__all__ = ["DaskFuture", "DaskPool", "SchedulerLostError", "SchedulerUnreachableError"]
