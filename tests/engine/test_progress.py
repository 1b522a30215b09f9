"""Tasks report progress; callers subscribe per task."""

from __future__ import annotations

import threading

import engine_tasks as tasks
import pytest

from qtcompute import report_progress


def test_report_progress_in_order(make_pool):
    pool = make_pool(1)
    seen = []
    future = pool.schedule(tasks.report, (500,), on_progress=seen.append)
    assert future.result(timeout=30) == 500
    assert seen == list(range(500)), "every value, in order, before the result"


def test_generator_task_yields_progress_and_returns_result(make_pool):
    pool = make_pool(1)
    seen = []
    future = pool.schedule(tasks.generate, (5,), on_progress=seen.append)
    assert future.result(timeout=30) == "done"
    assert seen == [0, 1, 2, 3, 4]


def test_progress_callbacks_added_after_submit(make_pool, gate):
    pool = make_pool(1)
    blocker = pool.submit(tasks.wait_for_gate, gate.path)
    seen = []
    future = pool.submit(tasks.report, 3)
    future.add_progress_callback(seen.append)
    gate.release()
    blocker.result(timeout=30)
    assert future.result(timeout=30) == 3
    assert seen == [0, 1, 2]


def test_progress_flood_is_delivered_completely(make_pool):
    pool = make_pool(2)
    counts = {}
    lock = threading.Lock()

    def counter(key):
        def on_progress(value):
            with lock:
                counts[key] = counts.get(key, 0) + 1

        return on_progress

    futures = [pool.schedule(tasks.report, (50_000,), on_progress=counter(i)) for i in range(2)]
    assert [f.result(timeout=60) for f in futures] == [50_000, 50_000]
    assert counts == {0: 50_000, 1: 50_000}


def test_a_failing_progress_callback_does_not_break_the_task(make_pool, caplog):
    def broken(value):
        raise RuntimeError("callback bug")

    future = make_pool(1).schedule(tasks.report, (3,), on_progress=broken)
    assert future.result(timeout=30) == 3
    assert "progress callback" in caplog.text


def test_report_progress_outside_a_worker_is_harmless():
    report_progress(1)  # no worker, no task: nothing to do, nothing raised


def test_values_reported_before_subscribing_are_replayed(make_pool):
    pool = make_pool(1)
    future = pool.submit(tasks.report, 200)
    assert future.result(timeout=30) == 200  # everything arrived before anyone subscribed
    seen = []
    future.add_progress_callback(seen.append)
    assert seen == list(range(200))
    later = []
    future.add_progress_callback(later.append)
    assert later == [], "only the first subscriber gets the backlog"


def test_batch_progress_callbacks_get_tuples_in_order(make_pool):
    pool = make_pool(1)
    batches = []
    future = pool.submit(tasks.report, 20_000)
    future.add_progress_callback(batches.append, batch=True)
    assert future.result(timeout=30) == 20_000
    assert all(isinstance(batch, tuple) for batch in batches)
    assert [v for batch in batches for v in batch] == list(range(20_000))
    assert len(batches) < 20_000, "values were coalesced into frames"


def test_an_unpicklable_progress_value_fails_the_task_not_the_worker(make_pool):
    pool = make_pool(1)
    (pid,) = pool.pids()
    with pytest.raises(TypeError, match="report_progress"):
        pool.submit(tasks.report_unpicklable).result(timeout=60)
    assert pool.submit(tasks.getpid).result(timeout=60) == pid
