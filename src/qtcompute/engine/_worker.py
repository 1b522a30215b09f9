"""The worker process: :func:`worker_main` and the loop that receives a task, runs it and sends
back its outcome.

Owns the progress reporter behind :func:`report_progress`, the ``stdout``/``stderr`` wrappers
that cannot crash a task, and the lifeline that ends the worker with its parent. Its part in a
task's journey, and why each of these: ``docs/engine.md``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import threading
import time
from multiprocessing.connection import Connection
from types import GeneratorType
from typing import Any, Protocol

from qtcompute.engine import _governance, _worker_logging
from qtcompute.engine import _messages as msg
from qtcompute.engine._channel import WorkerEnd
from qtcompute.engine._pickling import pack_exception, progress_not_sendable
from qtcompute.engine._shm import give_back_loans

# Exit codes, so the parent can tell a deliberate exit from a crash (0: asked to stop).
EXIT_INIT_FAILED = 3
EXIT_PARENT_DIED = 4

_RUN_KIND = msg.RUN_KIND
task_id_of = msg.task_id_of

PROGRESS_INTERVAL = 0.004  # seconds: progress values closer together than this share one frame


class _ProgressReporter:
    """Sends progress of the running task; coalesces floods into one frame per interval.

    The first value after a quiet period goes out at once (a slow task's progress is never
    delayed); values that follow within ``PROGRESS_INTERVAL`` are buffered and flushed by a
    background thread, or before the task's result, whichever comes first. Order is kept.
    """

    def __init__(self, channel: WorkerEnd) -> None:
        self._channel = channel
        self._lock = threading.Lock()
        self._buffer: list[Any] = []
        self._task_id = msg.CONTROL
        self._last_flush = 0.0
        self._wakeup = threading.Event()
        self._thread: threading.Thread | None = None

    def begin(self, task_id: int) -> None:
        self._task_id = task_id  # the buffer is empty: end() of the previous task flushed it

    def end(self) -> None:
        # Under the lock: a flush running in the flusher thread finishes sending before we
        # return, and so before the task's result goes out (a progress frame after the result
        # would arrive for a settled task, and be dropped).
        with self._lock:
            if self._buffer:
                self._flush_locked()
            self._task_id = msg.CONTROL

    def report(self, value: Any) -> None:
        if self._task_id == msg.CONTROL:
            return
        try:
            # Checked here, in the task's own call: a value that cannot be sent must fail the
            # task with a clear error, not the background flush (which would kill the worker).
            pickle.dumps(value, protocol=msg.PROTOCOL)
        except Exception as exc:
            raise progress_not_sendable(value, exc) from exc
        with self._lock:
            if self._task_id == msg.CONTROL:
                return
            self._buffer.append(value)
            now = time.monotonic()
            if now - self._last_flush < PROGRESS_INTERVAL:
                self._ensure_flusher()
                self._wakeup.set()
                return
        self.flush()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._buffer:
            return
        values, self._buffer = tuple(self._buffer), []
        self._last_flush = time.monotonic()
        # Sent under our lock: a flush racing with end() must not send after the result.
        self._channel.send(self._task_id, msg.Progress(values))

    def _ensure_flusher(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._flush_loop, name="qtcompute-progress", daemon=True
            )
            self._thread.start()

    def _flush_loop(self) -> None:
        while True:
            self._wakeup.wait()
            self._wakeup.clear()
            time.sleep(PROGRESS_INTERVAL)  # the coalescing window itself, not a poll
            self.flush()


class ProgressSink(Protocol):
    """Where :func:`report_progress` sends the values of the running task."""

    def report(self, value: Any) -> None: ...


_reporter: ProgressSink | None = None  # set once this process serves tasks
_memory_guard: _governance.MemoryGuard | None = None  # with Pool(memory_limit=...)


def set_progress_sink(sink: ProgressSink) -> None:
    """Send :func:`report_progress` values to ``sink`` in this process: a Dask worker routes
    them to the client of the task that reported (see ``qtcompute.dask._remote``)."""
    global _reporter
    _reporter = sink


def serving() -> bool:
    """True in a process that serves tasks: a pool's worker, or a Dask worker with a sink."""
    return _reporter is not None


