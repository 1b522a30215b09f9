"""Large NumPy arrays travel outside the pipe, and /dev/shm keeps nothing on any path.

Arguments go through shared-memory segments the pool reuses; results come by a direct copy
from the worker's memory where the kernel allows it, else through shared memory. Every test
runs with both result transports ("shm" turns the direct copy off in this process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import engine_tasks as tasks
import pytest
from engine_support import wait_gone

from qtcompute import Pool
from qtcompute.engine import _vm
from qtcompute.errors import TaskTimeoutError, WorkerCrashedError
from tests_support import new_shm, shm_entries

np = pytest.importorskip("numpy")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/shm")

BIG = 4 << 20  # bytes: above the 1 MiB threshold


@pytest.fixture
def no_new_shm():
    """Request it *first* in a test's arguments, so that it is checked after the pools closed."""
    before = shm_entries()
    yield
    assert new_shm(before) == set(), f"shared memory left in /dev/shm (test pid {os.getpid()})"


@pytest.fixture(autouse=True, params=["direct", "shm"])
def transport(request, monkeypatch):
    """How results travel: copied from the worker's memory, or through shared memory."""
    if request.param == "shm":
        monkeypatch.setattr(_vm, "can_read", lambda pid, probe: False)
    elif not _vm.can_read(os.getpid(), _vm.probe()):
        pytest.skip("this system forbids reading another process's memory")
    return request.param


