"""``TaskRunner`` on a ``DaskPool``, unchanged: a cluster's outcomes arrive as signals in the GUI
thread, with progress, coalescing, owners, shutdown on quit, and a lost scheduler that fails the
tasks while the event loop keeps running."""

from __future__ import annotations

import threading

import dask_tasks as tasks
import pytest

pytest.importorskip("pytestqt")

from qtpy.QtCore import QCoreApplication, QObject, QTimer

from qtcompute.dask import DaskPool, SchedulerLostError
from qtcompute.qt import Delivery, TaskRunner

TIMEOUT_MS = 60_000


def test_results_errors_and_progress_arrive_in_the_gui_thread(qtbot, qapp, dask_pool):
    runner = TaskRunner(dask_pool, owns_executor=False)
    in_gui_thread: list[bool] = []
    handle = runner.submit(
        tasks.add,
        20,
        22,
        on_result=lambda _r: in_gui_thread.append(
            threading.current_thread() is threading.main_thread()
        ),
    )
    with qtbot.waitSignal(handle.finished, timeout=TIMEOUT_MS) as blocker:
        pass
    assert blocker.args == [42] and in_gui_thread == [True]

    failed = runner.submit(tasks.fail, "boom")
    with qtbot.waitSignal(failed.failed, timeout=TIMEOUT_MS) as blocker:
        pass
    (error,) = blocker.args
    assert isinstance(error, ValueError) and str(error) == "boom"

    received: list[list[int]] = []
    batched = runner.submit(
        tasks.report, 2000, on_progress=received.append, progress=Delivery.BATCH
    )
    with qtbot.waitSignal(batched.finished, timeout=TIMEOUT_MS):
        pass
    assert [v for batch in received for v in batch] == list(range(2000))
    assert len(received) < 2000, "coalesced into a few deliveries"
    assert runner.active() == 0


def test_an_owner_destroyed_stops_its_running_task(qtbot, qapp, dask_pool):
    runner = TaskRunner(dask_pool, owns_executor=False)
    owner = QObject()
    started = threading.Event()
    handle = runner.submit(
        tasks.started_then_loop_forever, owner=owner, on_progress=lambda _v: started.set()
    )
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    emitted: list[str] = []
    handle.cancelled.connect(lambda: emitted.append("cancelled"))
    future = handle.future
    owner.deleteLater()
    qtbot.waitUntil(future.done, timeout=TIMEOUT_MS)
    assert future.cancelled()
    # The worker's only thread is free again: the stopped loop really ended on the cluster.
    follow = runner.submit(tasks.square, 6)
    follow_up = runner.submit(tasks.square, 7)
    with qtbot.waitSignals([follow.finished, follow_up.finished], timeout=TIMEOUT_MS):
        pass
    assert emitted == [], "nothing of a task whose owner is gone is emitted"


def test_quitting_shuts_the_pool_down_and_stops_running_tasks(qtbot, qapp, cluster):
    pool = DaskPool(cluster)
    runner = TaskRunner(pool)  # owns the pool; connected to aboutToQuit
    started = threading.Event()
    handle = runner.submit(tasks.started_then_loop_forever, on_progress=lambda _v: started.set())
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    QCoreApplication.instance().aboutToQuit.emit()  # what app.quit() emits before it returns
    assert runner.is_shut_down()
    assert handle.future.cancelled()
    assert pool.client.status == "closed"
    with pytest.raises(RuntimeError):
        pool.submit(tasks.square, 1)


def test_a_lost_scheduler_fails_the_tasks_and_the_gui_keeps_running(qtbot, qapp, process_cluster):
    client = process_cluster.client()
    pool = DaskPool(client)
    runner = TaskRunner(pool, owns_executor=False)
    try:
        started = threading.Event()
        handle = runner.submit(
            tasks.started_then_loop_forever, on_progress=lambda _v: started.set()
        )
        qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
        ticks: list[int] = []
        timer = QTimer()
        timer.timeout.connect(lambda: ticks.append(1))
        timer.start(10)
        process_cluster.kill_scheduler()
        with qtbot.waitSignal(handle.failed, timeout=TIMEOUT_MS) as blocker:
            pass
        (error,) = blocker.args
        assert isinstance(error, SchedulerLostError) and pool.address in str(error)
        count = len(ticks)
        qtbot.waitUntil(lambda: len(ticks) > count + 2, timeout=TIMEOUT_MS)  # still turning
        timer.stop()
    finally:
        runner.shutdown(wait=False)
        pool.shutdown(wait=False)
        client.close(timeout=5)
