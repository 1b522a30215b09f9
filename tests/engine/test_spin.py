"""Spinning before sleeping, frame counts and the bell: adaptive, bounded, optional, and
invisible in results, whatever the size of a frame and whoever reads it."""

from __future__ import annotations

import concurrent.futures
import os
import sys
import threading
import time

import engine_tasks as tasks
import pytest

from qtcompute import Pool
from qtcompute.engine import _channel, _frame_counts
from qtcompute.engine._spin import Spinner


def test_a_spinner_starts_asleep_and_spins_after_a_short_wait():
    checks = []
    spinner = Spinner(10.0, lambda: checks.append(1) or "ready")
    assert spinner.spin() is None  # no evidence yet that the other end is fast
    assert checks == []
    spinner.woke()  # that wait was far shorter than 10 s
    assert spinner.spin() == "ready"
    assert checks == [1]


def test_a_spin_that_runs_out_stops_spinning_until_a_wait_is_short_again():
    answers = iter([None, None, None])
    spinner = Spinner(1e-9, lambda: next(answers, None))
    spinner._enabled = True
    assert spinner.spin() is None  # ran out: the limit is a nanosecond
    assert spinner.spin() is None  # and does not spin again
    spinner.woke()  # a wait longer than the limit keeps it asleep
    assert spinner._enabled is False


def test_a_zero_limit_never_spins():
    spinner = Spinner(0.0, lambda: pytest.fail("a disabled spinner must not check"))
    for _ in range(3):
        assert spinner.spin() is None
        spinner.woke()


@pytest.mark.parametrize("spin", [0, 0.002])
def test_results_are_the_same_with_and_without_spinning(make_pool, spin):
    pool = make_pool(1, spin=spin)
    assert [pool.submit(tasks.add, i, i).result(timeout=60) for i in range(200)] == [
        2 * i for i in range(200)
    ]
    assert list(pool.map(tasks.square, range(500), chunksize=7)) == [i * i for i in range(500)]


@pytest.mark.parametrize("spin", [-1, 1.0, "fast", True])
def test_spin_must_be_a_small_number_of_seconds(spin):
    with pytest.raises(ValueError, match="spin must be"):
        Pool(1, spin=spin)


def test_by_default_only_a_pool_that_leaves_a_cpu_free_spins(make_pool):
    from qtcompute.engine._pool import _usable_cpus

    cpus = _usable_cpus()
    assert make_pool(cpus)._core.state.spin == 0  # spinning workers would starve the parent
    if cpus > 1:
        assert make_pool(cpus - 1)._core.state.spin > 0


@pytest.mark.skipif(not _frame_counts.AVAILABLE, reason="no memfd_create here")
def test_a_spinning_pool_counts_every_frame_both_ways(make_pool):
    pool = make_pool(1, spin=0.002)
    pool.ping(timeout=60)
    for i in range(50):
        assert pool.submit(tasks.report, 3).result(timeout=60) == 3  # progress frames too
        assert pool.submit(tasks.add, i, 1).result(timeout=60) == i + 1
    (worker,) = pool._core.state.handles
    counts = worker.channel._counts
    reader = worker.channel._reader
    # Every frame the worker wrote was counted and read; every task frame we sent was counted.
    # A worker counts a frame just *after* writing it, so the last result may be read before
    # its count lands: wait for the count itself (a shared page has no event to wait on).
    deadline = time.monotonic() + 30
    while counts[_frame_counts.FROM_WORKER] < reader.frames and time.monotonic() < deadline:
        time.sleep(0)
    assert counts[_frame_counts.FROM_WORKER] == reader.frames >= 1 + 50 * 2
    assert counts[_frame_counts.TO_WORKER] >= 1 + 50 * 2


def test_frame_counts_wrap_around_at_32_bits():
    counts = _frame_counts.make()
    if counts is None:
        pytest.skip("no memfd_create here")
    try:
        counts.counts[_frame_counts.TO_WORKER] = _frame_counts.MASK
        counts.count(_frame_counts.TO_WORKER)
        assert counts.counts[_frame_counts.TO_WORKER] == 0
    finally:
        counts.close()


needs_counts = pytest.mark.skipif(not _frame_counts.AVAILABLE, reason="no memfd_create here")


@needs_counts
def test_round_trips_read_directly_leave_the_supervisor_asleep(make_pool):
    pool = make_pool(1)
    pool.ping(timeout=60)
    state = pool._core.state
    (worker,) = state.handles
    for i in range(20):
        assert pool.submit(tasks.add, i, 1).result(timeout=60) == i + 1
    # The worker's pipe never entered the supervisor's epoll set; its frames came by the bell
    # (Ready, Pong) or were read by the waiting thread.
    assert worker.watched is False
    assert worker.channel.fd not in state.waiter._tags


