"""Engine fixtures: pools for each start method, with frame counts and without (for the suites
of ``frame_count_axis.AXIS_MODULES``), gates that block a task until released."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_support import Gate
from frame_count_axis import (
    AXIS_MODULES,
    COUNTS,
    NO_COUNTS,
    VARIANTS,
    frame_counts_off,
    record_pages,
)

from qtcompute import Pool

# forkserver exists on POSIX only: Windows runs every test with spawn.
START_METHODS = [m for m in ("spawn", "forkserver") if m in multiprocessing.get_all_start_methods()]


@pytest.fixture(params=START_METHODS)
def start_method(request: pytest.FixtureRequest) -> str:
    return request.param


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # The test files stay as they are: the axis is given to every test of these modules here.
    # Module-scoped, so that a pool a module shares across its tests gets the variant too.
    if metafunc.definition.path.stem in AXIS_MODULES:
        metafunc.parametrize("frame_counts", VARIANTS, indirect=True, scope="module")


@pytest.fixture(scope="module", autouse=True)
def frame_counts(request: pytest.FixtureRequest) -> Iterator[str]:
    """The variant: "counts" (what the platform has) or "no-counts" (as on macOS and Windows).

    Set up before the module's other fixtures and its tests, so that every pool they make
    (in a test, through ``make_pool`` or in a module-scoped fixture) starts with the variant's
    switch; put back once the module's no-counts tests are done. Outside AXIS_MODULES: "counts".
    """
    variant = getattr(request, "param", COUNTS)
    if variant != NO_COUNTS:
        yield variant
        return
    with frame_counts_off() as made:
        yield variant
    _fail_if_pages_were_made(made.pages, f"the no-counts tests of {request.node.name}")


@pytest.fixture(autouse=True)
def _no_counts_makes_no_page(frame_counts: str) -> Iterator[None]:
    """Fail a no-counts test whose pools made a frame-count page all the same (the switch no
    longer works): checked after ``make_pool`` shut them down, replacements included."""
    if frame_counts != NO_COUNTS:
        yield
        return
    with record_pages() as made:
        yield
    _fail_if_pages_were_made(made.pages, "this no-counts test")


def _fail_if_pages_were_made(pages: int, who: str) -> None:
    if pages:
        pytest.fail(
            f"{who} made {pages} frame-count page(s): "
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
