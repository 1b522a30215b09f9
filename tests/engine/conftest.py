"""Engine fixtures: pools for each start method, with frame counts and without (for the suites
of ``frame_count_axis.AXIS_MODULES``), gates that block a task until released."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_support import Gate
from frame_count_axis import AXIS_MODULES, COUNTS, NO_COUNTS, VARIANTS, frame_counts_off

from qtcompute import Pool

# forkserver exists on POSIX only: Windows runs every test with spawn.
START_METHODS = [m for m in ("spawn", "forkserver") if m in multiprocessing.get_all_start_methods()]


@pytest.fixture(params=START_METHODS)
def start_method(request: pytest.FixtureRequest) -> str:
    return request.param


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # The test files stay as they are: the axis is given to every test of these modules here.
    if metafunc.definition.path.stem in AXIS_MODULES:
        metafunc.parametrize("frame_counts", VARIANTS, indirect=True)


@pytest.fixture(autouse=True)
def frame_counts(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test's variant: "counts" (what the platform has) or "no-counts" (macOS, Windows).

    Function-scoped and set up before any other function fixture, so that every pool of the
    test, made in the test or by ``make_pool``, starts with the variant's switch; it is put back
    after ``make_pool`` shut the pools down. A suite that shares a pool across tests must
    parametrize that pool's fixture on the variant too (none does today).
    """
    variant = getattr(request, "param", COUNTS)  # outside the axis: the platform's own path
    if variant != NO_COUNTS:
        yield variant
        return
    with frame_counts_off() as made:
        yield variant
    if made.pages:
        pytest.fail(
            f"the no-counts variant made {made.pages} frame-count page(s): "
            "_frame_counts.AVAILABLE = False no longer turns frame counts off",
            pytrace=False,
        )


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
