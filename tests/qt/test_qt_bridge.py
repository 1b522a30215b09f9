"""The bridge: outcomes of futures from any executor arrive as signals in the GUI thread."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor

import pytest
import qt_tasks
from qtpy.QtCore import QObject, QTimer

import qtcompute.qt
from qtcompute import Pool, PoolEvent, WorkerState
from qtcompute.qt import Delivery, TaskRunner, is_deleted

WORKER_START_TIMEOUT_MS = qt_tasks.WORKER_START_TIMEOUT_MS


def test_public_api_is_sorted_and_complete() -> None:
    assert qtcompute.qt.__all__ == sorted(qtcompute.qt.__all__)
    for name in qtcompute.qt.__all__:
        assert getattr(qtcompute.qt, name) is not None
    public = {n for n in vars(qtcompute.qt) if not n.startswith("_")} - {"annotations"}
    assert public == set(qtcompute.qt.__all__)


def test_result_arrives_as_signal_and_callback_in_gui_thread(qtbot, qapp, pool) -> None:
    runner = TaskRunner(pool, owns_executor=False)
    threads: list[bool] = []
    handle = runner.submit(
        qt_tasks.square,
        7,
        on_result=lambda _: threads.append(threading.current_thread() is threading.main_thread()),
    )
    with qtbot.waitSignal(handle.finished, timeout=WORKER_START_TIMEOUT_MS) as blocker:
        pass
    assert blocker.args == [49]
    assert threads == [True]
    assert runner.active() == 0


def test_error_arrives_as_failed_with_the_original_type(qtbot, qapp, pool) -> None:
    runner = TaskRunner(pool, owns_executor=False)
    errors: list[BaseException] = []
    handle = runner.submit(qt_tasks.fail, "boom", on_error=errors.append)
    with qtbot.waitSignal(handle.failed, timeout=WORKER_START_TIMEOUT_MS) as blocker:
        pass
    (exc,) = blocker.args
    assert isinstance(exc, ValueError) and str(exc) == "boom"
    assert errors == [exc]


@pytest.mark.parametrize("delivery", [Delivery.EACH, Delivery.BATCH, Delivery.LATEST])
def test_progress_delivery_modes(qtbot, qapp, pool, delivery: Delivery) -> None:
    n = 5000
    runner = TaskRunner(pool, owns_executor=False)
    received: list[object] = []
    handle = runner.submit(qt_tasks.count, n, on_progress=received.append, progress=delivery)
    with qtbot.waitSignal(handle.finished, timeout=WORKER_START_TIMEOUT_MS) as blocker:
        pass
    assert blocker.args == [n]
    if delivery is Delivery.EACH:
        assert received == list(range(n))
    elif delivery is Delivery.BATCH:
        assert all(isinstance(batch, list) for batch in received)
        assert [v for batch in received for v in batch] == list(range(n))  # type: ignore[attr-defined]
        assert len(received) < n  # coalesced
    else:
        assert received[-1] == n - 1  # the newest value always arrives...
        assert received == sorted(set(received))  # ...older ones may be dropped, never reordered


def test_any_executor_future_can_be_delivered(qtbot, qapp) -> None:
    """ProcessPoolExecutor futures have no progress or stop: results and errors still arrive."""
    executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    runner = TaskRunner(executor)
    ok = runner.deliver(executor.submit(qt_tasks.square, 12))
    bad = runner.deliver(executor.submit(qt_tasks.fail, "no"))
    with qtbot.waitSignals([ok.finished, bad.failed], timeout=WORKER_START_TIMEOUT_MS):
        pass
    runner.shutdown()
    assert runner.is_shut_down()


def test_a_flood_is_coalesced_and_nothing_is_dropped(qtbot, qapp) -> None:
    executor = ThreadPoolExecutor(2)
    runner = TaskRunner(executor)
    results: list[int] = []
    n = 20_000
    for i in range(n):
        runner.submit(qt_tasks.square, i, on_result=results.append)
    qtbot.waitUntil(lambda: len(results) == n, timeout=30_000)
    assert sorted(results) == [i * i for i in range(n)]
    assert runner.inbox.batches < n / 10  # one wake-up per event-loop turn, not per result
    runner.shutdown()


def test_deliveries_are_paced_so_timers_keep_running(qtbot, qapp) -> None:
    """A backlog larger than one frame's budget is drained over several event-loop turns."""
    runner = TaskRunner(ThreadPoolExecutor(1), budget_s=0.004)
    done: list[int] = []
    ticks_during: list[int] = []
    timer = QTimer()
    timer.setInterval(0)
    timer.timeout.connect(lambda: ticks_during.append(len(done)) if 0 < len(done) < 200 else None)
    timer.start()

    def slow_callback(i: int) -> None:
        deadline = time.perf_counter() + 0.001  # a callback that costs a millisecond of GUI time
        while time.perf_counter() < deadline:
            pass
        done.append(i)

    for i in range(200):
        runner.inbox.post(slow_callback, i)  # as a foreign thread would; one wake for all
    qtbot.waitUntil(lambda: len(done) == 200, timeout=10_000)
    timer.stop()
    runner.shutdown()
    assert done == list(range(200))
    assert runner.inbox.batches >= 200 * 0.001 / 0.004 / 2
    assert ticks_during, "the timer never ran while the backlog was drained"