def big_array(seed: int = 0):
    return np.arange(BIG // 8, dtype=np.float64) + seed


def mapped_file(array) -> str:
    """What backs ``array``'s memory: a path for a file mapping, "" for anonymous memory."""
    address = array.ctypes.data
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if start <= address < end:
                return fields[5].strip() if len(fields) > 5 else ""
    raise AssertionError("the array's address is not mapped")


def test_round_trip_is_correct(no_new_shm, make_pool, transport):
    pool = make_pool(1)
    array = big_array()
    result = pool.submit(tasks.double, array).result(timeout=60)
    assert np.array_equal(result, array * 2)
    if transport == "shm":
        assert mapped_file(result).startswith("/dev/shm/"), "a view of shared memory"
    else:
        assert mapped_file(result) == "", "a private copy, with no segment behind it"
    result[0] = 42.0  # writable, like any array returned by a function
    assert pool.submit(tasks.total, array).result(timeout=60) == float(array.sum())


def test_argument_segments_are_reused(no_new_shm, make_pool):
    pool = make_pool(1)
    cache = pool._core.state.segments
    for seed in range(3):
        array = big_array(seed)
        assert pool.submit(tasks.total, array).result(timeout=60) == float(array.sum())
        assert len(cache._idle) == 1 and not cache._lent
    # Similar sizes share a segment too (the last one was 4 MiB, this is 3 MiB).
    smaller = np.ones(3 << 17)
    assert pool.submit(tasks.total, smaller).result(timeout=60) == float(smaller.sum())
    assert len(cache._idle) == 1
    pool.shutdown()
    assert not cache._idle  # unlinked at shutdown (no_new_shm checks /dev/shm)


def test_a_task_that_keeps_its_argument_keeps_it_intact(no_new_shm, make_pool):
    pool = make_pool(1)
    first, second = big_array(1), big_array(2)
    assert pool.submit(tasks.keep, first).result(timeout=60) is None
    # The first segment is still mapped in the worker, so it is not lent for the second array.
    assert pool.submit(tasks.total, second).result(timeout=60) == float(second.sum())
    assert pool.submit(tasks.kept_total).result(timeout=60) == float(first.sum())


def test_a_task_that_returns_its_argument(no_new_shm, make_pool):
    pool = make_pool(1)
    for seed in range(3):
        array = big_array(seed)
        assert np.array_equal(pool.submit(tasks.identity, array).result(timeout=60), array)


def test_small_arrays_and_non_contiguous_arrays(no_new_shm, make_pool):
    pool = make_pool(1)
    small = np.arange(10)
    assert np.array_equal(pool.submit(tasks.double, small).result(timeout=60), small * 2)
    strided = big_array()[::2]
    assert np.array_equal(pool.submit(tasks.double, strided).result(timeout=60), strided * 2)


def test_task_error(no_new_shm, make_pool):
    with pytest.raises(ValueError, match="refused an array"):
        make_pool(1).submit(tasks.fail_with_array, big_array()).result(timeout=60)


def test_cancelled_before_it_ran(no_new_shm, make_pool, gate):
    pool = make_pool(1)
    pool.ping(timeout=60)
    blocker = pool.submit(tasks.wait_for_gate, gate.path)
    queued = [pool.submit(tasks.double, big_array(i)) for i in range(3)]
    assert all(f.cancel() for f in queued)
    gate.release()
    assert blocker.result(timeout=60) == "released"


def test_worker_crash(no_new_shm, make_pool):
    pool = make_pool(1)
    pool.ping(timeout=60)
    with pytest.raises(WorkerCrashedError):
        pool.submit(tasks.segfault_with_array, big_array()).result(timeout=60)
    assert pool.submit(tasks.total, big_array()).result(timeout=60) > 0


def test_stopped_while_running(no_new_shm, make_pool):
    pool = make_pool(1)
    pool.ping(timeout=60)
    future = pool.schedule(tasks.double, (big_array(),), timeout=60)
    future.stop()
    assert future.cancelled()
    pool.shutdown()


def test_late_result_of_a_timed_out_task_is_released(no_new_shm, make_pool, gate):
    pool = make_pool(1, stop_grace=3)
    pool.ping(timeout=60)
    future = pool.schedule(tasks.array_after_ignoring_terminate, (gate.path, BIG), timeout=1.0)
    with pytest.raises(TaskTimeoutError):
        future.result(timeout=60)
    gate.release()  # the worker ignored SIGTERM: it now sends its (late) array, then exits
    pool.shutdown(wait=True, stop_running=True)


def test_shutdown_cancels_queued_array_tasks(no_new_shm, start_method, gate):
    pool = Pool(1, start_method=start_method)
    pool.ping(timeout=60)
    blocker = pool.submit(tasks.wait_for_gate, gate.path)
    queued = [pool.submit(tasks.double, big_array(i)) for i in range(3)]
    pool.shutdown(wait=False, cancel_futures=True)  # cancels the queue while the gate is closed
    gate.release()
    pool.shutdown(wait=True)
    assert blocker.result() == "released" and all(f.cancelled() for f in queued)


def test_parent_killed_with_arrays_in_flight():
    """SIGKILL of the whole program: multiprocessing's resource tracker unlinks what is left."""
    before = shm_entries()
    here = Path(__file__).parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(here), *sys.path]))
    script = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import json, os, sys
                import numpy as np
                from multiprocessing import resource_tracker
                from qtcompute import Pool
                import engine_tasks as tasks
                pool = Pool(1)
                pool.ping(timeout=60)
                futures = [pool.submit(tasks.compute_forever)]
                futures += [pool.submit(tasks.double, np.ones(1 << 20)) for _ in range(3)]
                tracker = resource_tracker._resource_tracker._pid
                print(json.dumps({"workers": pool.pids(), "tracker": tracker}), flush=True)
                sys.stdin.read()
                """
            ),
        ],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        info = json.loads(script.stdout.readline())
        # the three queued arrays wait in shared memory (with the spares made for the next ones)
        assert len(shm_entries() - before) >= 3
        script.kill()
        script.wait(timeout=30)
        assert wait_gone(info["workers"]) == []
        assert wait_gone([info["tracker"]], timeout=30) == []
        assert new_shm(before) == set()
    finally:
        script.kill()
        script.wait()
        script.stdin.close()
        script.stdout.close()


def test_the_worker_lets_go_of_each_result_once_it_was_copied(no_new_shm, make_pool, transport):
    if transport != "direct":
        pytest.skip("results in shared memory belong to the caller at once")
    psutil = pytest.importorskip("psutil")
    pool = make_pool(1)
    (pid,) = pool.pids()
    size = 48 << 20
    for _ in range(12):
        result = pool.submit(tasks.ones, size).result(timeout=60)
        assert result.nbytes == size and result[-1] == 1.0
    # Holding every result until the end would be 576 MB; the last one or two may still be held
    # (the worker reads the pool's Release with its next frame).
    assert psutil.Process(pid).memory_info().rss < 5 * size


def test_shutdown_waits_for_the_copy_of_a_large_result(no_new_shm, start_method):
    with Pool(1, start_method=start_method) as pool:
        future = pool.submit(tasks.ones, 16 << 20)
    # The worker was asked to stop only once its result had been copied.
    assert future.result(timeout=60).sum() == (16 << 20) // 8


def test_submit_after_shutdown_gives_its_segments_back(no_new_shm, make_pool):
    from qtcompute.errors import PoolShutdownError

    pool = make_pool(1)
    pool.shutdown()
    with pytest.raises(PoolShutdownError):
        pool.submit(tasks.total, big_array())


def test_a_large_initializer_argument_leaves_nothing_behind(no_new_shm, make_pool):
    array = big_array(3)
    pool = make_pool(2, initializer=tasks.keep_initial, initargs=(array,))
    assert pool.submit(tasks.initial_total).result(timeout=60) == float(array.sum())


def test_a_full_dev_shm_falls_back_to_the_pipe(no_new_shm, make_pool, monkeypatch, caplog):
    from qtcompute.engine import _shm

    def full(fd, size):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_shm, "_allocate", full)
    monkeypatch.setattr(_shm, "_warned_full", False)
    pool = make_pool(1)
    array = big_array(4)
    with caplog.at_level("WARNING", logger="qtcompute.engine"):
        assert pool.submit(tasks.total, array).result(timeout=60) == float(array.sum())
    assert "--shm-size" in caplog.text