def report_progress(value: Any) -> None:
    """Report progress of the task that is running in this worker.

    The caller receives ``value`` through ``TaskFuture.add_progress_callback`` (or the Qt bridge's
    progress signal). Outside a worker task this does nothing, so the same function can run
    in-process in tests. ``value`` must be picklable; keep it small (a number, a short tuple).
    """
    if _reporter is not None:
        _reporter.report(value)


class _SafeStream:
    """Wraps a worker's ``sys.stdout``/``sys.stderr`` so that writing can never crash a task.

    A windowed frozen app starts every process with ``sys.stdout is None``; a parent started
    with closed descriptors hands its children a descriptor 1 or 2 that is something else
    entirely (writes fail with EBADF). In both cases the text goes to the parent over the
    worker's pipe instead, where it reaches the parent's stream or, lacking one, its log.
    """

    def __init__(self, original: Any, channel: WorkerEnd, name: str) -> None:
        self._original = original
        self._channel = channel
        self._name = name

    def write(self, text: str) -> int:
        if self._original is not None:
            try:
                return self._original.write(text)
            except (OSError, ValueError):
                self._original = None  # broken for good: forward from now on
        if text:
            try:
                self._channel.send(msg.CONTROL, msg.Output(self._name, str(text)))
            except Exception:
                pass  # the parent is gone or the pipe is closing: dropped, never fatal
        return len(text)

    def flush(self) -> None:
        if self._original is not None:
            try:
                self._original.flush()
            except (OSError, ValueError):
                self._original = None

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return getattr(self._original, "encoding", None) or "utf-8"

    def __getattr__(self, name: str) -> Any:  # fileno(), buffer, errors... of the original
        if self._original is None:
            raise AttributeError(name)
        return getattr(self._original, name)


def _make_streams_safe(channel: WorkerEnd) -> None:
    sys.stdout = _SafeStream(sys.stdout, channel, "stdout")  # type: ignore[assignment]
    sys.stderr = _SafeStream(sys.stderr, channel, "stderr")  # type: ignore[assignment]


def _watch_parent(lifeline: Connection, parent_pid: int) -> None:
    """Exit when the parent dies, whatever the main thread is doing.

    Two mechanisms, because neither covers every case:
    - Linux: ``PR_SET_PDEATHSIG`` makes the kernel SIGKILL us when the parent dies, even while
      the main thread is inside C code that holds the GIL. Only valid when the parent is the
      pool's process (not under forkserver, whose server is our parent).
    - Everywhere: ``lifeline`` is the read end of a pipe whose write end only the parent holds.
      It is never written to; when the parent dies the OS closes it and our read returns EOF.
    """
    if sys.platform.startswith("linux") and os.getppid() == parent_pid:
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        except Exception:
            pass  # the lifeline still covers us
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(EXIT_PARENT_DIED)

    def wait_for_eof() -> None:
        with contextlib.suppress(BaseException):
            lifeline.recv_bytes()  # never written to: returns (raises EOFError) at parent death
        os._exit(EXIT_PARENT_DIED)

    threading.Thread(target=wait_for_eof, name="qtcompute-lifeline", daemon=True).start()


def worker_main(
    channel_args: tuple[Any, ...],
    lifeline: Connection,
    parent_pid: int,
    initializer: Any,
    initargs: tuple[Any, ...],
    spin: float = 0.0,
    settings: _governance.WorkerSettings | None = None,
) -> None:
    """Entry point of a worker process (the ``target`` of its ``multiprocessing.Process``).
    ``channel_args``: its ends of the pipes, its page of frame counts and the pool's bell
    (``ParentEnd.worker_args``)."""
    global _reporter, _memory_guard
    _watch_parent(lifeline, parent_pid)
    channel = WorkerEnd(*channel_args, spin=spin)
    _make_streams_safe(channel)
    # Crash log, memory limit, logging records to the pool (see _governance).
    _memory_guard = _governance.apply(
        settings, lambda fields: channel.send(msg.CONTROL, msg.Log(fields))
    )
    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException as exc:
            failure = pack_exception(exc)
            channel.send(msg.CONTROL, msg.InitFailed(os.getpid(), failure.traceback))
            sys.exit(EXIT_INIT_FAILED)
    _reporter = _ProgressReporter(channel)
    channel.send(msg.CONTROL, msg.Ready(os.getpid(), _direct_copy_probe()))
    _serve(channel, _reporter)


