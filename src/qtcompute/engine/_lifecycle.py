"""Worker processes from start to reaping: :class:`Lifecycle` starts the missing ones, retires,
stops and reaps them (failing a dead worker's task), breaks the pool, and moves a shutdown along.

All of it runs under the pool's lock (:class:`~qtcompute.engine._state.PoolState`); whatever
must happen after the lock is released goes into the caller's
:class:`~qtcompute.engine._outbox.Outbox`. See ``docs/engine.md``, "Workers that die, hang or are
stopped" (and "Parent death": why only the supervisor thread starts workers).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

from qtcompute.engine import _shm
from qtcompute.engine._crash_report import describe_stack
from qtcompute.engine._outbox import Outbox, Task
from qtcompute.engine._process import WorkerHandle
from qtcompute.engine._records import WorkerState
from qtcompute.engine._state import PoolState
from qtcompute.engine.errors import BrokenPoolError, WorkerCrashedError, describe_death

log = logging.getLogger("qtcompute.engine")

# Workers that die before they are ready this many times in a row break the pool: the cause is
# in the environment (import error, crashing initializer), and respawning would loop forever.
MAX_START_FAILURES = 3


class Lifecycle:
    """Starts, retires, stops and reaps the workers of one pool."""

    def __init__(self, state: PoolState) -> None:
        self._pool = state

    def spawn_missing(self, out: Outbox) -> None:
        """Start workers up to the configured number (supervisor thread only)."""
        state = self._pool
        if state.broken is not None or (state.shutdown and not state.queued):
            return  # after shutdown, replace workers only while queued tasks still need them
        alive = sum(1 for w in state.handles if w.state is not WorkerState.STOPPING)
        for _ in range(state.workers - alive):
            worker = WorkerHandle(
                state.ctx,
                next(state.worker_index),
                state.lifeline_reader,
                state.initializer,
                state.initargs,
                state.spin,
                state.bell,
                state.governance,
            )
            state.handles.append(worker)
            if not worker.channel.counted:
                state.watch(worker)  # no bell: its frames are seen on its pipe only
            state.waiter.add(worker.sentinel, ("exit", worker))
            if state.started_once:
                state.restarts += 1
            state.emit(out, WorkerState.STARTING, worker)
        state.started_once = True

    def finish_task(self, worker: WorkerHandle) -> Task | None:
        """The worker's task has ended (or will not go on): forget it; return it."""
        claimed_by = worker.channel.claimed_by
        if claimed_by and claimed_by != threading.get_ident():
            worker.channel.kick()  # its waiter is blocked on a pipe that may stay silent
        task = worker.task
        if task is not None:
            self._pool.running.pop(task.future.task_id, None)
        worker.task = None
        return task

    def retire(self, worker: WorkerHandle, out: Outbox) -> None:
        """Replace a worker that has done its share (``max_tasks_per_child``) or went over the
        memory limit: it exits once idle (Stop), and a new one takes its place."""
        state = self._pool
        if worker in state.idle:
            state.idle.remove(worker)
        worker.task = None
        worker.ask_to_stop(state.stop_grace)
        state.emit(out, WorkerState.STOPPING, worker)
        if not state.on_supervisor():
            out.call(state.wake)  # replacements are started by the supervisor thread

    def stop_worker(self, worker: WorkerHandle, out: Outbox) -> None:
        """Terminate a worker now (its task, if any, is the caller's to settle)."""
        state = self._pool
        self.finish_task(worker)
        if worker in state.idle:
            state.idle.remove(worker)
        worker.terminate(state.stop_grace)
        state.emit(out, WorkerState.STOPPING, worker)

    def reap(self, worker: WorkerHandle, out: Outbox) -> None:
        """The worker has exited (its sentinel fired) and its last frames have been read:
        collect it, fail its task if it died running one, and count a crash."""
        state = self._pool
        expected = worker.state is WorkerState.STOPPING
        starting = worker.state is WorkerState.STARTING
        task = self.finish_task(worker)
        if worker in state.idle:
            state.idle.remove(worker)
        state.handles.remove(worker)
        state.unwatch(worker)
        state.waiter.remove(worker.sentinel)
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
            state.emit(out, WorkerState.STOPPED, worker)
            return
        state.crashes += 1
        # A crash between tasks has no task to carry its stack: the log does. Logged once the
        # lock is released: a handler may submit (a lock held here would deadlock it).
        out.call(
            log.warning, "worker %d %s%s", worker.pid, how, "" if task else describe_stack(stack)
        )
        state.emit(out, WorkerState.CRASHED, worker, how)
        if task is not None:
            error = WorkerCrashedError(
                f"Worker process {worker.pid} died while running task {task.label}: {how}. "
                "The pool replaced the worker and goes on with the other tasks; this task was "
                "not retried, since it may be what killed the worker. If the task uses native "
                "code, run it in-process to see the crash; if memory is the cause, split the work "
                "into smaller tasks."
                + state.governance.crash_hint(exitcode)
                + describe_stack(stack),
                pid=worker.pid,
                exitcode=exitcode,
                stack=stack,
            )
            out.settle(task, error=error)
        if starting and not _killed_from_outside(exitcode):
            state.start_failures += 1
            if state.start_failures >= MAX_START_FAILURES:
                self.break_pool(
                    BrokenPoolError(
                        f"{state.start_failures} workers in a row died before they were ready "
                        f"(the last {how}). Likely causes: the main module cannot be imported in "
                        "a child process (code at import time that starts a GUI or exits: move "
                        "it under `if __name__ == '__main__':`), the initializer crashes the "
                        "process, or a frozen app does not start through qtcompute.run() or "
                        "multiprocessing.freeze_support(). Run with QTCOMPUTE_LOG_LEVEL=DEBUG "
                        "and look at the worker's stderr."
                    ),
                    out,
                )

    def kill_overdue(self, out: Outbox) -> None:
        """Kill the workers that ignored a terminate for their grace period."""
        now = time.monotonic()
        for worker in self._pool.handles:
            if worker.kill_at is not None and now >= worker.kill_at:
                out.call(log.warning, "worker %d ignored terminate; killing it", worker.pid)
                worker.kill()

    def advance_shutdown(self, out: Outbox) -> None:
        """After ``shutdown()``: ask idle workers to stop once no task waits; with
        ``stop_running``, stop the busy ones too and fail what is queued."""
        state = self._pool
        if not state.shutdown:
            return
        for worker in state.handles:
            if worker.state is WorkerState.STOPPING:
                continue
            if worker.state is WorkerState.BUSY and state.stop_running and not worker.copying:
                task = worker.task
                self.stop_worker(worker, out)
                if task is not None:
                    out.cancel_running(task)
            elif worker.state is not WorkerState.BUSY and not state.queued:
                if worker in state.idle:
                    state.idle.remove(worker)
                worker.ask_to_stop(state.stop_grace)
        if state.stop_running or state.broken is not None:
            self.fail_pending(out)

    def break_pool(self, error: BrokenPoolError, out: Outbox) -> None:
        """No task can run any more: fail every task, stop every worker."""
        state = self._pool
        if state.broken is None:
            state.broken = error
        state.shutdown = True
        self.fail_pending(out)
        for worker in state.handles:
            if worker.state is not WorkerState.STOPPING and not worker.copying:
                # (a worker whose result is being copied is asked to stop once it is done)
                task = self.finish_task(worker)
                if task is not None:
                    out.settle(task, error=error)
                worker.terminate(state.stop_grace)

    def fail_pending(self, out: Outbox) -> None:
        """End every queued task: with the pool's error if it is broken, else cancelled."""
        state = self._pool
        error = state.broken
        while state.pending:
            task = state.pop_pending()
            if error is not None:
                out.settle(task, error=error)
            else:
                out.cancel_pending(task)


def _killed_from_outside(exitcode: int | None) -> bool:
    """SIGKILL/SIGTERM say nothing about whether a worker *can* start (an impatient user, a
    chaos test); exits and crash signals during start-up do, and those count as failures."""
    if sys.platform == "win32":
        return False
    return exitcode in (-signal.SIGKILL, -signal.SIGTERM)
