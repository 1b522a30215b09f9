"""The supervisor thread (:class:`Supervisor`): the one thread that watches a pool's workers.

It waits on the bell, the workers' sentinels and a wake-up pipe, and each time it wakes reads the
frames the bell rang for, reaps dead workers, enforces task deadlines, starts missing workers and
moves a shutdown along. See ``docs/engine.md``, "The supervisor thread".
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from qtcompute.engine._lifecycle import Lifecycle
from qtcompute.engine._outbox import Outbox
from qtcompute.engine._receive import Receiver
from qtcompute.engine._state import PoolState
from qtcompute.engine.errors import BrokenPoolError, TaskTimeoutError

log = logging.getLogger("qtcompute.engine")

_WAKE = ("wake", None)
_BELL = ("bell", None)


class Supervisor:
    """The thread behind one pool. Started at once; its first act is to start the workers."""

    def __init__(self, state: PoolState, lifecycle: Lifecycle, receiver: Receiver, name: str):
        self._pool = state
        self._lifecycle = lifecycle
        self._receiver = receiver
        self._started = threading.Event()
        self.start_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"{name}-supervisor", daemon=True)
        self._thread.start()
        state.supervisor_ident = self._thread.ident  # looked up on every round trip
        # Workers are started by the supervisor thread, never by the caller's: on Linux a
        # worker's PR_SET_PDEATHSIG fires when the *thread* that started it ends, and the caller
        # may be a short-lived thread. Wait for that first start so pids() and stats() are
        # meaningful as soon as the pool exists.
        self._started.wait()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self) -> None:
        """Wait until the pool has shut down (never from the supervisor thread itself)."""
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _run(self) -> None:
        state = self._pool
        state.waiter.add(state.wakeup_reader, _WAKE)
        if state.bell is not None:
            state.waiter.add(state.bell.waitable, _BELL)
        try:
            out = Outbox()
            try:
                with state.lock:
                    self._lifecycle.spawn_missing(out)
                    timeout = self._next_timeout()
            except BaseException as exc:
                self.start_error = exc
                raise
            finally:
                self._started.set()
            out.deliver()
            while True:
                ready = state.waiter.wait(timeout)
                out = Outbox()
                with state.lock:
                    self._handle(ready, out)
                    self._enforce_deadlines(out)
                    self._lifecycle.spawn_missing(out)
                    self._lifecycle.advance_shutdown(out)
                    finished = state.shutdown and not state.handles
                    timeout = self._next_timeout()
                out.deliver()
                if finished:
                    break
        except BaseException as exc:  # a bug here must not leave callers waiting forever
            with contextlib.suppress(Exception):  # a handler that raises: callers first
                log.exception("the qtcompute supervisor failed")
            out = Outbox()
            with state.lock:
                error = BrokenPoolError(f"the pool's supervisor thread failed: {exc!r}")
                self._lifecycle.break_pool(error, out)
                for worker in state.handles:
                    worker.kill()
            out.deliver()
        finally:
            state.unretrieved.flush()  # the pool is done: errors nobody retrieved are logged
            state.close()

    def _next_timeout(self) -> float | None:
        deadline: float | None = None
        for worker in self._pool.handles:
            for due in (worker.kill_at, worker.task.deadline if worker.task else None):
                if due is not None and (deadline is None or due < deadline):
                    deadline = due
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    def _handle(self, ready: list[Any], out: Outbox) -> None:
        state, receiver = self._pool, self._receiver
        if _WAKE in ready:
            state.wakeup_pending = False  # before draining, so no wake-up can be lost
            while state.wakeup_reader.poll():
                state.wakeup_reader.recv_bytes()
        if _BELL in ready:
            self._answer_bell(out)
        # Frames before deaths: a worker may send its result and die right after.
        for tag in ready:
            worker = tag[1]
            # A claimed worker is read by the thread waiting on its task; and a frame seen by
            # the waiter may have been read by that thread since: never block on an empty pipe.
            if (
                tag[0] == "frame"
                and worker.watched
                and not worker.channel.claimed_by
                and not worker.channel.eof
                and worker in state.handles  # reaped since (its descriptors closed, maybe reused)
                and worker.channel.has_frame()
            ):
                receiver.receive(worker, out)
        for tag in ready:
            worker = tag[1]
            if tag[0] != "exit" or worker not in state.handles:
                continue
            if worker.channel.claimed_by:
                # A thread is reading this worker's pipe (possibly blocked in read()): it will
                # read the frames sent before the death, then EOF, and report the death itself.
                # Reaping now would close the pipe under its feet.
                worker.exit_seen = True
                state.waiter.remove(worker.sentinel)
                continue
            receiver.drain_and_reap(worker, out)

    def _answer_bell(self, out: Outbox) -> None:
        """Read the frames that workers rang about."""
        self._pool.bell.drain()  # type: ignore[union-attr]
        for worker in self._pool.handles:
            # A claimed worker's frames are read by the thread that claimed it.
            channel = worker.channel
            if not channel.claimed_by and not channel.eof and channel.counted:
                self._receiver.read_counted(worker, out)

    def _enforce_deadlines(self, out: Outbox) -> None:
        self._lifecycle.kill_overdue(out)
        now = time.monotonic()
        for worker in list(self._pool.handles):
            task = worker.task
            if task is not None and task.deadline is not None and now >= task.deadline:
                if not worker.channel.claimed_by and worker.channel.counted:
                    # Its result may be in the pipe already, its ring held back: a task that
                    # finished in time has not timed out.
                    self._receiver.read_counted(worker, out)
                    if worker.task is not task:
                        continue
                self._lifecycle.stop_worker(worker, out)
                out.settle(
                    task,
                    error=TaskTimeoutError(
                        f"Task {task.label} ran longer than its timeout of {task.timeout:g} s, so "
                        f"its worker (pid {worker.pid}) was stopped and replaced. Raise the "
                        "timeout, or split the work into smaller tasks.",
                        timeout=task.timeout,
                    ),
                )
