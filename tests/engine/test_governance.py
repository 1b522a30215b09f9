"""Worker governance: max_tasks_per_child, memory_limit, and the Windows job object."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from collections import Counter

import governance_tasks as tasks
import psutil
import pytest
from engine_support import wait_for_state, wait_gone
from test_lifecycle import run_script

from qtcompute import Pool, WorkerState
from qtcompute.engine import _winjob
from qtcompute.engine._governance import parse_memory_limit
from qtcompute.errors import MemoryLimitError, TaskError

MiB = 1 << 20
LIMIT = 256 * MiB
# macOS enforces no memory rlimit: there the task runs, and its peak fails it afterwards.
ENFORCED = sys.platform != "darwin"


# --- max_tasks_per_child -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error", "text"),
    [
        ("3", TypeError, "max_tasks_per_child must be an integer"),
        (2.0, TypeError, "max_tasks_per_child must be an integer"),
        (True, TypeError, "max_tasks_per_child must be an integer"),
        (0, ValueError, "max_tasks_per_child must be >= 1"),
        (-1, ValueError, "max_tasks_per_child must be >= 1"),
    ],
)
def test_max_tasks_per_child_is_validated_as_cpython_does(value, error, text):
    with pytest.raises(error, match=text):
        Pool(1, max_tasks_per_child=value)


@pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")
def test_max_tasks_per_child_refuses_fork():
    with pytest.raises(ValueError, match="incompatible with the 'fork'"):
        Pool(1, max_tasks_per_child=2, start_method="fork")


def test_a_worker_is_replaced_after_max_tasks_per_child(make_pool):
    pool = make_pool(1, max_tasks_per_child=2)
    stopped = wait_for_state(pool, WorkerState.STOPPED, count=2)
    pids = [pool.submit(tasks.getpid).result(timeout=60) for _ in range(6)]
    assert list(Counter(pids).values()) == [2, 2, 2], pids
    # The first two workers stopped (the third may have, too, by the time we look).
    assert set(pids[:4]) <= {event.pid for event in stopped.wait()} <= set(pids)
    stats = pool.stats()
    assert stats.crashes == 0, "a planned replacement is no crash"
    assert stats.restarts >= 2


def test_max_tasks_per_child_under_load(make_pool):
    """Many tasks queued at once on two workers: none runs more than its share, none is lost."""
    pool = make_pool(2, max_tasks_per_child=3)
    futures = [pool.submit(tasks.getpid) for _ in range(30)]
    counts = Counter(future.result(timeout=120) for future in futures)
    assert sum(counts.values()) == 30
    assert max(counts.values()) <= 3
    assert len(counts) >= 10


def test_tasks_queued_at_shutdown_still_run_on_replacement_workers(make_pool):
    """CPython's test_max_tasks_early_shutdown: one task per worker, six tasks, shutdown()."""
    pool = make_pool(3, max_tasks_per_child=1)
    futures = [pool.submit(tasks.square, i) for i in range(6)]
    pool.shutdown()
    assert [future.result(timeout=60) for future in futures] == [i * i for i in range(6)]
    assert pool.stats().alive == 0


@pytest.mark.skipif(sys.platform == "win32", reason="the gates are FIFOs; SIGKILL")
def test_a_new_workers_levels_do_not_hide_a_change_from_the_others(make_pool, make_gate):
    """A level change, then a replacement worker starts (and takes the new levels): the worker
    that was already running must still get the change with the next submit."""
    import logging
    import os
    import signal

    pool = make_pool(2)
    pool.ping(timeout=60)
    logger = logging.getLogger("app.race")
    try:
        logger.setLevel(logging.DEBUG)
        started = wait_for_state(pool, WorkerState.READY)
        victim = pool.pids()[0]
        os.kill(victim, signal.SIGKILL)
        started.wait()  # the replacement is up, with the levels of after the change
        gates = [make_gate(), make_gate()]
        # One task in flight per worker: the two gated tasks run on the two workers.
        futures = [
            pool.submit(tasks.level_after_gate, gate.path, "app.race", logging.DEBUG)
            for gate in gates
        ]
        for gate in gates:
            gate.release()
        assert [f.result(timeout=60) for f in futures] == [True, True]
        assert len({f.pid for f in futures}) == 2
    finally:
        logger.setLevel(logging.NOTSET)


