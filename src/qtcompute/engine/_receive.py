"""Reading what workers send, and settling each task with its outcome: :class:`Receiver`.

Every frame of a worker goes through :meth:`Receiver._on_frame`, under the pool's lock, whoever
read it: the supervisor thread (:meth:`Receiver.read_counted`, :meth:`Receiver.receive`) or a
thread blocked in ``result()`` that claimed its task's worker (:meth:`Receiver.wait_directly`),
never both at once for one worker. Large result buffers left in the worker's memory are copied
here too (``_copy_result``), outside the lock. Why two readers: ``docs/engine.md``, "One task,
from submit to result()", steps 5 to 7.
"""

from __future__ import annotations

import functools
import logging
import pickle
import sys
import time
from typing import TYPE_CHECKING, Any

from qtcompute.engine import _messages as msg
from qtcompute.engine import _vm, _worker_logging
from qtcompute.engine._dispatch import Dispatcher
from qtcompute.engine._lifecycle import Lifecycle
from qtcompute.engine._outbox import Outbox, Task
from qtcompute.engine._pickling import unpack_exception
from qtcompute.engine._records import WorkerState
from qtcompute.engine._state import PoolState
from qtcompute.engine.errors import (
    BrokenPoolError,
    MemoryLimitError,
    ResultNotPicklableError,
    WorkerCrashedError,
)

if TYPE_CHECKING:
    from qtcompute.engine._future import TaskFuture
    from qtcompute.engine._process import WorkerHandle

worker_log = logging.getLogger("qtcompute.worker")
_RESULT_KIND = msg.RESULT_KIND
_HEADER_SIZE = msg.HEADER_SIZE
_SMALL_FRAME = msg.SMALL_FRAME


