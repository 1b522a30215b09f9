"""Tasks from ``submit`` to a worker (:class:`Dispatcher`): pickle, queue, send to an idle worker,
and forget, stop or cancel on request; ``ping``.

See ``docs/engine.md``, "One task, from submit to result()", steps 1 to 3 and 7.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from qtcompute.engine import _messages as msg
from qtcompute.engine import _shm, _worker_logging
from qtcompute.engine._future import TaskFuture, TaskOwner
from qtcompute.engine._future_state import mark_running
from qtcompute.engine._lifecycle import Lifecycle
from qtcompute.engine._outbox import Outbox, Task
from qtcompute.engine._pickling import dumps_task
from qtcompute.engine._process import WorkerHandle
from qtcompute.engine._records import WorkerState
from qtcompute.engine._state import PoolState
from qtcompute.engine.errors import NotPicklableError, PoolShutdownError

_levels_unchanged = _worker_logging.PROBE_CACHE  # empty once logging levels changed


class Dispatcher:
    """Hands the tasks of one pool to its workers."""

    def __init__(self, state: PoolState, lifecycle: Lifecycle, owner: TaskOwner) -> None:
        self._pool = state  # (not "_state": that name is concurrent.futures.Future's)
        self._lifecycle = lifecycle
        self._owner = owner  # what each TaskFuture calls back (forget, stop, wait directly)
        # On every round trip: the containers themselves (never replaced, see PoolState).
        self._lock = state.lock
        self._idle = state.idle
        self._pending = state.pending

    # --- caller threads ----------------------------------------------------------------------

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
        state = self._pool
        # Outside the lock: a user object's __qualname__ or __repr__ may be anything.
        label = getattr(fn, "__qualname__", None) or repr(fn)
        # Large arguments are copied to shared memory here, outside the lock.
        try:
            body = dumps_task(fn, args, kwargs, state.segments)
        except NotPicklableError as exc:
            # The future fails with it, as ProcessPoolExecutor's does: raising here would abort
            # a PyQt5 app from the slot that submitted.
            return self._failed_at_submit(exc, label)
        with self._lock:
            if not _levels_unchanged or state.levels_generation != _worker_logging.generation:
                self._send_log_levels()
            if state.broken is not None or state.shutdown:
                # The arguments' segments were borrowed for nothing: give them back.
                _shm.end_loans(body.segments, state.segments, None, sent=False)
                self._refuse_new_task()
            task_id = next(state.task_ids)
            frame = msg.frame(task_id, body)
            worker = self._idle.pop() if self._idle and not self._pending else None
            if worker is not None:
                # The common case: send first, so that the worker starts on the task while we
                # build its future. Nobody can handle the reply before we are done: that takes
                # the lock we hold.
                try:
                    worker.channel.send(frame)
                except OSError:
                    worker.terminate(state.stop_grace)  # died while idle: its sentinel tells
                    worker = None
                else:
                    # We will probably wait for it, unless we are the supervisor thread (a done
                    # callback that submits): that thread never claims.
                    if not state.on_supervisor():
                        worker.channel.expect_claim(task_id)
            # Everything else waits until the frame is sent, off the round trip's path.
            out = Outbox()
            future: TaskFuture[Any] = TaskFuture(task_id, self._owner)
            if on_progress is not None:  # before any frame of the task can be handled
                future.add_progress_callback(on_progress)
            task = Task(future, frame, label, timeout, body.segments, state.segments)
            if worker is not None:
                mark_running(future)
                task.started = True
                self._assign(task, worker, out)
            else:
                self._pending.append(task)
                state.queued[task_id] = task
                self.dispatch(out)
        out.deliver()
        return future

    def _refuse_new_task(self) -> None:
        """Raise what submit() raises on a pool that takes no more tasks (under the lock)."""
        state = self._pool
        if state.broken is not None:
            raise state.broken
        if state.interpreter_exiting:
            # CPython's executors' words and type, for code that checks either.
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")
        raise PoolShutdownError("cannot schedule new tasks after shutdown()")

    def _failed_at_submit(self, error: NotPicklableError, label: str) -> TaskFuture[Any]:
        state = self._pool
        with self._lock:
            if state.broken is not None or state.shutdown:
                self._refuse_new_task()  # a pool that is closed says so first
        # The tracebacks refer to the frames that hold the arguments: drop them, the message
        # names the culprit.
        error.__traceback__ = None
        if error.__cause__ is not None:
            error.__cause__.__traceback__ = None
        future: TaskFuture[Any] = TaskFuture(next(state.task_ids), self._owner)
        future._settle(None, error, label)
        return future

    def forget(self, future: TaskFuture[Any]) -> None:
        """Drop a task its owner cancelled before it ran."""
        out = Outbox()
        with self._lock:
            task = self._pool.queued.pop(future.task_id, None)
            if task is not None:
                out.end_quietly(task)
        out.deliver()

    def stop_task(self, future: TaskFuture[Any]) -> bool:
        """Stop the worker running ``future``'s task; the future ends cancelled."""
        state = self._pool
        out = Outbox()
        with self._lock:
            worker = state.running.get(future.task_id)
            if worker is None or worker.task is None:
                return False
            task = worker.task
            self._lifecycle.stop_worker(worker, out)
            out.cancel_running(task)
        out.deliver()
        state.wake()
        return True

    def cancel_pending(self, out: Outbox) -> None:
        """``shutdown(cancel_futures=True)``: cancel the tasks no worker will take. A worker
        still starting takes the first task in the queue as soon as it is ready, as CPython's
        call queue holds a task for each worker it starts: that one runs."""
        state = self._pool
        promised = sum(1 for w in state.handles if w.state is WorkerState.STARTING)
        kept: list[Task] = []
        while self._pending:
            task = state.pop_pending()
            if len(kept) < promised and not task.finished:
                kept.append(task)
            else:
                out.cancel_pending(task)
        for task in kept:
            self._pending.append(task)
            state.queued[task.future.task_id] = task

    def ping(self, timeout: float | None) -> dict[int, float]:
        """Round-trip a message through every worker; wait for starting workers first."""
        state = self._pool
        probes: list[Future[tuple[int, float]]] = []
        with self._lock:
            if state.broken is not None:
                raise state.broken
            if state.shutdown:
                raise PoolShutdownError("cannot ping workers after shutdown()")
            for worker in state.handles:
                if worker.state is WorkerState.STOPPING:
                    continue
                probe: Future[tuple[int, float]] = Future()
                nonce = next(state.nonces)
                worker.pings.append((nonce, probe, time.perf_counter()))
                if worker.state is not WorkerState.STARTING:  # a starting worker gets it on Ready
                    worker.send_control(msg.Ping(nonce))  # its death fails the probe
                probes.append(probe)
        deadline = None if timeout is None else time.monotonic() + timeout
        answers: dict[int, float] = {}
        for probe in probes:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            pid, seconds = probe.result(remaining)
            answers[pid] = seconds
        return answers

    # --- under the lock ----------------------------------------------------------------------

    def dispatch(self, out: Outbox) -> None:
        """Send queued tasks to idle workers, as many as both allow."""
        state = self._pool
        pending, idle = self._pending, self._idle
        while pending and idle:
            task = state.pop_pending()
            if task.finished:
                continue
            if not task.started:
                if not task.future.set_running_or_notify_cancel():
                    out.end_quietly(task)  # cancelled while it waited: free its memory
                    continue
                task.started = True
            worker = idle.pop()
            try:
                worker.channel.send(task.frame)  # type: ignore[arg-type]
            except OSError:
                # The worker died after it became idle; its sentinel will tell the rest. The
                # task never reached it, so it goes back to the front of the queue.
                pending.appendleft(task)
                state.queued[task.future.task_id] = task
                worker.terminate(state.stop_grace)
                continue
            self._assign(task, worker, out)

    def _assign(self, task: Task, worker: WorkerHandle, out: Outbox) -> None:
        """Record that ``worker`` runs ``task`` (its frame was just sent)."""
        state = self._pool
        task.frame = None
        worker.tasks_run += 1
        worker.state = WorkerState.BUSY
        worker.task = task
        task.future.pid = worker.pid
        state.running[task.future.task_id] = worker
        if task.timeout is not None:
            task.deadline = time.monotonic() + task.timeout
            if not state.on_supervisor():
                out.call(state.wake)  # the supervisor must shorten its wait to the deadline
        if state.listeners:
            state.emit(out, WorkerState.BUSY, worker)

    def become_idle(self, worker: WorkerHandle, out: Outbox) -> None:
        """``worker`` has no task now: give it the next one, or retire it if it has done its
        share (``max_tasks_per_child``)."""
        limit = self._pool.max_tasks
        if limit is not None and worker.tasks_run >= limit:
            self._lifecycle.retire(worker, out)
            return
        worker.state = WorkerState.READY
        worker.task = None
        self._idle.append(worker)
        if self._pending:
            self.dispatch(out)
        if self._pool.listeners and worker.state is WorkerState.READY:
            self._pool.emit(out, WorkerState.READY, worker)

    def _send_log_levels(self) -> None:
        """The parent's logging levels changed: every worker takes them before its next task."""
        state = self._pool
        state.levels_generation, levels = _worker_logging.levels_now()
        message = msg.LogLevels(levels)
        for worker in state.handles:
            if worker.state is not WorkerState.STOPPING:
                worker.send_control(message)
