"""Stopping running tasks (explicitly or by timeout) stops and replaces their worker."""

from __future__ import annotations

import concurrent.futures as cf

import engine_tasks as tasks
import pytest
from engine_support import wait_for_state

from qtcompute import WorkerState
from qtcompute.errors import TaskTimeoutError


def test_stop_a_running_task(make_pool):
    pool = make_pool(1)
    pool.ping(timeout=60)
    stopped = wait_for_state(pool, WorkerState.STOPPED)
    future = pool.submit(tasks.compute_forever)
    old_pid = future.pid
    assert future.running()
    assert future.stop()
    assert future.cancelled() and future.done()
    with pytest.raises(cf.CancelledError):
        future.result()
    assert stopped.wait()[0].pid == old_pid, "the old worker was stopped and reaped"
    assert pool.submit(tasks.getpid).result(timeout=60) != old_pid
    assert pool.stats().restarts == 1 and pool.stats().crashes == 0


def test_stop_notifies_waiters_and_callbacks(make_pool):
    pool = make_pool(1)
    pool.ping(timeout=60)
    future = pool.submit(tasks.python_loop_forever)
    called = []
    future.add_done_callback(called.append)
    with cf.ThreadPoolExecutor(1) as threads:
        waiter = threads.submit(cf.wait, [future])
        future.stop()
        done, _ = waiter.result(timeout=30)
    assert future in done
    assert called == [future]


def test_stop_a_pending_task_is_a_cancel(make_pool, gate):
    pool = make_pool(1)
    pool.ping(timeout=60)
    blocker = pool.submit(tasks.wait_for_gate, gate.path)
    pending = pool.submit(tasks.square, 2)
    assert pending.stop() and pending.cancelled()
    gate.release()
    assert blocker.result(timeout=30) == "released"


def test_stop_a_finished_task_returns_false(make_pool):
    future = make_pool(1).submit(tasks.add, 1, 1)
    assert future.result(timeout=30) == 2
    assert not future.stop()
    assert not future.cancelled()


def test_per_task_timeout(make_pool):
    pool = make_pool(1)
    pool.ping(timeout=60)
    future = pool.schedule(tasks.compute_forever, timeout=0.3)
    with pytest.raises(TaskTimeoutError) as info:
        future.result(timeout=60)
    assert isinstance(info.value, TimeoutError)
    assert info.value.timeout == pytest.approx(0.3)
    assert "compute_forever" in str(info.value) and "timeout" in str(info.value)
    assert pool.submit(tasks.add, 1, 2).result(timeout=60) == 3


def test_pool_default_timeout_and_per_task_override(make_pool):
    pool = make_pool(1, task_timeout=0.3)
    pool.ping(timeout=60)
    with pytest.raises(TaskTimeoutError):
        pool.submit(tasks.python_loop_forever).result(timeout=60)
    assert pool.schedule(tasks.add, (1, 2), timeout=None).result(timeout=60) == 3


def test_timeout_counts_running_time_not_queue_time(make_pool, gate):
    pool = make_pool(1)
    blocker = pool.submit(tasks.wait_for_gate, gate.path)
    quick = pool.schedule(tasks.add, (1, 2), timeout=5)
    gate.release()
    assert blocker.result(timeout=30) == "released"
    assert quick.result(timeout=30) == 3


def test_a_timeout_counts_when_another_thread_hands_the_task_out(make_pool, gate):
    """The second task is dispatched by the thread waiting on the first (a direct wait), not by
    submit: its deadline must still reach the supervisor."""
    pool = make_pool(1, spin=0)
    pool.ping(timeout=60)
    first = pool.submit(tasks.wait_for_gate, gate.path)
    second = pool.schedule(tasks.compute_forever, timeout=0.5)
    gate.release()
    assert first.result(timeout=60) == "released"
    with pytest.raises(TaskTimeoutError):
        second.result(timeout=60)