class Receiver:
    """Reads the frames of one pool's workers and settles their tasks."""

    def __init__(self, state: PoolState, lifecycle: Lifecycle, dispatcher: Dispatcher) -> None:
        self._pool = state
        self._lifecycle = lifecycle
        self._dispatcher = dispatcher
        self._lock = state.lock
        self._running = state.running
        self._handles = state.handles

    def wait_directly(self, future: TaskFuture[Any], deadline: float | None) -> None:
        """Let the thread blocked on ``future`` read its worker's reply itself.

        The thread *claims* the worker: the worker stops ringing the bell for this task's
        frames and the supervisor leaves its pipe alone, while this thread spins, polls the
        pipe and the kick pipe, and handles frames through the same ``_on_frame`` as the
        supervisor, under the same lock. Returns when the future is done, at the deadline, or
        as soon as anything unusual happens (the worker died, another thread claimed it); the
        caller then waits on the future as usual.
        """
        state = self._pool
        if state.on_supervisor():
            return
        lock = self._lock
        with lock:
            worker = self._running.get(future.task_id)
            if worker is None or not worker.channel.can_claim:
                return
            task = worker.task
            channel = worker.channel
            channel.claim(future.task_id)
            state.unwatch(worker)
        read = channel.read
        released = False
        try:
            while True:
                if not channel.wait_frame(deadline):
                    return  # timed out, or kicked: another thread settled the task
                try:
                    frame = read()
                except (EOFError, OSError):
                    channel.eof = True  # nobody reads this pipe again (we own it: claimed)
                    return  # the worker died: the supervisor reports it (sentinel)
                except BaseException:
                    # Ctrl-C in the middle of a frame: what was read of it is gone, and the
                    # next reader would take the rest for a frame length. Stop the worker.
                    self._abandon(worker, task)  # type: ignore[arg-type]
                    raise
                out = Outbox()
                replace = False
                try:
                    with lock:
                        if worker not in self._handles:
                            return
                        self._on_frame(worker, frame, out)
                        if task.finished:  # type: ignore[union-attr]
                            # Hand the worker back in the same locked section (one lock per
                            # round trip less than a separate release).
                            released = True
                            replace = self._release_claim(worker, out, done=True)
                finally:
                    out.deliver()  # whatever happens, a task ended under the lock is settled
                if released:
                    if replace:
                        state.wake()
                    return
        finally:
            if not released:
                out = Outbox()
                with lock:
                    replace = self._release_claim(worker, out, done=False)
                out.deliver()
                if replace:
                    state.wake()  # replacements are started by the supervisor thread only

    def _abandon(self, worker: WorkerHandle, task: Task) -> None:
        """A direct wait was interrupted while reading a frame: the pipe is out of step, so the
        worker is stopped (and replaced) and its task ends cancelled."""
        out = Outbox()
        try:
            with self._lock:
                worker.channel.eof = True  # nobody reads this pipe again
                if worker in self._handles and worker.state is not WorkerState.STOPPING:
                    self._lifecycle.stop_worker(worker, out)
                    out.cancel_running(task)
        finally:
            out.deliver()
            self._pool.wake()

    def _release_claim(self, worker: WorkerHandle, out: Outbox, *, done: bool) -> bool:
        """End a direct wait (under the lock); True if the worker died and needs replacing.

        ``done``: the claimed task's last frame was read. Otherwise (a timeout, a kick) the
        worker may still send it without ringing the bell, so the supervisor watches its pipe.
        """
        channel = worker.channel
        if worker not in self._handles:
            channel.claimed_by = 0
            return False
        channel.release()
        # Frames read ahead with the last one are ours to handle (select() on the pipe will not
        # report them), and so are frames the supervisor's bell left to us while we read.
        self.read_counted(worker, out)
        if worker.exit_seen:  # the supervisor left the death to us (see Supervisor._handle)
            self.drain_and_reap(worker, out)
            return True  # replacements are started by the supervisor thread only
        if not channel.counted or not done:
            self._pool.watch(worker)
        return False

    def read_counted(self, worker: WorkerHandle, out: Outbox) -> None:
        """Handle the frames of ``worker`` that are read ahead or counted.

        Only those counted on entry: a worker that keeps writing (an output flood) rings again,
        and is read again then, rather than here under the lock for as long as it writes.
        """
        channel = worker.channel
        mark = channel.counted_mark()
        while not channel.eof and channel.has_counted(mark):
            self.receive(worker, out)

    def drain_and_reap(self, worker: WorkerHandle, out: Outbox) -> None:
        """The worker has exited: read what it sent before it died, then reap it."""
        channel = worker.channel
        while not channel.eof and channel.has_frame():
            self.receive(worker, out)
        self._lifecycle.reap(worker, out)

    def receive(self, worker: WorkerHandle, out: Outbox) -> None:
        """Handle the next frame of ``worker`` and any others that arrived with it."""
        channel = worker.channel
        while True:
            try:
                frame = channel.read()
            except (EOFError, OSError):
                channel.eof = True  # the sentinel reports the death itself
                self._pool.unwatch(worker)
                return
            self._on_frame(worker, frame, out)
            if channel.eof or not channel.buffered():
                return

    def _on_frame(self, worker: WorkerHandle, frame: bytes, out: Outbox) -> None:
        task = worker.task
        # The common case first, in as few steps as possible (it is on every round trip): the
        # result of the running task, with no large buffer outside the frame.
        if task is not None and frame[8] == _RESULT_KIND and frame[:8] == task.tag:
            try:
                if len(frame) < _SMALL_FRAME:
                    value = pickle.loads(frame[_HEADER_SIZE:])[0]  # cheaper than a view
                else:
                    value = pickle.loads(memoryview(frame)[_HEADER_SIZE:])[0]
            except BaseException as exc:  # sys.exit() in a __reduce__ too: the task ends
                self._complete(worker, task, out, error=_undecodable_result(task, exc))
                if isinstance(exc, KeyboardInterrupt):
                    raise
                return
            self._complete(worker, task, out, result=value)
            return
        task_id = msg.task_id_of(frame)
        if task_id != msg.CONTROL and (task is None or task.future.task_id != task_id):
            out.call(msg.release, frame)  # a late frame of a settled task (timed out, stopped)
            return
        kind = msg.kind_of(frame)
        if kind is msg.Result and msg.is_in_sender(frame):
            # Its large buffers are still in the worker: copied outside the lock (by whichever
            # thread delivers), so that a 100 MB copy never holds up submit() elsewhere. The
            # worker stays busy until the copy is done: nothing may stop it or give it another
            # task while we read its memory.
            self._lifecycle.finish_task(worker)
            worker.copying = True
            out.settle_with(task, self._copy_result, worker, task, frame)  # type: ignore[arg-type]
            return
        try:
            fields = msg.decode_fields(frame)
        except (Exception, SystemExit) as exc:
            message: Any = exc
        else:
            if kind is msg.Result:  # the common case first, without building the message
                self._complete(worker, task, out, result=fields[0])  # type: ignore[arg-type]
                return
            message = kind._make(fields)
        if isinstance(message, msg.Failure):
            self._complete(worker, task, out, error=unpack_exception(message))  # type: ignore[arg-type]
        elif isinstance(message, msg.Progress):
            out.call(task.future._report_progress, message.values)  # type: ignore[union-attr]
        elif isinstance(message, msg.Released):
            task.reusable = set(message.names)  # type: ignore[union-attr]
        elif isinstance(message, msg.Ready):
            self._pool.start_failures = 0
            if _vm.can_read(worker.pid, message.probe):
                worker.send_control(msg.UseDirectCopy())
            for nonce, _probe, _sent in worker.pings:
                worker.send_control(msg.Ping(nonce))  # its death fails the probe
            if worker.state is WorkerState.STARTING:
                self._dispatcher.become_idle(worker, out)
        elif isinstance(message, msg.Pong):
            self._answer_ping(worker, message.nonce)
        elif isinstance(message, msg.Log):
            out.call(_worker_logging.handle, message.record)
        elif isinstance(message, msg.Output):
            out.call(_write_output, worker.pid, message.stream, message.text)
        elif isinstance(message, msg.InitFailed):
            self._lifecycle.break_pool(
                BrokenPoolError(
                    f"The pool's initializer raised in worker {message.pid}, so no worker can "
                    "start and no task can run. Fix the initializer (its traceback is below) "
                    f"and create a new pool.\n{message.traceback}"
                ),
                out,
            )
        elif isinstance(message, (Exception, SystemExit)) and task is not None:
            self._complete(worker, task, out, error=_undecodable_result(task, message))

    def _complete(
        self,
        worker: WorkerHandle,
        task: Task,
        out: Outbox,
        result: Any = None,
        error: BaseException | None = None,
    ) -> None:
        """The worker's task ended with this outcome: settle it, and the worker is free."""
        self._lifecycle.finish_task(worker)
        out.settle(task, result, error)
        if error is not None and type(error) is MemoryLimitError:
            # A failed allocation may leave native state half-built.
            self._lifecycle.retire(worker, out)
        else:
            self._dispatcher.become_idle(worker, out)

    def _answer_ping(self, worker: WorkerHandle, nonce: int) -> None:
        for entry in list(worker.pings):
            if entry[0] == nonce:
                worker.pings.remove(entry)
                _nonce, probe, sent = entry
                probe.set_result((worker.pid, time.perf_counter() - sent))

    def _copy_result(
        self, worker: WorkerHandle, task: Task, frame: bytes
    ) -> tuple[Any, BaseException | None]:
        """Copy a result whose large buffers are in the worker's memory (outside the lock),
        then let the worker drop them and take the next task."""
        result: Any = None
        error: BaseException | None = None
        alive = False
        try:
            with self._lock:
                # In _handles means not reaped: its pid cannot belong to another process yet.
                alive = worker in self._handles
            if alive:
                fetch = functools.partial(_vm.read, worker.pid)
                result = msg.decode_fields(frame, fetch=fetch)[0]
        except OSError as exc:
            error = exc
        except Exception as exc:
            error = _undecodable_result(task, exc)
        finally:
            out = Outbox()
            with self._lock:
                worker.copying = False
                # Still in _handles: never reaped during the copy, so what we read was its.
                alive = alive and worker in self._handles
                if alive:
                    worker.send_control(msg.Release(), task.future.task_id)
                    if worker.state is WorkerState.BUSY and worker.task is None:
                        self._dispatcher.become_idle(worker, out)
                shutting_down = self._pool.shutdown
            out.deliver()
            if shutting_down:
                self._pool.wake()  # the supervisor stops workers once idle; this one now is
        if not alive or isinstance(error, OSError):
            result, error = (
                None,
                WorkerCrashedError(
                    f"The result of task {task.label} could not be copied from worker process "
                    f"{worker.pid}: {error or 'the worker died before it was copied'}. The "
                    "worker most likely died in the meantime; the pool replaces it. Submit the "
                    "task again.",
                    pid=worker.pid,
                    exitcode=None,
                ),
            )
        return result, error


def _undecodable_result(task: Task, exc: BaseException) -> ResultNotPicklableError:
    return ResultNotPicklableError(
        f"The result of task {task.label} arrived but could not be unpickled in this "
        f"process ({type(exc).__name__}: {exc}). Return plain data, or make sure "
        "the result's class can be imported in the main process."
    )


def _write_output(pid: int, stream_name: str, text: str) -> None:
    """Worker output that had no console of its own: our stream if we have one, else the log."""
    stream = getattr(sys, stream_name, None)
    if stream is not None:
        try:
            stream.write(text)
            stream.flush()
            return
        except (OSError, ValueError):
            pass
    text = text.rstrip("\n")
    if text:
        worker_log.info("[worker %d %s] %s", pid, stream_name, text)