# --- memory_limit ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (256 * MiB, 256 * MiB),
        ("2 GiB", 2 << 30),
        ("512 MB", 512 * 10**6),
        ("512MiB", 512 * MiB),
        ("1.5g", 3 << 29),
        (" 100 m ", 100 * MiB),
        ("1e9", None),
    ],
)
def test_memory_limit_sizes(text, size):
    if size is None:
        with pytest.raises(ValueError, match="is not a size"):
            parse_memory_limit(text)
    else:
        assert parse_memory_limit(text) == size


@pytest.mark.parametrize(
    ("value", "error"),
    [("two gigs", ValueError), ("5 parsecs", ValueError), (True, TypeError), (2.5e9, TypeError)],
)
def test_bad_memory_limits_say_what_a_size_is(value, error):
    with pytest.raises(error, match="memory_limit"):
        Pool(1, memory_limit=value)


def test_a_memory_limit_too_small_to_start_a_worker_is_refused():
    with pytest.raises(ValueError, match=r"at least 64\.0 MiB"):
        Pool(1, memory_limit="1 MiB")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA on Linux")
def test_the_limit_is_set_in_every_worker(make_pool):
    pool = make_pool(1, memory_limit=LIMIT)
    assert pool.submit(tasks.data_limit).result(timeout=60) == (LIMIT, LIMIT)


def test_a_worker_reports_its_own_peak_not_its_spawning_parents(make_pool):
    # The kernel carries ru_maxrss over fork and exec: a worker spawned by a big GUI process
    # would report the GUI's peak, and on macOS fail every task for it.
    ballast = bytearray(b"\x01") * (2 * LIMIT)  # written, so resident in this process
    pool = make_pool(1, memory_limit=LIMIT)
    peak = pool.submit(tasks.own_peak_memory).result(timeout=60)
    del ballast
    assert peak is not None and 0 < peak < LIMIT


@pytest.mark.parametrize(
    ("fn", "args"),
    [(tasks.allocate, (2 * LIMIT,)), (tasks.allocate_in_steps, (16 * MiB, 32))],
    ids=["one-allocation", "many-allocations"],
)
def test_a_task_over_the_limit_fails_and_its_worker_is_replaced(make_pool, fn, args):
    pool = make_pool(1, memory_limit="256 MiB")
    assert pool.submit(tasks.allocate, 16 * MiB).result(timeout=60) == 16 * MiB
    stopped = wait_for_state(pool, WorkerState.STOPPED)
    future = pool.submit(fn, *args)
    with pytest.raises(MemoryLimitError) as info:
        future.result(timeout=60)
    error = info.value
    assert isinstance(error, MemoryError) and isinstance(error, TaskError)
    assert (error.limit, error.task) == (LIMIT, fn.__qualname__)
    assert error.peak is not None and error.peak > 0
    if ENFORCED:  # the allocation failed before the peak got there
        assert error.peak < LIMIT
    message = str(error)
    assert "256.0 MiB" in message and fn.__qualname__ in message and "peak" in message
    if ENFORCED:
        assert "MemoryError" in str(error.__cause__), "the worker's traceback of the failure"
    assert stopped.wait()[0].pid == future.pid, "the worker is replaced, not reused"
    assert pool.submit(tasks.getpid).result(timeout=60) != future.pid
    assert pool.submit(tasks.allocate, 16 * MiB).result(timeout=60) == 16 * MiB
    assert pool.stats().crashes == 0


