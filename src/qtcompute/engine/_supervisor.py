"""The supervisor: the parent-side state of a pool and the one thread that watches its workers.

Responsibilities, each a group of methods named by what they do:

- *dispatch*: hand pending tasks to idle workers (from ``submit`` directly when a worker is idle,
  so a round trip costs no thread hop on the way out; from the supervisor thread otherwise);
- *receive*: read the frames workers send and settle the task each belongs to (in
  ``_receive``: the supervisor thread and threads blocked in ``result()`` both do it);
- *inspect workers*: notice deaths (process sentinels), fail the dead worker's task, replace it;
  enforce task deadlines and kill workers that ignore a terminate;
- *shut down*: graceful ``Stop`` first, terminate after a grace period, kill last.

The supervisor thread blocks in one wait (``_waiter``: epoll, kqueue, or
``multiprocessing.connection.wait`` on Windows) over the workers' bell (see ``_frame_counts``; or
every worker pipe where there is no bell), the process sentinels and a wake-up pipe, with a
timeout only when a deadline is due. Nothing polls.

Futures are settled and listeners called *after* the lock is released (see ``Outbox``): user
callbacks may call back into the pool, and the lock is not re-entrant.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures._base import RUNNING
from typing import TYPE_CHECKING, Any

from qtcompute.engine import _frame_counts, _governance, _shm, _worker_logging
from qtcompute.engine import _messages as msg
from qtcompute.engine._crash_report import describe_stack
from qtcompute.engine._future import TaskFuture
from qtcompute.engine._pickling import dumps_task
from qtcompute.engine._process import WorkerHandle, WorkerState
from qtcompute.engine._receive import FrameReceiver
from qtcompute.engine._records import Outbox, PoolEvent, PoolStats, Task
from qtcompute.engine._unretrieved import UnretrievedErrors
from qtcompute.engine._waiter import make_waiter
from qtcompute.engine.errors import (
    BrokenPoolError,
    NotPicklableError,
    PoolShutdownError,
    TaskTimeoutError,
    WorkerCrashedError,
    describe_death,
)

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import BaseContext

log = logging.getLogger("qtcompute.engine")
worker_log = logging.getLogger("qtcompute.worker")

# Workers that die before they are ready this many times in a row break the pool: the cause is
# in the environment (import error, crashing initializer), and respawning would loop forever.
MAX_START_FAILURES = 3

_DIRECT = _frame_counts.DIRECT
_claim_mark = _frame_counts.claim_mark
_TENTATIVE = _frame_counts.TENTATIVE
_levels_unchanged = _worker_logging.PROBE_CACHE  # empty once logging levels changed
_WAKE = ("wake", None)
_BELL = ("bell", None)


class Supervisor(FrameReceiver):
    """State and thread behind one :class:`~qtcompute.Pool`. Holds no reference to the Pool."""

    def __init__(
        self,
        *,
        workers: int,
        ctx: BaseContext,
        initializer: Any,
        initargs: tuple[Any, ...],
        stop_grace: float,
        spin: float,
        name: str,
        memory_limit: int | None = None,
        max_tasks_per_child: int | None = None,
    ) -> None:
        self.workers = workers
        # Memory limit, tasks per worker, the Windows job (see _governance).
        self._governance = _governance.Governance(memory_limit, max_tasks_per_child)
        self._max_tasks = max_tasks_per_child
        self._levels_generation = -1  # of the logging levels last sent (see _worker_logging)
        self._spin = spin
        self._ctx = ctx
        self._initializer = initializer
        self._initargs = initargs
        self._stop_grace = stop_grace
        self._lock = threading.Lock()
        self._pending: deque[Task] = deque()
        # The tasks in _pending that still wait: a task cancelled by its owner leaves this dict
        # at once (and frees its memory); its stale entry in the deque is skipped at dispatch.
        self._queued: dict[int, Task] = {}
        self._handles: list[WorkerHandle] = []
        self._idle: list[WorkerHandle] = []
        self._running: dict[int, WorkerHandle] = {}  # task id -> worker
        self._task_ids = itertools.count(1)
        self._worker_index = itertools.count(1)
        self._nonces = itertools.count(1)
        # Shared-memory segments for large arguments, reused from task to task (see _shm).
        self._segments = _shm.SegmentCache() if _shm.AVAILABLE else None
        self._listeners: list[Callable[[PoolEvent], object]] = []
        self._shutdown = False
        self._stop_running = False
        self._broken: BrokenPoolError | None = None
        self._start_failures = 0
        self._crashes = 0
        self._restarts = 0
        self._started_once = False
        self.interpreter_exiting = False  # set by the pool's atexit hook (see _pool)
        self.unretrieved = UnretrievedErrors()  # failed futures whose error nobody saw yet
        # The write end of the lifeline stays here, unwritten; workers watch the read end for EOF.
        self._lifeline_reader, self._lifeline_writer = ctx.Pipe(duplex=False)
        self._wakeup_reader, self._wakeup_writer = ctx.Pipe(duplex=False)
        self._wakeup_pending = False
        # Rung by workers after each frame that no waiting thread reads (see _frame_counts);
        # None where workers cannot have frame counts: the supervisor then watches every pipe.
        self._bell: tuple[Connection, Connection] | None = None
        if _frame_counts.AVAILABLE and sys.platform != "win32":
            self._bell = ctx.Pipe(duplex=False)
        self._waiter = make_waiter()
        self._spawned = threading.Event()
        self.start_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"{name}-supervisor", daemon=True)
        self._thread_ident: int | None = None
        self._thread.start()
        self._thread_ident = self._thread.ident  # looked up on every round trip
        # Workers are started by the supervisor thread, never by the caller's: on Linux a
        # worker's PR_SET_PDEATHSIG fires when the *thread* that started it ends, and the caller
        # may be a short-lived thread. Wait for that first start so pids() and stats() are
        # meaningful as soon as the pool exists.
        self._spawned.wait()

    # --- submit side (caller threads) ----------------------------------------------------------

    def submit(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None,
        on_progress: Callable[[Any], object] | None = None,
    ) -> TaskFuture[Any]:
        if not callable(fn):
            raise TypeError(f"the task function must be callable, not {type(fn).__name__}")
        # Outside the lock: a user object's __qualname__ or __repr__ may be anything.
        label = getattr(fn, "__qualname__", None) or repr(fn)
        # Large arguments are copied to shared memory here, outside the lock.
        try:
            body = dumps_task(fn, args, kwargs, self._segments)
        except NotPicklableError as exc:
            # The future fails with it, as ProcessPoolExecutor's does: raising here would abort
            # a PyQt5 app from the slot that submitted.
            return self._failed_at_submit(exc, label)
        with self._lock:
            if not _levels_unchanged or self._levels_generation != _worker_logging.generation:
                self._send_log_levels()
            if self._broken is not None or self._shutdown:
                # The arguments' segments were borrowed for nothing: give them back.
                _shm.end_loans(body.segments, self._segments, None, sent=False)
                self._refuse_new_task()
            task_id = next(self._task_ids)
            frame = msg.frame(task_id, body)
            worker = self._idle.pop() if self._idle and not self._pending else None
            if worker is not None:
                # The common case: send first, so that the worker starts on the task while we
                # build its future. Nobody can handle the reply before we are done: that takes
                # the lock we hold.
                try:
                    worker.send(frame)
                except OSError:
                    worker.terminate(self._stop_grace)  # died while idle: its sentinel tells
                    worker = None
                else:
                    # We will probably wait for it (see DIRECT), unless we are the supervisor
                    # thread (a done callback that submits): that thread never claims.
                    if worker.counts is not None and threading.get_ident() != self._thread_ident:
                        worker.counts.counts[_DIRECT] = _claim_mark(task_id) | _TENTATIVE
            # Everything else waits until the frame is sent, off the round trip's path.
            out = Outbox()
            future: TaskFuture[Any] = TaskFuture(task_id, self)
            if on_progress is not None:  # before any frame of the task can be handled
                future.add_progress_callback(on_progress)
            task = Task(future, frame, label, timeout, body.segments, self._segments)
            if worker is not None:
                future._state = RUNNING  # set_running_or_notify_cancel, for a new future
                task.started = True
                self._assign(task, worker, out)
            else:
                self._pending.append(task)
                self._queued[task_id] = task
                self._dispatch(out)
        out.deliver()
        return future

    def _refuse_new_task(self) -> None:
        """Raise what submit() raises on a pool that takes no more tasks (under the lock)."""
        if self._broken is not None:
            raise self._broken
        if self.interpreter_exiting:
            # CPython's executors' words and type, for code that checks either.
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")
        raise PoolShutdownError("cannot schedule new tasks after shutdown()")

    def _failed_at_submit(self, error: NotPicklableError, label: str) -> TaskFuture[Any]:
        with self._lock:
            if self._broken is not None or self._shutdown:
                self._refuse_new_task()  # a pool that is closed says so first
        # The tracebacks refer to the frames that hold the arguments: drop them, the message
        # names the culprit.
        error.__traceback__ = None
        if error.__cause__ is not None:
            error.__cause__.__traceback__ = None
        future: TaskFuture[Any] = TaskFuture(next(self._task_ids), self)
        future._settle(None, error, label)
        return future

    def forget(self, future: TaskFuture[Any]) -> None:
        """Drop a task its owner cancelled before it ran."""
        out = Outbox()
        with self._lock:
            task = self._queued.pop(future.task_id, None)
            if task is not None:
                out.end_quietly(task)
        out.deliver()

    def stop_task(self, future: TaskFuture[Any]) -> bool:
        out = Outbox()
        with self._lock:
            worker = self._running.get(future.task_id)
            if worker is None or worker.task is None:
                return False
            task = worker.task
            self._stop_worker(worker, out)
            out.cancel_running(task)
        out.deliver()
        self.wake()
        return True

    def shutdown(self, wait: bool, cancel_futures: bool, stop_running: bool) -> None:
        out = Outbox()
        with self._lock:
            self._shutdown = True
            self._stop_running = self._stop_running or stop_running
            if cancel_futures:
                self._cancel_pending(out)
        out.deliver()
        self.wake()
        if wait and threading.current_thread() is not self._thread:
            self._thread.join()

    def _cancel_pending(self, out: Outbox) -> None:
        """``shutdown(cancel_futures=True)``: cancel the tasks no worker will take. A worker
        still starting takes the first task in the queue as soon as it is ready, as CPython's
        call queue holds a task for each worker it starts: that one runs."""
        promised = sum(1 for w in self._handles if w.state is WorkerState.STARTING)
        kept: list[Task] = []
        while self._pending:
            task = self._pop_pending()
            if len(kept) < promised and not task.finished:
                kept.append(task)
            else:
                out.cancel_pending(task)
        for task in kept:
            self._pending.append(task)
            self._queued[task.future.task_id] = task

    def ping(self, timeout: float | None) -> dict[int, float]:
        """Round-trip a message through every worker; wait for starting workers first."""
        probes: list[Future[tuple[int, float]]] = []
        with self._lock:
            if self._broken is not None:
                raise self._broken
            if self._shutdown:
                raise PoolShutdownError("cannot ping workers after shutdown()")
            for worker in self._handles:
                if worker.state is WorkerState.STOPPING:
                    continue
                probe: Future[tuple[int, float]] = Future()
                nonce = next(self._nonces)
                worker.pings.append((nonce, probe, time.perf_counter()))
                if worker.state is not WorkerState.STARTING:  # a starting worker gets it on Ready
                    self._send_ping(worker, nonce)
                probes.append(probe)
        deadline = None if timeout is None else time.monotonic() + timeout
        answers: dict[int, float] = {}
        for probe in probes:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            pid, seconds = probe.result(remaining)
            answers[pid] = seconds
        return answers

    def subscribe(self, listener: Callable[[PoolEvent], object]) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def stats(self) -> PoolStats:
        with self._lock:
            return self._stats()

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._handles if w.state is not WorkerState.STOPPING]

    def wake(self) -> None:
        """Interrupt the supervisor's wait; coalesced so a burst costs one byte."""
        if self._wakeup_pending:
            return
        self._wakeup_pending = True
        try:
            self._wakeup_writer.send_bytes(b"")
        except OSError:
            pass  # the supervisor has finished and closed the pipe

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # --- dispatch (under the lock) ---------------------------------------------------------------

    def _dispatch(self, out: Outbox) -> None:
        while self._pending and self._idle:
            task = self._pop_pending()
            if task.finished:
                continue
            if not task.started:
                if not task.future.set_running_or_notify_cancel():
                    out.end_quietly(task)  # cancelled while it waited: free its memory
                    continue
                task.started = True
            worker = self._idle.pop()
            try:
                worker.send(task.frame)  # type: ignore[arg-type]
            except OSError:
                # The worker died after it became idle; its sentinel will tell the rest. The
                # task never reached it, so it goes back to the front of the queue.
                self._pending.appendleft(task)
                self._queued[task.future.task_id] = task
                worker.terminate(self._stop_grace)
                continue
            self._assign(task, worker, out)

    def _assign(self, task: Task, worker: WorkerHandle, out: Outbox) -> None:
        """Record that ``worker`` runs ``task`` (its frame was just sent)."""
        task.frame = None
        worker.tasks_run += 1
        worker.state = WorkerState.BUSY
        worker.task = task
        task.future.pid = worker.pid
        self._running[task.future.task_id] = worker
        if task.timeout is not None:
            task.deadline = time.monotonic() + task.timeout
            if threading.get_ident() != self._thread_ident:
                out.call(self.wake)  # the supervisor must shorten its wait to the deadline
        if self._listeners:
            self._emit(out, WorkerState.BUSY, worker)

    def _retire(self, worker: WorkerHandle, out: Outbox) -> None:
        """Replace a worker that has done its share (``max_tasks_per_child``) or went over the
        memory limit: it exits once idle (Stop), and a new one takes its place."""
        if worker in self._idle:
            self._idle.remove(worker)
        worker.task = None
        worker.ask_to_stop(self._stop_grace)
        self._emit(out, WorkerState.STOPPING, worker)
        if threading.get_ident() != self._thread_ident:
            out.call(self.wake)  # replacements are started by the supervisor thread

    def _send_log_levels(self) -> None:
        """The parent's logging levels changed: every worker takes them before its next task."""
        self._levels_generation, levels = _worker_logging.levels_now()
        message = msg.LogLevels(levels)
        for worker in self._handles:
            if worker.state is not WorkerState.STOPPING:
                self._send_control(worker, message)

    def _pop_pending(self) -> Task:
        task = self._pending.popleft()
        self._queued.pop(task.future.task_id, None)
        return task

    def _become_idle(self, worker: WorkerHandle, out: Outbox) -> None:
        limit = self._max_tasks
        if limit is not None and worker.tasks_run >= limit:
            self._retire(worker, out)
            return
        worker.state = WorkerState.READY
        worker.task = None
        self._idle.append(worker)
        if self._pending:
            self._dispatch(out)
        if self._listeners and worker.state is WorkerState.READY:
            self._emit(out, WorkerState.READY, worker)

    def _finish_task(self, worker: WorkerHandle) -> Task | None:
        if worker.claimed and worker.claimed != threading.get_ident():
            worker.kick()  # its waiter is blocked on a pipe that may stay silent
        task = worker.task
        if task is not None:
            self._running.pop(task.future.task_id, None)
        worker.task = None
        return task

    def _stop_worker(self, worker: WorkerHandle, out: Outbox) -> None:
        self._finish_task(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        worker.terminate(self._stop_grace)
        self._emit(out, WorkerState.STOPPING, worker)

    def _send_ping(self, worker: WorkerHandle, nonce: int) -> None:
        self._send_control(worker, msg.Ping(nonce))  # its death fails the probe

    def _send_control(self, worker: WorkerHandle, message: Any, task_id: int = msg.CONTROL) -> None:
        try:
            worker.send(msg.encode(task_id, message))
        except OSError:
            pass  # the worker died: its sentinel tells the rest

    def _stats(self) -> PoolStats:
        alive = sum(1 for w in self._handles if w.state is not WorkerState.STOPPING)
        return PoolStats(
            workers=self.workers,
            alive=alive,
            busy=len(self._running) + sum(1 for w in self._handles if w.copying),
            pending=len(self._queued),
            crashes=self._crashes,
            restarts=self._restarts,
        )

    def _emit(self, out: Outbox, kind: WorkerState, worker: WorkerHandle, detail: str = "") -> None:
        if self._listeners:
            event = PoolEvent(kind, worker.pid, self._stats(), detail)
            for listener in list(self._listeners):
                out.call(listener, event)

    # --- the supervisor thread -------------------------------------------------------------------

    def _run(self) -> None:
        self._waiter.add(self._wakeup_reader, _WAKE)
        if self._bell is not None:
            self._waiter.add(self._bell[0], _BELL)
        try:
            out = Outbox()
            try:
                with self._lock:
                    self._spawn_missing(out)
                    timeout = self._next_timeout()
            except BaseException as exc:
                self.start_error = exc
                raise
            finally:
                self._spawned.set()
            out.deliver()
            while True:
                ready = self._waiter.wait(timeout)
                out = Outbox()
                with self._lock:
                    self._handle(ready, out)
                    self._enforce_deadlines(out)
                    self._spawn_missing(out)
                    self._advance_shutdown(out)
                    finished = self._finished()
                    timeout = self._next_timeout()
                out.deliver()
                if finished:
                    break
        except BaseException as exc:  # a bug here must not leave callers waiting forever
            with contextlib.suppress(Exception):  # a handler that raises: callers first
                log.exception("the qtcompute supervisor failed")
            out = Outbox()
            with self._lock:
                self._break(BrokenPoolError(f"the pool's supervisor thread failed: {exc!r}"), out)
                for worker in self._handles:
                    worker.kill()
            out.deliver()
        finally:
            self.unretrieved.flush()  # the pool is done: errors nobody retrieved are logged
            self._close()

    def _next_timeout(self) -> float | None:
        deadline: float | None = None
        for worker in self._handles:
            for due in (worker.kill_at, worker.task.deadline if worker.task else None):
                if due is not None and (deadline is None or due < deadline):
                    deadline = due
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    def _handle(self, ready: list[Any], out: Outbox) -> None:
        if _WAKE in ready:
            self._wakeup_pending = False  # before draining, so no wake-up can be lost
            while self._wakeup_reader.poll():
                self._wakeup_reader.recv_bytes()
        if _BELL in ready:
            self._answer_bell(out)
        # Frames before deaths: a worker may send its result and die right after.
        for tag in ready:
            worker = tag[1]
            # A claimed worker is read by the thread waiting on its task; and a frame seen by
            # select() may have been read by that thread since: never block on an empty pipe.
            if (
                tag[0] == "frame"
                and worker.watched
                and not worker.claimed
                and not worker.eof
                and worker in self._handles  # reaped since (its descriptors closed, maybe reused)
                and worker.has_frame()
            ):
                self._receive(worker, out)
        for tag in ready:
            worker = tag[1]
            if tag[0] != "exit" or worker not in self._handles:
                continue
            if worker.claimed:
                # A thread is reading this worker's pipe (possibly blocked in read()): it will
                # read the frames sent before the death, then EOF, and report the death itself.
                # Reaping now would close the pipe under its feet.
                worker.exit_seen = True
                self._waiter.remove(worker.sentinel)
                continue
            self._on_exit(worker, out)

    def _answer_bell(self, out: Outbox) -> None:
        """Read the frames that workers rang about (see _frame_counts)."""
        # Drained first: a ring that comes after this read wakes us again.
        os.read(self._bell[0].fileno(), 65536)  # type: ignore[index]
        for worker in self._handles:
            # A claimed worker's frames are read by the thread that claimed it.
            if not worker.claimed and not worker.eof and worker.counts is not None:
                self._read_counted(worker, out)

    def _watch(self, worker: WorkerHandle) -> None:
        """Have the supervisor thread watch the worker's pipe itself (not only the bell)."""
        if not worker.watched and not worker.eof:
            worker.watched = True
            self._waiter.add(worker.io, worker.frame_tag)

    def _unwatch(self, worker: WorkerHandle) -> None:
        if worker.watched:
            worker.watched = False
            self._waiter.remove(worker.io)

    def _on_exit(self, worker: WorkerHandle, out: Outbox) -> None:
        # Read what it sent before it died, then collect its exit status.
        while not worker.eof and worker.has_frame(ask_kernel=True):
            self._receive(worker, out)
        expected = worker.state is WorkerState.STOPPING
        starting = worker.state is WorkerState.STARTING
        task = self._finish_task(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        self._handles.remove(worker)
        self._unwatch(worker)
        self._waiter.remove(worker.sentinel)
        exitcode = worker.reap()
        how = describe_death(exitcode)
        stack = worker.crash_stack  # what faulthandler wrote (see _crash_report)
        for _nonce, probe, _sent in worker.pings:
            probe.set_exception(
                WorkerCrashedError(f"worker {worker.pid} {how}", pid=worker.pid, exitcode=exitcode)
            )
        if exitcode != 0:
            # Killed or crashed, perhaps between creating a result's shared memory and sending
            # it: what it created and never handed over is ours to unlink.
            out.call(_shm.release_left_by, worker.pid)
        if expected:
            self._emit(out, WorkerState.STOPPED, worker)
            return
        self._crashes += 1
        # A crash between tasks has no task to carry its stack: the log does. Logged once the
        # lock is released: a handler may submit (a lock held here would deadlock it).
        out.call(
            log.warning, "worker %d %s%s", worker.pid, how, "" if task else describe_stack(stack)
        )
        self._emit(out, WorkerState.CRASHED, worker, how)
        if task is not None:
            error = WorkerCrashedError(
                f"Worker process {worker.pid} died while running task {task.label}: {how}. "
                "The pool replaced the worker and goes on with the other tasks; this task was "
                "not retried, since it may be what killed the worker. If the task uses native "
                "code, run it in-process to see the crash; if memory is the cause, split the work "
                "into smaller tasks."
                + self._governance.crash_hint(exitcode)
                + describe_stack(stack),
                pid=worker.pid,
                exitcode=exitcode,
                stack=stack,
            )
            out.settle(task, error=error)
        if starting and not _killed_from_outside(exitcode):
            self._start_failures += 1
            if self._start_failures >= MAX_START_FAILURES:
                self._break(
                    BrokenPoolError(
                        f"{self._start_failures} workers in a row died before they were ready "
                        f"(the last {how}). Likely causes: the main module cannot be imported in "
                        "a child process (code at import time that starts a GUI or exits: move "
                        "it under `if __name__ == '__main__':`), the initializer crashes the "
                        "process, or a frozen app does not start through qtcompute.run() or "
                        "multiprocessing.freeze_support(). Run with QTCOMPUTE_LOG_LEVEL=DEBUG "
                        "and look at the worker's stderr."
                    ),
                    out,
                )

    def _enforce_deadlines(self, out: Outbox) -> None:
        now = time.monotonic()
        for worker in list(self._handles):
            if worker.kill_at is not None and now >= worker.kill_at:
                out.call(log.warning, "worker %d ignored terminate; killing it", worker.pid)
                worker.kill()
            task = worker.task
            if task is not None and task.deadline is not None and now >= task.deadline:
                if not worker.claimed and worker.counts is not None:
                    # Its result may be in the pipe already, its ring held back (see
                    # _frame_counts): a task that finished in time has not timed out.
                    self._read_counted(worker, out)
                    if worker.task is not task:
                        continue
                self._stop_worker(worker, out)
                out.settle(
                    task,
                    error=TaskTimeoutError(
                        f"Task {task.label} ran longer than its timeout of {task.timeout:g} s, so "
                        f"its worker (pid {worker.pid}) was stopped and replaced. Raise the "
                        "timeout, or split the work into smaller tasks.",
                        timeout=task.timeout,
                    ),
                )

    def _spawn_missing(self, out: Outbox) -> None:
        if self._broken is not None or (self._shutdown and not self._queued):
            return  # after shutdown, replace workers only while queued tasks still need them
        alive = sum(1 for w in self._handles if w.state is not WorkerState.STOPPING)
        for _ in range(self.workers - alive):
            worker = WorkerHandle(
                self._ctx,
                next(self._worker_index),
                self._lifeline_reader,
                self._initializer,
                self._initargs,
                self._spin,
                None if self._bell is None else self._bell[1],
                self._governance,
            )
            self._handles.append(worker)
            if worker.counts is None:
                self._watch(worker)  # no bell: its frames are seen on its pipe only
            self._waiter.add(worker.sentinel, ("exit", worker))
            if self._started_once:
                self._restarts += 1
            self._emit(out, WorkerState.STARTING, worker)
        self._started_once = True

    def _advance_shutdown(self, out: Outbox) -> None:
        if not self._shutdown:
            return
        for worker in self._handles:
            if worker.state is WorkerState.STOPPING:
                continue
            if worker.state is WorkerState.BUSY and self._stop_running and not worker.copying:
                task = worker.task
                self._stop_worker(worker, out)
                if task is not None:
                    out.cancel_running(task)
            elif worker.state is not WorkerState.BUSY and not self._queued:
                if worker in self._idle:
                    self._idle.remove(worker)
                worker.ask_to_stop(self._stop_grace)
        if self._stop_running or self._broken is not None:
            self._fail_pending(out)

    def _finished(self) -> bool:
        return self._shutdown and not self._handles

    def _break(self, error: BrokenPoolError, out: Outbox) -> None:
        if self._broken is None:
            self._broken = error
        self._shutdown = True
        self._fail_pending(out)
        for worker in self._handles:
            if worker.state is not WorkerState.STOPPING and not worker.copying:
                # (a worker whose result is being copied is asked to stop once it is done)
                task = self._finish_task(worker)
                if task is not None:
                    out.settle(task, error=error)
                worker.terminate(self._stop_grace)

    def _fail_pending(self, out: Outbox) -> None:
        error = self._broken
        while self._pending:
            task = self._pop_pending()
            if error is not None:
                out.settle(task, error=error)
            else:
                out.cancel_pending(task)

    def _close(self) -> None:
        self._waiter.close()
        self._governance.close()
        if self._segments is not None:
            self._segments.close()  # idle ones now; ones still lent when their task ends
        for conn in (
            self._lifeline_reader,
            self._lifeline_writer,
            self._wakeup_reader,
            self._wakeup_writer,
            *(self._bell or ()),
        ):
            conn.close()


def _killed_from_outside(exitcode: int | None) -> bool:
    """SIGKILL/SIGTERM say nothing about whether a worker *can* start (an impatient user, a
    chaos test); exits and crash signals during start-up do, and those count as failures."""
    import signal

    return exitcode in (-signal.SIGKILL, -signal.SIGTERM) if sys.platform != "win32" else False
