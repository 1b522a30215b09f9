"""Pool behaves like a concurrent.futures.Executor wherever that contract speaks."""

from __future__ import annotations

import concurrent.futures as cf

import engine_tasks as tasks
import pytest

from qtcompute import Pool, TaskFuture
from qtcompute.errors import PoolShutdownError


def test_pool_is_an_executor(make_pool):
    pool = make_pool(1)
    assert isinstance(pool, cf.Executor)
    future = pool.submit(tasks.add, 2, 3)
    assert isinstance(future, cf.Future) and isinstance(future, TaskFuture)
    assert future.result(timeout=30) == 5


def test_submit_passes_kwargs(make_pool):
    pool = make_pool(1)
    assert pool.submit(tasks.add, x=1, y=41).result(timeout=30) == 42


def test_map_keeps_order_across_workers(make_pool):
    pool = make_pool(2)
    assert list(pool.map(tasks.square, range(1000))) == [i * i for i in range(1000)]


@pytest.mark.parametrize("chunksize", [None, 1, 7, 5000])
def test_map_chunk_sizes(make_pool, chunksize):
    pool = make_pool(2)
    xs, ys = range(300), range(300, 600)
    assert list(pool.map(tasks.add, xs, ys, chunksize=chunksize)) == [
        x + y for x, y in zip(xs, ys, strict=True)
    ]


def test_map_stops_at_shortest_iterable_and_accepts_empty(make_pool):
    pool = make_pool(1)
    assert list(pool.map(tasks.add, [1, 2, 3], [10, 20])) == [11, 22]
    assert list(pool.map(tasks.square, [])) == []


def test_map_raises_when_the_failing_item_is_reached(make_pool):
    pool = make_pool(2)
    results = pool.map(tasks.fail, ["a"], chunksize=1)
    with pytest.raises(ValueError, match="a"):
        next(results)


def test_map_rejects_bad_chunksize(make_pool):
    with pytest.raises(ValueError, match="chunksize"):
        make_pool(1).map(tasks.square, [1], chunksize=0)


def test_map_timeout(make_pool, gate):
    pool = make_pool(1)
    results = pool.map(tasks.wait_for_gate, [gate.path], timeout=0.2)
    with pytest.raises(TimeoutError):
        next(results)
    gate.release()


def test_wait_and_as_completed(make_pool):
    pool = make_pool(2)
    futures = [pool.submit(tasks.square, i) for i in range(20)]
    _done, not_done = cf.wait(futures, timeout=30)
    assert not not_done
    assert sorted(f.result() for f in cf.as_completed(futures)) == [i * i for i in range(20)]


def test_cancel_pending_task_never_runs(make_pool, gate):
    pool = make_pool(1)
    pool.ping(timeout=60)
    blocker = pool.submit(tasks.wait_for_gate, gate.path)
    pending = pool.submit(tasks.square, 3)
    assert pending.cancel()
    assert pending.cancelled()
    assert not blocker.cancel(), "a running task cannot be cancelled (standard semantics)"
    gate.release()
    assert blocker.result(timeout=30) == "released"
    with pytest.raises(cf.CancelledError):
        pending.result()


@pytest.mark.parametrize("how", ["cancel", "stop"])
def test_a_cancelled_pending_task_counts_as_done_for_wait_and_as_completed(make_pool, gate, how):
    pool = make_pool(1)
    pool.ping(timeout=60)
    blocker = pool.submit(tasks.wait_for_gate, gate.path)
    pending = pool.submit(tasks.square, 3)
    assert getattr(pending, how)()
    done, not_done = cf.wait([pending], timeout=30)  # ThreadPoolExecutor's answer, at once
    assert done == {pending} and not not_done
    assert list(cf.as_completed([pending], timeout=30)) == [pending]
    assert pending.cancel()  # cancelling again is still fine
    gate.release()
    assert blocker.result(timeout=30) == "released"


def test_submit_after_shutdown_raises_runtime_error(start_method):
    pool = Pool(1, start_method=start_method)
    pool.shutdown()
    with pytest.raises(RuntimeError) as info:
        pool.submit(tasks.square, 2)
    assert isinstance(info.value, PoolShutdownError)
    pool.shutdown()  # idempotent


def test_context_manager_waits_for_running_tasks(start_method):
    with Pool(2, start_method=start_method) as pool:
        futures = [pool.submit(tasks.square, i) for i in range(50)]
    assert all(f.done() for f in futures)
    assert [f.result() for f in futures] == [i * i for i in range(50)]


def test_shutdown_cancel_futures(start_method, gate):
    pool = Pool(1, start_method=start_method)
    pool.ping(timeout=60)
    running = pool.submit(tasks.wait_for_gate, gate.path)
    queued = [pool.submit(tasks.square, i) for i in range(5)]
    pool.shutdown(wait=False, cancel_futures=True)  # cancels the queue while the gate is closed
    gate.release()
    pool.shutdown(wait=True)
    assert running.result() == "released"
    assert all(f.cancelled() for f in queued)


def test_shutdown_without_wait_still_completes_queued_work(start_method):
    pool = Pool(2, start_method=start_method)
    futures = [pool.submit(tasks.square, i) for i in range(30)]
    pool.shutdown(wait=False)
    assert [f.result(timeout=60) for f in futures] == [i * i for i in range(30)]


def test_shutdown_stop_running_cancels_running_tasks(start_method):
    pool = Pool(1, start_method=start_method)
    pool.ping(timeout=60)
    running = pool.submit(tasks.compute_forever)
    pool.shutdown(wait=True, stop_running=True)
    assert running.cancelled()


def test_invalid_arguments(start_method):
    with pytest.raises(ValueError, match="workers"):
        Pool(0)
    with pytest.raises(ValueError, match="start method"):
        Pool(1, start_method="teleport")
    with pytest.raises(TypeError, match="initializer"):
        Pool(1, initializer=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        Pool(1, task_timeout=-1)
    with pytest.raises(ValueError, match="timeout"):
        Pool(1, task_timeout=True)  # type: ignore[arg-type]  # not one second


def test_submit_non_callable(make_pool):
    with pytest.raises(TypeError, match="callable"):
        make_pool(1).submit(42)  # type: ignore[arg-type]


def test_cancelled_tasks_leave_the_queue_at_once(make_pool, gate):
    pool = make_pool(1)
    pool.ping(timeout=60)
    blocker = pool.submit(tasks.wait_for_gate, gate.path)
    queued = [pool.submit(tasks.square, i) for i in range(10)]
    assert pool.stats().pending == 10
    assert all(f.cancel() for f in queued[:7])
    assert pool.stats().pending == 3
    gate.release()
    assert blocker.result(timeout=30) == "released"
    assert [f.result(timeout=30) for f in queued[7:]] == [49, 64, 81]