def test_owner_destroyed_cancels_and_no_callback_runs(qtbot, qapp, pool) -> None:
    runner = TaskRunner(pool, owns_executor=False)
    owner = QObject()
    owner.setObjectName("owner")
    calls: list[str] = []
    handle = runner.submit(
        qt_tasks.stuck_add,
        1,
        2,
        owner=owner,
        on_result=lambda _: calls.append(owner.objectName()),  # would raise if it ran
        on_error=lambda _: calls.append(owner.objectName()),
    )
    future = handle.future
    qtbot.waitUntil(future.running, timeout=WORKER_START_TIMEOUT_MS)
    with qtbot.waitSignal(owner.destroyed):
        owner.deleteLater()
    assert is_deleted(owner)
    qtbot.waitUntil(future.done, timeout=10_000)
    assert future.cancelled()  # the running task was stopped, not waited for
    qtbot.waitUntil(lambda: runner.inbox.pending() == 0)
    assert calls == []
    assert not handle.is_live()
    assert runner.active() == 0


def test_callback_bound_to_a_deleted_qobject_is_skipped(qtbot, qapp) -> None:
    runner = TaskRunner(ThreadPoolExecutor(1))
    gate = threading.Event()
    receiver = QObject()
    handle = runner.submit(gate.wait, on_result=receiver.setObjectName)
    with qtbot.waitSignal(receiver.destroyed):
        receiver.deleteLater()
    with qtbot.waitSignal(handle.finished):
        gate.set()
    runner.shutdown()


def test_cancel_pending_task_emits_cancelled(qtbot, qapp) -> None:
    runner = TaskRunner(ThreadPoolExecutor(1))
    gate = threading.Event()
    first = runner.submit(gate.wait)
    second = runner.submit(qt_tasks.square, 3)
    with qtbot.waitSignal(second.cancelled):
        assert second.cancel()
    with qtbot.waitSignal(first.finished):
        gate.set()
    runner.shutdown()


def test_pool_events_arrive_in_gui_thread(qtbot, qapp) -> None:
    runner = TaskRunner(Pool(workers=1))
    events: list[tuple[PoolEvent, bool]] = []
    runner.pool_state_changed.connect(
        lambda e: events.append((e, threading.current_thread() is threading.main_thread()))
    )
    handle = runner.submit(qt_tasks.square, 2)
    with qtbot.waitSignal(handle.finished, timeout=WORKER_START_TIMEOUT_MS):
        pass
    qtbot.waitUntil(lambda: any(e.kind is WorkerState.BUSY for e, _ in events))
    assert all(in_gui for _, in_gui in events)
    runner.shutdown()


def test_runner_destroyed_shuts_its_executor_down(qtbot, qapp) -> None:
    executor = ThreadPoolExecutor(1)
    parent = QObject()
    TaskRunner(executor, parent=parent)
    with qtbot.waitSignal(parent.destroyed):
        parent.deleteLater()
    with pytest.raises(RuntimeError):
        executor.submit(qt_tasks.square, 1)


def test_shutdown_detaches_every_handle(qapp) -> None:
    future: Future[int] = Future()
    runner = TaskRunner(ThreadPoolExecutor(1))
    handle = runner.deliver(future)
    assert handle.is_live() and handle.future is future
    runner.shutdown()
    assert not handle.is_live()
    assert future.cancelled()


