"""A worker that dies fails only its own task; the pool replaces it and goes on."""

from __future__ import annotations

import os
import signal
import sys

import engine_tasks as tasks
import pytest
from engine_support import wait_for_state

from qtcompute import WorkerState
from qtcompute.errors import BrokenPoolError, WorkerCrashedError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def crash_and_check(pool, fn, *args):
    pool.ping(timeout=60)
    future = pool.submit(fn, *args)
    with pytest.raises(WorkerCrashedError) as info:
        future.result(timeout=60)
    error = info.value
    assert error.pid == future.pid
    assert str(error.pid) in str(error)
    assert error.pid not in pool.pids()
    assert pool.submit(tasks.add, 1, 2).result(timeout=60) == 3, "a new worker takes over"
    return error


def test_sigkill_mid_task(make_pool):
    pool = make_pool(1)
    pool.ping(timeout=60)
    future = pool.submit(tasks.compute_forever)
    os.kill(future.pid, signal.SIGKILL)
    with pytest.raises(WorkerCrashedError) as info:
        future.result(timeout=60)
    assert info.value.signal == "SIGKILL"
    assert "out of memory" in str(info.value).lower() or "OOM" in str(info.value)
    assert pool.submit(tasks.add, 1, 2).result(timeout=60) == 3
    stats = pool.stats()
    assert (stats.crashes, stats.restarts) == (1, 1)


def test_real_segfault(make_pool):
    error = crash_and_check(make_pool(1), tasks.segfault)
    assert error.signal == "SIGSEGV"
    assert "native code" in str(error)


def test_os_exit(make_pool):
    error = crash_and_check(make_pool(1), tasks.exit_now, 3)
    assert error.exitcode == 3 and error.signal is None
    assert "exited with code 3" in str(error)


def test_memory_error_raised_by_the_task(make_pool):
    pool = make_pool(1)
    with pytest.raises(MemoryError):
        pool.submit(tasks.raise_memory_error).result(timeout=30)
    assert pool.submit(tasks.add, 1, 2).result(timeout=30) == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS")
def test_real_allocation_failure(make_pool):
    pool = make_pool(1)
    with pytest.raises((MemoryError, WorkerCrashedError)):
        pool.submit(tasks.allocate_beyond_limit).result(timeout=60)
    assert pool.submit(tasks.add, 1, 2).result(timeout=60) == 3


def test_queued_tasks_go_on_after_a_crash(make_pool):
    pool = make_pool(1)
    pool.ping(timeout=60)
    doomed = pool.submit(tasks.exit_now, 9)
    queued = [pool.submit(tasks.square, i) for i in range(10)]
    with pytest.raises(WorkerCrashedError):
        doomed.result(timeout=60)
    assert [f.result(timeout=60) for f in queued] == [i * i for i in range(10)]


def test_crash_events(make_pool):
    pool = make_pool(1)
    pool.ping(timeout=60)
    crashed = wait_for_state(pool, WorkerState.CRASHED)
    ready = wait_for_state(pool, WorkerState.READY, count=1)
    future = pool.submit(tasks.exit_now, 4)
    with pytest.raises(WorkerCrashedError):
        future.result(timeout=60)
    (event,) = crashed.wait()
    assert event.pid == future.pid and "code 4" in event.detail
    assert ready.wait()[0].pid != future.pid


def test_initializer_that_raises_breaks_the_pool_with_its_traceback(make_pool):
    pool = make_pool(2, initializer=tasks.init_raises)
    with pytest.raises(BrokenPoolError) as info:
        pool.submit(tasks.add, 1, 2).result(timeout=60)
    assert "the initializer broke on purpose" in str(info.value)
    assert "init_raises" in str(info.value)
    with pytest.raises(BrokenPoolError):
        pool.submit(tasks.add, 1, 2)


def test_workers_that_die_at_start_break_the_pool_instead_of_respawning(make_pool):
    pool = make_pool(1, initializer=tasks.init_exits)
    with pytest.raises(BrokenPoolError) as info:
        pool.submit(tasks.add, 1, 2).result(timeout=60)
    message = str(info.value)
    assert "before they were ready" in message and "exited with code 5" in message
    assert pool.stats().alive == 0


def test_chaos_every_task_ends_exactly_once(make_pool):
    """10,000 tasks while workers are SIGKILLed at random; each future ends exactly once."""
    import random
    import threading
    from collections import Counter

    pool = make_pool(2)
    pool.ping(timeout=60)
    rng = random.Random(1234)
    endings: Counter[int] = Counter()
    lock = threading.Lock()
    kills = []

    def on_done(future):
        with lock:
            endings[future.task_id] += 1
            finished = sum(endings.values())
        if finished % 400 == 0:  # a kill driven by progress, not by a timer
            pids = pool.pids()
            if pids:
                victim = rng.choice(pids)
                try:
                    os.kill(victim, signal.SIGKILL)
                    kills.append(victim)
                except ProcessLookupError:
                    pass

    futures = []
    for i in range(10_000):
        future = pool.submit(tasks.square, i)
        future.add_done_callback(on_done)
        futures.append((i, future))
    crashed = 0
    for i, future in futures:
        try:
            assert future.result(timeout=120) == i * i
        except WorkerCrashedError:
            crashed += 1
    assert len(endings) == 10_000 and set(endings.values()) == {1}
    assert kills, "the chaos monkey never struck"
    assert crashed <= len(kills)
    assert pool.stats().crashes >= 1
