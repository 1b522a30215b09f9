"""The frame-count axis: the suites below run with frame counts and without, as macOS and Windows
run (no memfd page, no bell: the supervisor watches every worker's pipe).

Linux has both paths, but the one without counts only runs if a test turns it off:
``qtcompute.engine._frame_counts.AVAILABLE = False`` before the pool is created (workers are
spawned, so only this process's value matters). conftest's ``frame_counts`` fixture does that
for the ``no-counts`` variant of every test in :data:`AXIS_MODULES`, and fails the test if a
frame-count page was made all the same. Scripts that tests start in a child interpreter get the
variant through :data:`ENVIRONMENT` (see ``sitecustomize.py`` here).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from qtcompute.engine import _frame_counts

# The suites whose every test runs in both variants (file stems in tests/engine/).
AXIS_MODULES = frozenset(
    {
        "test_executor_contract",
        "test_cpython_contract",
        "test_crashes",
        "test_stop_and_timeout",
        "test_shared_memory",
        "test_frame_count_axis",
    }
)
COUNTS, NO_COUNTS = "counts", "no-counts"
# Where the platform has no counts (macOS, Windows), "counts" would run the same path again.
VARIANTS = (COUNTS, NO_COUNTS) if _frame_counts.AVAILABLE else (NO_COUNTS,)
# Set to "off" for the no-counts variant: read by sitecustomize.py in child interpreters.
ENVIRONMENT = "QTCOMPUTE_TESTS_FRAME_COUNTS"


@dataclass
class MadePages:
    """What ``_frame_counts.make`` returned while recording: True for a page, False for None."""

    results: list[bool] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return sum(self.results)


@contextmanager
def record_pages() -> Iterator[MadePages]:
    """Record every call of ``_frame_counts.make`` (the only maker of pages) until exit."""
    made = MadePages()
    make = _frame_counts.make

    def recording_make(*args, **kwargs):
        page = make(*args, **kwargs)
        made.results.append(page is not None)
        return page

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_frame_counts, "make", recording_make)
        yield made


@contextmanager
def frame_counts_off() -> Iterator[MadePages]:
    """Turn frame counts off here and in child interpreters; yield the pages made meanwhile."""
    with pytest.MonkeyPatch.context() as patch, record_pages() as made:
        patch.setattr(_frame_counts, "AVAILABLE", False)
        patch.setenv(ENVIRONMENT, "off")
        yield made


def memfd_mappings(pid: int) -> list[str]:
    """The memfd files mapped in process ``pid`` (Linux): a frame-count page is one of them."""
    with open(f"/proc/{pid}/maps") as maps:
        return [line.split(maxsplit=5)[5].strip() for line in maps if "/memfd:" in line]


def memfd_works() -> bool:
    """Whether this system can make a memfd at all (where it cannot, there are never counts)."""
    try:
        os.close(os.memfd_create("qtcompute-axis-probe", os.MFD_CLOEXEC))
    except (AttributeError, OSError):
        return False
    return True