def test_numpy_going_over_the_limit(make_pool):
    pytest.importorskip("numpy")
    pool = make_pool(1, memory_limit=LIMIT)
    assert pool.submit(tasks.numpy_ones, 32 * MiB).result(timeout=60) == 32 * MiB
    with pytest.raises(MemoryLimitError) as info:
        pool.submit(tasks.numpy_ones, 2 * LIMIT).result(timeout=60)
    if ENFORCED:
        assert "Unable to allocate" in str(info.value.__cause__), "NumPy's own MemoryError"
    assert "numpy_ones" in str(info.value)


def test_a_memory_error_under_a_limit_is_a_memory_limit_error(make_pool):
    pool = make_pool(1, memory_limit=LIMIT)
    with pytest.raises(MemoryLimitError) as info:
        pool.submit(tasks.raise_memory_error).result(timeout=60)
    assert "pretend the allocation failed" in str(info.value.__cause__)


# --- Windows: the job object ---------------------------------------------------------------


def test_job_object_structures_have_the_windows_sdk_layout():
    """The layout Windows expects (winnt.h), checked where the calls cannot run."""
    info = _winjob.limits(LIMIT)
    basic = _winjob.JOBOBJECT_BASIC_LIMIT_INFORMATION
    extended = _winjob.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
    if ctypes.sizeof(ctypes.c_void_p) == 8:
        assert ctypes.sizeof(basic) == 64 and ctypes.sizeof(extended) == 144
        assert basic.LimitFlags.offset == 16 and extended.ProcessMemoryLimit.offset == 112
    else:
        assert ctypes.sizeof(basic) == 48 and ctypes.sizeof(extended) == 112
    flags = info.BasicLimitInformation.LimitFlags
    assert flags == _winjob.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | 0x100
    assert info.ProcessMemoryLimit == LIMIT
    no_limit = _winjob.limits(None).BasicLimitInformation.LimitFlags
    assert no_limit == _winjob.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE


@pytest.mark.skipif(sys.platform != "win32", reason="Windows job objects")
def test_every_worker_runs_in_the_pools_job():
    with Pool(2, memory_limit=LIMIT) as pool:
        pool.ping(timeout=60)
        job = pool._core.state.governance.job
        assert job is not None
        assert all(job.contains(pid) for pid in pool.pids())


@pytest.mark.skipif(
    sys.platform == "darwin", reason="macOS has only the lifeline, whose thread needs the GIL"
)
def test_parent_death_kills_a_worker_that_holds_the_gil():
    """The lifeline's thread cannot run while the task holds the GIL: what takes the worker
    down is the kernel, PR_SET_PDEATHSIG on Linux and the job object on Windows."""
    script = run_script(
        """
        import json, sys
        from qtcompute import Pool
        import governance_tasks as tasks
        pool = Pool(1)
        pool.ping(timeout=60)
        future = pool.submit(tasks.hold_the_gil_forever)
        print(json.dumps(pool.pids()), flush=True)
        sys.stdin.read()
        """,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        pids = json.loads(script.stdout.readline())
        assert all(psutil.pid_exists(pid) for pid in pids)
        script.kill()
        script.wait(timeout=30)
        assert wait_gone(pids, timeout=20) == [], "the worker outlived its parent"
    finally:
        script.kill()
        script.wait()
        script.stdin.close()
        script.stdout.close()


@pytest.mark.skipif(not ENFORCED, reason="macOS: no allocation fails, the peak check applies")
def test_going_over_the_limit_while_the_result_is_pickled_is_a_memory_limit_error(make_pool):
    """The allocation that fails may be the copy pickling makes of a large result: that is the
    memory limit too, not an unpicklable result, and the worker is replaced all the same."""
    pool = make_pool(1, memory_limit=LIMIT)
    stopped = wait_for_state(pool, WorkerState.STOPPED)
    future = pool.submit(tasks.result_over_the_limit_when_pickled, 2 * LIMIT)
    with pytest.raises(MemoryLimitError) as info:
        future.result(timeout=60)
    assert "result_over_the_limit_when_pickled" in str(info.value)
    assert stopped.wait()[0].pid == future.pid, "the worker is replaced, not reused"
    assert pool.submit(tasks.square, 7).result(timeout=60) == 49
