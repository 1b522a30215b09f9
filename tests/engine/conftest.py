"""Engine fixtures: pools for each start method, gates that block a task until released."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_support import Gate

from qtcompute import Pool

# forkserver exists on POSIX only: Windows runs every test with spawn.
START_METHODS = [m for m in ("spawn", "forkserver") if m in multiprocessing.get_all_start_methods()]


@pytest.fixture(params=START_METHODS)
def start_method(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_pool(start_method: str) -> Iterator:
    """Create pools with the test's start method; every pool is shut down after the test."""
    pools: list[Pool] = []

    def make(workers: int = 2, **kwargs) -> Pool:
        kwargs.setdefault("start_method", start_method)
        pool = Pool(workers, **kwargs)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True, stop_running=True)


@pytest.fixture
def gate(tmp_path: Path) -> Gate:
    return Gate(tmp_path / "gate")


@pytest.fixture
def make_gate(tmp_path: Path):
    counter = iter(range(1000))
    return lambda: Gate(tmp_path / f"gate{next(counter)}")
