"""engine/_future_state.py, the one module that touches ``concurrent.futures.Future``'s private
state: pinned to the CPython versions it was checked against, and equal to the public API.

Every behaviour test runs twice: with the fast path (private state) and with the public API it
falls back to on other versions, so a difference between the two shows as one failing variant.
"""

from __future__ import annotations

import concurrent.futures as cf
import sys
import threading
import time
from concurrent.futures import CancelledError, Future

import pytest

from qtcompute.engine import _future_state as fs


def test_the_fast_path_is_pinned_to_the_cpython_versions_it_was_checked_against():
    assert sys.version_info[:2] in fs.PINNED, (
        f"CPython {sys.version_info[:2]} is not among {fs.PINNED}: compare _future_state.py with "
        "this version's concurrent/futures/_base.py, then add it to PINNED"
    )
    assert fs.FAST


@pytest.fixture(params=["fast", "public"])
def path(request, monkeypatch):
    if request.param == "public":
        monkeypatch.setattr(fs, "FAST", False)
    return request.param


class Watchers:
    """Everything that may be waiting on one future: a thread in result(), a wait() and an
    as_completed() in other threads, and a done callback."""

    def __init__(self, future: Future) -> None:
        self.future = future
        self.callbacks: list[Future] = []
        self.outcomes: dict[str, object] = {}
        future.add_done_callback(self.callbacks.append)
        self._threads = [
            threading.Thread(target=self._result),
            threading.Thread(target=self._wait),
            threading.Thread(target=self._as_completed),
        ]
        for thread in self._threads:
            thread.start()
        # Settle only once all three wait (else they would find it done and prove nothing):
        # wait() and as_completed() add a waiter each, result() waits on the condition. The
        # future's internals have no event to wait on, so look until they are there.
        deadline = time.monotonic() + 30
        while len(future._waiters) < 2 or len(future._condition._waiters) < 1:
            assert time.monotonic() < deadline, "the waiting threads never started to wait"
            time.sleep(0.001)

    def _result(self) -> None:
        try:
            self.outcomes["result"] = self.future.result(timeout=60)
        except BaseException as exc:
            self.outcomes["result"] = type(exc)

    def _wait(self) -> None:
        done, _ = cf.wait([self.future], timeout=60)
        self.outcomes["wait"] = self.future in done

    def _as_completed(self) -> None:
        self.outcomes["as_completed"] = list(cf.as_completed([self.future], timeout=60))

    def join(self) -> dict[str, object]:
        for thread in self._threads:
            thread.join(60)
        return self.outcomes


def test_settle_with_a_result_tells_every_waiter(path):
    future: Future = Future()
    fs.mark_running(future)
    assert future.running() and fs.is_running(future)
    watchers = Watchers(future)
    assert fs.settle(future, 42, None)
    assert watchers.join() == {"result": 42, "wait": True, "as_completed": [future]}
    assert watchers.callbacks == [future]
    assert fs.finished_result(future) == ((True, 42) if path == "fast" else (False, None))
    assert future.result(timeout=0) == 42


def test_settle_with_an_error_tells_every_waiter(path):
    future: Future = Future()
    fs.mark_running(future)
    watchers = Watchers(future)
    assert fs.settle(future, None, ValueError("boom"))
    assert watchers.join() == {"result": ValueError, "wait": True, "as_completed": [future]}
    assert watchers.callbacks == [future]
    assert fs.finished_result(future) == (False, None)
    assert isinstance(future.exception(timeout=0), ValueError)


def test_settle_leaves_an_ended_future_alone(path):
    cancelled: Future = Future()
    assert cancelled.cancel()
    assert not fs.settle(cancelled, 1, None) and cancelled.cancelled()
    finished: Future = Future()
    fs.mark_running(finished)
    assert fs.settle(finished, 1, None)
    assert not fs.settle(finished, 2, ValueError()) and finished.result(timeout=0) == 1


def test_a_running_future_ends_cancelled_and_every_waiter_knows(path):
    future: Future = Future()
    fs.mark_running(future)
    assert not future.cancel()  # what the public API says of a running future
    watchers = Watchers(future)
    assert fs.set_stopped(future)
    assert watchers.join() == {"result": CancelledError, "wait": True, "as_completed": [future]}
    assert future.cancelled() and watchers.callbacks == [future]
    assert not fs.set_stopped(future)


def test_a_finished_future_cannot_be_stopped(path):
    future: Future = Future()
    fs.mark_running(future)
    fs.settle(future, 1, None)
    assert not fs.set_stopped(future) and future.result(timeout=0) == 1


def test_a_cancelled_future_is_counted_by_wait_once_notified(path):
    future: Future = Future()
    assert future.cancel()
    fs.notify_cancelled(future)
    fs.notify_cancelled(future)  # twice is harmless (cancel() may be called again)
    done, _ = cf.wait([future], timeout=0)
    assert done == {future}
    assert list(cf.as_completed([future], timeout=0)) == [future]


def test_start_if_pending_starts_once(path):
    future: Future = Future()
    assert fs.start_if_pending(future) and future.running()
    assert not fs.start_if_pending(future)
    cancelled: Future = Future()
    cancelled.cancel()
    assert not fs.start_if_pending(cancelled)