def _direct_copy_probe() -> tuple[int, bytes] | None:
    from qtcompute.engine import _vm

    if not _vm.AVAILABLE:
        return None
    try:
        return _vm.probe()
    except Exception:
        return None  # no ctypes, or no libc function: results go through shared memory


def _serve(channel: WorkerEnd, reporter: _ProgressReporter) -> None:
    next_frame = channel.next_frame
    # Large results the pool copies from our memory, by task id, until it says Release; None
    # until the pool has told us it can (UseDirectCopy).
    held: dict[int, Any] | None = None
    while True:
        try:
            frame = next_frame()
        except (EOFError, OSError):
            return  # the parent closed our pipe: nothing more will come
        kind = msg.kind_of(frame) if frame[8] != _RUN_KIND else msg.RunTask
        if kind is msg.RunTask:
            task_id = task_id_of(frame)
            channel.send_result(_run(task_id, frame, reporter, channel, held), task_id)
        elif kind is msg.Release:
            if held is not None:
                held.pop(msg.task_id_of(frame), None)
        elif kind is msg.Stop:
            return
        elif kind is msg.Ping:
            channel.send(msg.CONTROL, msg.Pong(msg.decode(frame).nonce))
        elif kind is msg.UseDirectCopy:
            held = {}
        elif kind is msg.LogLevels:
            _worker_logging.apply(msg.decode(frame).levels)


def _run(
    task_id: int,
    frame: bytes,
    reporter: _ProgressReporter,
    channel: WorkerEnd,
    held: dict[int, Any] | None,
) -> bytes:
    """Run one task; return the frame that answers it. Never raises."""
    reporter.begin(task_id)
    loans: list[Any] = []
    reply = _outcome(task_id, frame, loans, held)
    reporter.end()  # progress goes out before the result
    if loans:
        # The task's objects died with _outcome's frame: unmap its argument segments, and
        # tell the pool which it may lend again (before the result, which ends the task).
        released = give_back_loans(loans)
        if released:
            channel.send(task_id, msg.Released(released))
    return reply


def _outcome(task_id: int, frame: bytes, loans: list[Any], held: dict[int, Any] | None) -> bytes:
    fn = None
    try:
        fn, args, kwargs = msg.decode_fields(frame, loans=loans)  # a RunTask
        value = fn(*args, **kwargs)
        if type(value) is GeneratorType:
            value = _drain(value)
    except BaseException as exc:  # the caller decides what an exception means, not us
        if _memory_guard is not None and isinstance(exc, MemoryError):
            exc = _over_limit(fn, exc)  # the pool replaces this worker when it sees it
        reply: Any = pack_exception(exc)
    else:
        guard = _memory_guard
        if guard is not None and guard.check_after_task and guard.peak_over():
            # Where the limit is not enforced (macOS): its peak went over.
            return msg.encode(task_id, pack_exception(guard.over_limit(fn, None)))
        try:
            return msg.encode_result(task_id, value, held)
        except MemoryError as exc:
            # Pickling a large result copies it: the limit, not an unpicklable result.
            reply = pack_exception(exc if _memory_guard is None else _over_limit(fn, exc))
        except Exception as exc:
            reply = _unpicklable_result(exc, value)
        except BaseException as exc:  # sys.exit() in a __reduce__: the task's outcome, as above
            reply = pack_exception(exc)
    return msg.encode(task_id, reply)


def _over_limit(fn: Any, exc: MemoryError) -> BaseException:
    error = _memory_guard.over_limit(fn, exc)  # type: ignore[union-attr]
    error.__cause__ = exc  # its traceback says where the allocation failed
    error.__traceback__ = exc.__traceback__
    return error


def _drain(generator: Any) -> Any:
    """A generator task: each yielded value is progress, its return value is the result."""
    while True:
        try:
            report_progress(next(generator))
        except StopIteration as stop:
            return stop.value


def _unpicklable_result(exc: Exception, value: Any) -> msg.Failure:
    from qtcompute.engine.errors import ResultNotPicklableError

    error = ResultNotPicklableError(
        f"The task returned a {type(value).__qualname__} object that cannot be sent back to the "
        f"caller ({type(exc).__name__}: {exc}). Return plain data (numbers, strings, lists, dicts, "
        "NumPy arrays) instead of objects holding open files, locks, sockets or Qt objects."
    )
    return pack_exception(error)
