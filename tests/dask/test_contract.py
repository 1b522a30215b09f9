"""The executor contract of tests/engine/test_executor_contract.py, run on ``Pool`` and on
``DaskPool`` alike: the behaviour a Qt app (or any caller) relies on is the same on both."""

from __future__ import annotations

import concurrent.futures as cf
import pickle
import threading

import dask_tasks as tasks
import pytest

from qtcompute.errors import NotPicklableError, PoolShutdownError, RemoteError, RemoteTraceback


def start(pool, fn, *args, timeout=None):
    """Submit ``fn`` (a task that reports "started" first) and return once it runs."""
    started = threading.Event()
    future = pool.schedule(fn, args, timeout=timeout, on_progress=lambda _v: started.set())
    future.add_done_callback(lambda _f: started.set())  # a task that failed to start, at once
    assert started.wait(60), "the task never started"
    if future.done():
        future.result()  # raises what went wrong
        raise AssertionError("the task ended before it reported its start")
    return future


def _block_every_worker(pool, make_gate):
    """One gated task per worker (both kinds have two here), each running when we return."""
    gates = [make_gate(), make_gate()]
    blockers = [start(pool, tasks.started_then_wait_for_gate, gate.path) for gate in gates]
    return gates, blockers


def test_is_an_executor_and_submit_passes_kwargs(make_pool):
    pool = make_pool(2)
    assert isinstance(pool, cf.Executor)
    future = pool.submit(tasks.add, 2, 3)
    assert isinstance(future, cf.Future)
    assert future.result(timeout=60) == 5
    assert pool.submit(tasks.add, x=1, y=41).result(timeout=60) == 42


def test_map_keeps_order_across_workers(make_pool):
    pool = make_pool(2)
    assert list(pool.map(tasks.square, range(500))) == [i * i for i in range(500)]


@pytest.mark.parametrize("chunksize", [None, 1, 7, 5000])
def test_map_chunk_sizes(make_pool, chunksize):
    pool = make_pool(2)
    xs, ys = range(60), range(60, 120)
    assert list(pool.map(tasks.add, xs, ys, chunksize=chunksize)) == [
        x + y for x, y in zip(xs, ys, strict=True)
    ]


def test_map_stops_at_shortest_iterable_accepts_empty_and_rejects_bad_chunksize(make_pool):
    pool = make_pool(2)
    assert list(pool.map(tasks.add, [1, 2, 3], [10, 20])) == [11, 22]
    assert list(pool.map(tasks.square, [])) == []
    with pytest.raises(ValueError, match="chunksize"):
        pool.map(tasks.square, [1], chunksize=0)


def test_map_raises_when_the_failing_item_is_reached(make_pool):
    results = make_pool(2).map(tasks.fail, ["a"], chunksize=1)
    with pytest.raises(ValueError, match="a"):
        next(results)


def test_map_timeout(make_pool, make_gate):
    pool = make_pool(2)
    gate = make_gate()
    results = pool.map(tasks.wait_for_gate, [gate.path], timeout=0.5)
    with pytest.raises(TimeoutError):
        next(results)
    gate.release()


def test_wait_and_as_completed(make_pool):
    pool = make_pool(2)
    futures = [pool.submit(tasks.square, i) for i in range(20)]
    _done, not_done = cf.wait(futures, timeout=60)
    assert not not_done
    assert sorted(f.result() for f in cf.as_completed(futures)) == [i * i for i in range(20)]


@pytest.mark.parametrize("how", ["cancel", "stop"])
def test_a_pending_task_cancelled_never_runs_and_counts_as_done(make_pool, make_gate, how):
    pool = make_pool(2)
    gates, blockers = _block_every_worker(pool, make_gate)
    pending = pool.submit(tasks.square, 3)
    assert getattr(pending, how)()
    assert pending.cancelled()
    done, not_done = cf.wait([pending], timeout=30)
    assert done == {pending} and not not_done
    assert list(cf.as_completed([pending], timeout=30)) == [pending]
    assert not blockers[0].cancel(), "a running task cannot be cancelled (standard semantics)"
    for gate in gates:
        gate.release()
    assert [b.result(timeout=60) for b in blockers] == ["released", "released"]
    with pytest.raises(cf.CancelledError):
        pending.result()