@needs_counts
def test_results_nobody_waits_for_arrive_by_the_bell(make_pool):
    _add_through_callbacks(make_pool(2), 100)


def _add_through_callbacks(pool, count: int) -> None:
    """Submit ``count`` additions and wait for them through done callbacks only (no claim)."""
    settled = threading.Semaphore(0)
    futures = [pool.submit(tasks.add, i, i) for i in range(count)]
    for future in futures:
        future.add_done_callback(lambda _f: settled.release())
    for _ in futures:
        assert settled.acquire(timeout=60)
    assert [f.result(timeout=0) for f in futures] == [2 * i for i in range(count)]


@needs_counts
def test_a_result_after_its_waiter_gave_up_still_arrives(make_pool, gate):
    pool = make_pool(1)
    pool.ping(timeout=60)  # started: the task runs at once, and result() claims its worker
    future = pool.submit(tasks.wait_for_gate, gate.path)
    with pytest.raises(TimeoutError):
        future.result(timeout=0.2)  # claims the worker, then gives up
    (worker,) = pool._core.state.handles
    assert worker.watched  # the supervisor took the pipe back
    # As if the worker had seen the waiter's claim just before it gave up: no ring at all.
    worker.channel._counts[_frame_counts.DIRECT] = future.task_id
    settled = threading.Event()
    future.add_done_callback(lambda _f: settled.set())
    gate.release()
    assert settled.wait(60), "the result was lost: nobody read the pipe"
    assert future.result(timeout=0) == "released"


@pytest.mark.parametrize("spin", [0, 0.002])
def test_without_frame_counts_the_supervisor_watches_every_pipe(make_pool, gate, monkeypatch, spin):
    # What macOS and Windows do (no memfd): no bell, no counts; spinners poll the pipe.
    monkeypatch.setattr(_frame_counts, "AVAILABLE", False)
    pool = make_pool(1, spin=spin)
    pool.ping(timeout=60)
    (worker,) = pool._core.state.handles
    assert not worker.channel.counted and pool._core.state.bell is None
    assert [pool.submit(tasks.add, i, 1).result(timeout=60) for i in range(50)] == [
        i + 1 for i in range(50)
    ]
    assert worker.watched  # given back to the supervisor after each direct wait
    values = []
    assert pool.schedule(tasks.report, (3,), on_progress=values.append).result(timeout=60) == 3
    assert values == [0, 1, 2]
    _add_through_callbacks(pool, 20)
    late = pool.submit(tasks.wait_for_gate, gate.path)
    with pytest.raises(TimeoutError):
        late.result(timeout=0.2)
    done = threading.Event()
    late.add_done_callback(lambda _f: done.set())
    gate.release()
    assert done.wait(60) and late.result(timeout=0) == "released"


# Frames larger than a pipe takes in one write are announced before they are written: the
# worker blocks in write() until somebody reads, and nobody would if the bell came after.
SIZES = [10, 5_000, 70_000, 1_000_000]


@pytest.mark.parametrize("size", SIZES)
def test_results_of_any_size_reach_callbacks_with_nobody_waiting(make_pool, size):
    pool = make_pool(1)
    pool.ping(timeout=60)
    future = pool.submit(tasks.text, size)
    done, _ = concurrent.futures.wait([future], timeout=60)  # no direct read: the bell
    assert done and len(future.result(timeout=0)) == size


@pytest.mark.parametrize("size", SIZES)
def test_a_result_of_any_size_arrives_after_its_waiter_gave_up(make_pool, gate, size):
    pool = make_pool(1)
    pool.ping(timeout=60)
    future = pool.submit(tasks.text_after_gate, gate.path, size)
    with pytest.raises(TimeoutError):
        future.result(timeout=0.2)
    gate.release()
    done, _ = concurrent.futures.wait([future], timeout=60)  # the supervisor watches the pipe
    assert done and len(future.result(timeout=0)) == size


@pytest.mark.parametrize("size", SIZES)
def test_progress_of_any_size_reaches_its_callback(make_pool, size):
    pool = make_pool(1)
    pool.ping(timeout=60)
    values = []
    future = pool.schedule(tasks.report_text, (size,), on_progress=values.append)
    done, _ = concurrent.futures.wait([future], timeout=60)
    assert done and future.result(timeout=0) == size
    assert [len(v) for v in values] == [size]


