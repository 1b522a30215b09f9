"""The frame-count axis is real: a ``no-counts`` test runs without frame counts (in its own pools,
in those its module shares and in the scripts it starts), a ``counts`` test with them (where the
system has memfd).

Two facts are checked, neither of them a class of the engine: what ``_frame_counts.make`` (the
only maker of pages) returned during the pool's life, and what the workers have mapped (a page
is a memfd file, visible in ``/proc/<pid>/maps``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import engine_tasks as tasks
import pytest
from engine_support import wait_for_state
from frame_count_axis import (
    AXIS_MODULES,
    COUNTS,
    NO_COUNTS,
    memfd_mappings,
    memfd_works,
    record_pages,
)
from test_lifecycle import run_script

from qtcompute import Pool, WorkerState
from qtcompute.errors import WorkerCrashedError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/<pid>/maps")

HERE = Path(__file__).parent


def test_the_variant_decides_whether_workers_get_frame_count_pages(make_pool, frame_counts):
    with record_pages() as made:
        pool = make_pool(2)
        pool.ping(timeout=60)
        assert pool.submit(tasks.add, 1, 2).result(timeout=60) == 3
        replaced = wait_for_state(pool, WorkerState.READY)
        with pytest.raises(WorkerCrashedError):
            pool.submit(tasks.exit_now, 3).result(timeout=60)  # the replacement gets a page too
        replaced.wait()
        mapped = {pid: memfd_mappings(pid) for pid in pool.ping(timeout=60)}
        pool.shutdown(wait=True)
    assert len(mapped) == 2
    if frame_counts == NO_COUNTS:
        assert made.pages == 0, f"pages were made: {made.results}"
        assert all(files == [] for files in mapped.values()), mapped
    elif memfd_works():
        # Each of the three workers was made a page, and each worker still alive maps its own.
        assert made.pages >= 3, f"with counts, pages made: {made.results}"
        assert all(len(files) == 1 for files in mapped.values()), mapped
    else:
        assert made.pages == 0  # no memfd here: both variants run without counts


@pytest.fixture(scope="module")
def shared_pool(frame_counts):
    """A pool the module's tests share: made once per variant, before the tests that use it."""
    with Pool(1) as pool:
        pool.ping(timeout=60)
        yield pool


def test_a_pool_shared_across_tests_follows_the_variant(shared_pool, frame_counts):
    (pid,) = shared_pool.ping(timeout=60)
    expected = 0 if frame_counts == NO_COUNTS or not memfd_works() else 1
    assert len(memfd_mappings(pid)) == expected


def test_scripts_started_by_a_test_follow_its_variant(frame_counts):
    script = run_script(
        """
        import json, sys
        from qtcompute import Pool
        from qtcompute.engine import _frame_counts
        if __name__ == "__main__":
            with Pool(1) as pool:
                pool.ping(timeout=60)
                (pid,) = pool.pids()
                with open(f"/proc/{pid}/maps") as maps:
                    mapped = [line for line in maps if "/memfd:" in line]
                print(json.dumps({"available": _frame_counts.AVAILABLE, "mapped": len(mapped)}))
        """,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = script.communicate(timeout=120)
    assert script.returncode == 0, err
    seen = json.loads(out)
    if frame_counts == NO_COUNTS:
        assert seen == {"available": False, "mapped": 0}
    elif memfd_works():
        assert seen == {"available": True, "mapped": 1}


def test_every_test_of_the_axis_suites_has_a_variant(request):
    for stem in AXIS_MODULES:
        assert (HERE / f"{stem}.py").is_file(), f"{stem}.py is gone: update AXIS_MODULES"
    collected = [item for item in request.session.items if item.path.stem in AXIS_MODULES]
    assert collected
    for item in collected:
        variant = item.callspec.params.get("frame_counts")
        assert variant in (COUNTS, NO_COUNTS), f"{item.nodeid} has no frame-count variant"
        # The id shows it as one of its dash-separated parts ("spawn-no-counts-sent-at-once").
        shown = rf"(?:^|-)(?<!no-){re.escape(variant)}(?:-|$)"
        assert re.search(shown, item.callspec.id), f"{item.nodeid} does not show its variant"