def test_errors_keep_their_type_with_the_workers_traceback(make_pool):
    pool = make_pool(2)
    with pytest.raises(ValueError, match="boom") as info:
        pool.submit(tasks.fail, "boom").result(timeout=60)
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "dask_tasks.py" in cause.tb and "in fail" in cause.tb
    with pytest.raises(RemoteError, match="NeedsTwoArguments"):
        pool.submit(tasks.raise_unpicklable_error).result(timeout=60)


def test_unpicklable_arguments_fail_the_future_not_submit(make_pool):
    pool = make_pool(2)
    future = pool.submit(tasks.add, 1, threading.Lock())  # never raises: a slot may submit
    with pytest.raises(NotPicklableError, match="argument 2") as caught:
        future.result(timeout=60)
    assert isinstance(caught.value, pickle.PicklingError)
    assert pool.submit(tasks.add, 1, 2).result(timeout=60) == 3, "the pool goes on"
    with pytest.raises(TypeError, match="callable"):
        pool.submit(42)  # type: ignore[arg-type]


def test_progress_in_order_and_generators(make_pool):
    pool = make_pool(2)
    values: list[int] = []
    future = pool.schedule(tasks.report, (300,), on_progress=values.append)
    assert future.result(timeout=60) == 300
    assert values == list(range(300)), "every value, in order, before the result"
    yielded: list[int] = []
    future = pool.schedule(tasks.generate, (5,), on_progress=yielded.append)
    assert future.result(timeout=60) == "generated"
    assert yielded == [0, 10, 20, 30, 40]


def test_unpicklable_progress_fails_the_task_clearly(make_pool):
    with pytest.raises(TypeError, match="report_progress"):
        make_pool(2).submit(tasks.report_unpicklable).result(timeout=60)


def test_submit_after_shutdown_raises_runtime_error(make_pool):
    pool = make_pool(2)
    pool.shutdown()
    with pytest.raises(RuntimeError) as info:
        pool.submit(tasks.square, 2)
    assert isinstance(info.value, PoolShutdownError)
    pool.shutdown()  # idempotent


def test_context_manager_waits_for_running_tasks(make_pool):
    with make_pool(2) as pool:
        futures = [pool.submit(tasks.square, i) for i in range(30)]
    assert all(f.done() for f in futures)
    assert [f.result() for f in futures] == [i * i for i in range(30)]


def test_shutdown_cancel_futures_and_without_wait(make_pool, make_gate):
    pool = make_pool(2)
    gates, blockers = _block_every_worker(pool, make_gate)
    queued = [pool.submit(tasks.square, i) for i in range(5)]
    pool.shutdown(wait=False, cancel_futures=True)
    for gate in gates:
        gate.release()
    pool.shutdown(wait=True)
    assert [b.result() for b in blockers] == ["released", "released"]
    assert all(f.cancelled() for f in queued)


def test_shutdown_without_wait_still_completes_queued_work(make_pool):
    pool = make_pool(2)
    futures = [pool.submit(tasks.square, i) for i in range(30)]
    pool.shutdown(wait=False)
    assert [f.result(timeout=60) for f in futures] == [i * i for i in range(30)]


def test_shutdown_stop_running_cancels_running_tasks(make_pool):
    pool = make_pool(2)
    running = start(pool, tasks.started_then_loop_forever)
    pool.shutdown(wait=True, stop_running=True)
    assert running.cancelled()


def test_invalid_timeouts(make_pool):
    pool = make_pool(2)
    with pytest.raises(ValueError, match="timeout"):
        pool.schedule(tasks.square, (1,), timeout=-1)
