"""Dask fixtures: one real ``LocalCluster`` of two worker processes per test module (the
machine is small and shared), a ``DaskPool`` per test, and executors for the shared contract.
The cluster is closed when its module ends, so that no Dask process outlives tests/dask (the
engine's tests assert that the test process has no children left).

The cluster lets a task's workers die once (``allowed_failures=1``): the first death is retried,
the second is Dask's ``KilledWorker``, so both outcomes are reachable with two real kills.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from dask_support import Gate, ProcessCluster  # noqa: E402

from qtcompute import Pool  # noqa: E402
from qtcompute.dask import DaskPool  # noqa: E402

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # workers import dask_tasks by name and inherit sys.path
    sys.path.insert(0, str(HERE))


@pytest.fixture(scope="module")  # not the session: tests/engine counts our child processes
def cluster() -> Iterator[distributed.LocalCluster]:
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # a free port: never "8787 is already in use"
        scheduler_kwargs={"allowed_failures": 1},
    )
    yield cluster
    cluster.close()


@pytest.fixture
def dask_pool(cluster) -> Iterator[DaskPool]:
    pool = DaskPool(cluster)
    yield pool
    pool.shutdown(wait=True, stop_running=True)


@pytest.fixture(params=["Pool", "DaskPool"])
def make_pool(request, cluster) -> Iterator:
    """Executors for the contract both share: ``Pool(workers)`` or a ``DaskPool`` on the
    session's two-worker cluster (``workers`` is the cluster's, 2)."""
    pools: list = []

    def make(workers: int = 2, **kwargs):
        pool = Pool(workers, **kwargs) if request.param == "Pool" else DaskPool(cluster, **kwargs)
        pools.append(pool)
        return pool

    make.kind = request.param  # type: ignore[attr-defined]
    yield make
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True, stop_running=True)


@pytest.fixture
def make_gate(tmp_path: Path):
    counter = iter(range(1000))
    return lambda: Gate(tmp_path / f"gate{next(counter)}")


@pytest.fixture
def process_cluster(tmp_path: Path) -> Iterator[ProcessCluster]:
    cluster = ProcessCluster(tmp_path)
    yield cluster
    cluster.close()


# distributed warns when a scheduler or nanny takes over 1 s to create its scratch directory,
# which a loaded CI machine can reach: timing, not a fault of ours. Only that message, only here.
_SLOW_SCRATCH = pytest.mark.filterwarnings(
    "ignore:Creating scratch directories is taking a surprisingly long time:UserWarning"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(_SLOW_SCRATCH)