class _WorkerEnd:
    """A worker's channel on real pipes and a real page, driven in this process."""

    def __init__(self) -> None:
        from multiprocessing import Pipe

        from qtcompute.engine._channel import WorkerEnd

        self.page = _frame_counts.make()
        self.tasks, task_writer = Pipe(duplex=False)
        self.replies, reply_writer = Pipe(duplex=False)
        self.bell, bell_writer = Pipe(duplex=False)
        self._keep = (task_writer,)
        self.channel = WorkerEnd(self.tasks, reply_writer, self.page, bell_writer)
        self.counts = self.page.counts

    def rings(self) -> int:
        return len(os.read(self.bell.fileno(), 4096)) if self.bell.poll(0) else 0

    def reply_read(self) -> None:
        """What the pool's reader does: read the frame, publish its count."""
        self.replies.recv_bytes()
        self.counts[_frame_counts.READ] = (self.counts[_frame_counts.READ] + 1) & 0xFFFFFFFF


@needs_counts
def test_the_worker_holds_back_the_ring_of_a_result_its_submitter_may_claim():
    end = _WorkerEnd()
    mark = _channel.claim_mark(7)
    result = b"\x07" + bytes(7) + b"\x05" + b"result"
    # Nobody claimed: rung at once.
    end.channel.send_frame(result, 7, last=True)
    assert end.rings() == 1 and not end.channel.owed
    end.reply_read()
    # Claimed: never rung.
    end.counts[_frame_counts.DIRECT] = mark
    end.channel.send_frame(result, 7, last=True)
    assert end.rings() == 0 and not end.channel.owed
    end.reply_read()
    # Tentatively claimed: held back; read (or claimed) before the hold ends: no ring at all.
    end.counts[_frame_counts.DIRECT] = mark | _channel.TENTATIVE
    end.channel.send_frame(result, 7, last=True)
    assert end.rings() == 0 and end.channel.owed == mark
    end.reply_read()
    end.channel.pay_ring()
    assert end.rings() == 0 and not end.channel.owed
    # Held back and still unread when the hold ends: rung then.
    end.channel.send_frame(result, 7, last=True)
    assert end.rings() == 0
    end.channel.pay_ring()
    assert end.rings() == 1
    # Progress (not the last frame) of a tentatively claimed task is never held back.
    end.reply_read()
    end.channel.send_frame(result, 7)
    assert end.rings() == 1


@needs_counts
def test_a_held_back_result_nobody_claims_is_rung_for_when_the_spin_ends(make_pool):
    pool = make_pool(1, spin=0.002)
    pool.ping(timeout=60)
    for i in range(20):
        future = pool.submit(tasks.add, i, 1)  # sent straight to the worker: held back
        done, _ = concurrent.futures.wait([future], timeout=60)  # never claimed
        assert done and future.result(timeout=0) == i + 1


def test_a_held_back_ring_never_waits_for_a_thread_blocked_in_a_large_write(make_pool, monkeypatch):
    # The worker's output thread blocks in large writes holding the worker's send lock, while
    # callers send the worker tasks larger than its pipe under the pool's lock, which the pool
    # needs to drain the output: the worker's main thread must never wait for the send lock
    # between tasks (it once did, to pay a held-back ring: a deadlock in a review's run).
    monkeypatch.setattr(sys, "stdout", open(os.devnull, "w"))  # noqa: SIM115 (closed below)
    pool = make_pool(1, initializer=tasks.lose_console)
    assert pool.submit(tasks.flood_output, 5.0).result(timeout=60)
    big = "x" * 300_000
    finished = threading.Event()

    def round_trips():
        for _ in range(300):
            assert pool.submit(tasks.add, 1, 1).result(timeout=60) == 2
            assert pool.submit(tasks.identity, big).result(timeout=60) == big
        finished.set()

    threading.Thread(target=round_trips, daemon=True).start()
    try:
        assert finished.wait(60), "the pool deadlocked"
    finally:
        sys.stdout.close()


@needs_counts
def test_a_result_in_the_pipe_at_the_deadline_is_not_a_timeout(make_pool):
    pool = make_pool(1)
    pool.ping(timeout=60)
    supervisor = pool._core.supervisor
    bell = pool._core.state.bell.waitable.fileno()
    # Rings are drained and ignored, as if the worker still held its ring back at the deadline.
    supervisor._answer_bell = lambda out: os.read(bell, 65536)
    future = pool.schedule(tasks.add, (1, 2), timeout=0.3)
    concurrent.futures.wait([future], timeout=60)  # nobody claims it
    assert future.result(timeout=0) == 3