def test_outcomes_after_the_runner_is_destroyed_go_nowhere(qtbot, qapp, caplog) -> None:
    future: Future[int] = Future()
    parent = QObject()
    runner = TaskRunner(ThreadPoolExecutor(1), parent=parent)
    runner.deliver(future, on_result=lambda _: pytest.fail("delivered after destruction"))
    with qtbot.waitSignal(parent.destroyed):
        parent.deleteLater()
    worker = threading.Thread(target=future.set_result, args=(1,))
    worker.start()
    worker.join()
    qapp.processEvents()
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_runner_in_a_collected_window_cycle_does_not_crash(tmp_path):
    """PyQt5 frees a non-method slot held only by the connection when the GC breaks a cycle
    before Qt's deferred delete; the runner must keep its ``destroyed`` slot alive (segfault)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import gc
        from concurrent.futures import ThreadPoolExecutor
        from qtpy.QtCore import QCoreApplication, QEvent
        from qtpy.QtWidgets import QApplication, QMainWindow
        from qtcompute.qt import TaskRunner

        app = QApplication([])
        for _ in range(3):
            window = QMainWindow()
            window.runner = TaskRunner(ThreadPoolExecutor(1), parent=window)
            window.me = window  # a reference cycle
            window.deleteLater()
            del window
            gc.collect()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        print("survived")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "survived" in done.stdout


def test_unpicklable_argument_reaches_on_error_instead_of_raising(qtbot, qapp, pool) -> None:
    from qtcompute.errors import NotPicklableError

    runner = TaskRunner(pool, owns_executor=False)
    errors: list[BaseException] = []
    handle = runner.submit(qt_tasks.identity, threading.Lock(), on_error=errors.append)
    with qtbot.waitSignal(handle.failed, timeout=WORKER_START_TIMEOUT_MS) as blocker:
        pass
    (exc,) = blocker.args
    assert isinstance(exc, NotPicklableError) and "argument 1" in str(exc)
    assert errors == [exc]
    assert runner.active() == 0


@pytest.mark.parametrize("executor_kind", ["qtcompute", "threads"])
def test_shut_down_executor_reaches_on_error(qtbot, qapp, executor_kind) -> None:
    executor = Pool(workers=1) if executor_kind == "qtcompute" else ThreadPoolExecutor(1)
    executor.shutdown()
    runner = TaskRunner(executor, owns_executor=False)
    errors: list[BaseException] = []
    handle = runner.submit(qt_tasks.square, 2, on_error=errors.append)
    with qtbot.waitSignal(handle.failed, timeout=10_000) as blocker:
        pass
    assert isinstance(blocker.args[0], RuntimeError)
    assert errors == blocker.args


def test_broken_pool_reaches_on_error(qtbot, qapp) -> None:
    from qtcompute.errors import BrokenPoolError

    broken = Pool(workers=1, initializer=qt_tasks.init_raises)
    first = broken.submit(qt_tasks.square, 1)
    assert isinstance(first.exception(timeout=WORKER_START_TIMEOUT_MS / 1000), BrokenPoolError)
    runner = TaskRunner(broken)
    errors: list[BaseException] = []
    handle = runner.submit(qt_tasks.square, 2, on_error=errors.append)
    with qtbot.waitSignal(handle.failed, timeout=10_000) as blocker:
        pass
    assert isinstance(blocker.args[0], BrokenPoolError)
    assert "initializer" in str(blocker.args[0])
    assert errors == blocker.args
    runner.shutdown()


def test_a_call_that_is_wrong_in_itself_still_raises(qapp, pool) -> None:
    runner = TaskRunner(pool, owns_executor=False)
    with pytest.raises(TypeError, match="callable"):
        runner.submit(42)  # type: ignore[arg-type]


def test_submit_after_the_runner_shut_down_warns_and_emits_nothing(qapp, caplog) -> None:
    runner = TaskRunner(ThreadPoolExecutor(1))
    runner.shutdown()
    handle = runner.submit(qt_tasks.square, 3, on_error=lambda _: pytest.fail("delivered"))
    assert not handle.is_live()
    assert runner.active() == 0
    assert any("after the runner was shut down" in r.getMessage() for r in caplog.records)


def test_a_real_pyqt5_app_survives_task_failures_submitted_from_slots(tmp_path) -> None:
    """In PyQt5 an exception escaping a slot aborts the process (SIGABRT, exit 134): every
    task-level failure must reach on_error instead, and the app must quit normally."""
    import os
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    script = textwrap.dedent(
        """
        import sys, threading
        from qtpy.QtCore import QTimer
        from qtpy.QtWidgets import QApplication
        import qt_tasks
        from qtcompute import Pool
        from qtcompute.qt import TaskRunner

        if __name__ == "__main__":
            app = QApplication([])
            pool = Pool(workers=1)
            runner = TaskRunner(pool)
            closed = TaskRunner(Pool(workers=1))
            closed.executor.shutdown()
            seen = []

            def report(kind):
                def on_error(exc):
                    seen.append(kind)
                    print(kind, type(exc).__name__, flush=True)
                    if len(seen) == 2:
                        app.quit()
                return on_error

            def slot():  # runs inside the event loop, where an escaping exception aborts
                runner.submit(qt_tasks.identity, threading.Lock(), on_error=report("lock"))
                closed.submit(qt_tasks.square, 2, on_error=report("closed"))

            QTimer.singleShot(0, slot)
            app.exec_()
            closed.shutdown()
            print("survived", flush=True)
        """
    )
    here = Path(__file__).parent
    env = dict(
        os.environ,
        QT_API="pyqt5",
        QT_QPA_PLATFORM="offscreen",
        PYTHONPATH=os.pathsep.join([str(here), *sys.path]),
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180, env=env
    )
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert "lock NotPicklableError" in done.stdout
    assert "closed PoolShutdownError" in done.stdout
    assert "survived" in done.stdout
