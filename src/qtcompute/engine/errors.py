"""Errors raised by the engine.

Two families: a *pool* error means the pool itself can no longer run work, a *task* error means
one task failed and the pool goes on.

::

    QtComputeError
    ├── PoolError                      the pool as a whole
    │   ├── BrokenPoolError            workers cannot start (initializer failed, import fails)
    │   └── PoolShutdownError          submit() after shutdown(); also a RuntimeError
    └── TaskError                      one task; the pool is fine
        ├── NotPicklableError          the function or an argument cannot be pickled: the
        │                              future fails with it; also a TypeError and a PicklingError
        ├── ResultNotPicklableError    the task's return value could not be sent back; also a
        │                              pickle.PicklingError
        ├── WorkerCrashedError         the worker process died while running the task; also a
        │                              concurrent.futures.process.BrokenProcessPool; its text
        │                              ends with the worker's Python stack at the crash
        │                              (SIGSEGV, SIGABRT...; SIGKILL leaves none)
        ├── MemoryLimitError           the task went over the pool's memory_limit; also a
        │                              MemoryError; its worker was replaced
        ├── TaskTimeoutError           the task ran longer than its timeout; also a TimeoutError
        └── RemoteError                the task raised an exception that could not be sent back
                                       as itself; carries the type name and the message

    RemoteTraceback                    not raised: the worker's formatted traceback, chained as
                                       ``__cause__`` of the exception re-raised in the caller

Why two families, and code written for ``ProcessPoolExecutor``: ``docs/engine.md``, "Errors" and
"Compatibility with ``ProcessPoolExecutor``".
"""

from __future__ import annotations

import signal
from concurrent.futures import BrokenExecutor
from concurrent.futures.process import BrokenProcessPool
from pickle import PicklingError

__all__ = [
    "BrokenPoolError",
    "MemoryLimitError",
    "NotPicklableError",
    "PoolError",
    "PoolShutdownError",
    "QtComputeError",
    "RemoteError",
    "RemoteTraceback",
    "ResultNotPicklableError",
    "TaskError",
    "TaskTimeoutError",
    "WorkerCrashedError",
]


class QtComputeError(Exception):
    """Base of every error qtcompute raises."""


class PoolError(QtComputeError):
    """The pool as a whole cannot run work."""


class BrokenPoolError(PoolError, BrokenExecutor):
    """Workers cannot be started, so no task can run; pending tasks fail with this error."""


class PoolShutdownError(PoolError, RuntimeError):
    """A task was submitted after ``shutdown()``."""


class TaskError(QtComputeError):
    """One task failed; the pool and the other tasks are unaffected."""


class NotPicklableError(TaskError, TypeError, PicklingError):
    """The task function or one of its arguments cannot be sent to a worker process."""


class ResultNotPicklableError(TaskError, PicklingError):
    """The task finished but its return value could not be sent back to the caller."""


class RemoteError(TaskError):
    """A task raised an exception that could not travel back as itself.

    ``type_name`` is the qualified name of the original exception type.
    """

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message

    def __reduce__(self):  # keep both fields through pickling
        return (type(self), (self.type_name, self.message))


class MemoryLimitError(TaskError, MemoryError):
    """The task went over the pool's ``memory_limit``; its worker was replaced.

    ``limit`` is the limit in bytes, ``task`` the task's name, ``peak`` the worker's peak memory
    use in bytes (resident on POSIX, committed on Windows; None where it could not be measured).
    """

    def __init__(self, message: str, *, limit: int, task: str, peak: int | None) -> None:
        super().__init__(message)
        self.limit = limit
        self.task = task
        self.peak = peak

    def __reduce__(self):  # keep the fields through pickling (it is raised in the worker)
        return (_rebuild_memory_limit_error, (str(self), self.limit, self.task, self.peak))


def _rebuild_memory_limit_error(
    message: str, limit: int, task: str, peak: int | None
) -> MemoryLimitError:
    return MemoryLimitError(message, limit=limit, task=task, peak=peak)


class TaskTimeoutError(TaskError, TimeoutError):
    """The task ran longer than its timeout; its worker was stopped and replaced."""

    def __init__(self, message: str, *, timeout: float | None = None) -> None:
        super().__init__(message)
        self.timeout = timeout


class WorkerCrashedError(TaskError, BrokenProcessPool):
    """The worker process running the task died.

    Also a ``BrokenProcessPool``, which is what ``ProcessPoolExecutor`` raises then; unlike
    that pool, ours is not broken: the worker was replaced and the other tasks go on.

    ``pid`` is the worker's process id, ``exitcode`` its exit status as ``multiprocessing``
    reports it (negative for a signal), ``signal`` the signal's name when a signal killed it,
    ``stack`` the worker's Python stack at the crash as ``faulthandler`` wrote it (None when
    there is none: SIGKILL, an exit).
    """

    def __init__(
        self, message: str, *, pid: int | None, exitcode: int | None, stack: str | None = None
    ) -> None:
        super().__init__(message)
        self.pid = pid
        self.exitcode = exitcode
        self.signal: str | None = _signal_name(exitcode)
        self.stack = stack


class RemoteTraceback(Exception):
    """A worker's traceback as text (CPython's ``_RemoteTraceback``)."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb}"""'


def _signal_name(exitcode: int | None) -> str | None:
    if exitcode is None or exitcode >= 0:
        return None
    try:
        return signal.Signals(-exitcode).name
    except ValueError:
        return f"signal {-exitcode}"


# Likely causes by signal, for messages that diagnose rather than just report.
_SIGNAL_CAUSES = {
    "SIGKILL": (
        "the process was killed from outside (kill -9, a task manager) or by the operating "
        "system for using too much memory (the Linux OOM killer; see `dmesg`)"
    ),
    "SIGSEGV": (
        "a crash in native code: a C extension, ctypes or a library bug (a segmentation fault)"
    ),
    "SIGBUS": "a crash in native code (bus error), or a memory-mapped file that shrank",
    "SIGABRT": "native code called abort(), often a failed assertion in a C/C++ library",
    "SIGTERM": "something outside the pool asked the process to terminate",
    "SIGFPE": "native code divided by zero or hit a floating-point trap",
}


# A process that dies of an unhandled exception on Windows exits with its NTSTATUS code.
_WINDOWS_CRASHES = {
    0xC0000005: ("an access violation", _SIGNAL_CAUSES["SIGSEGV"]),
    0xC00000FD: ("a stack overflow", "deep recursion in native code, or a recursion limit raised"),
    0xC0000374: ("heap corruption", "native code wrote past the memory it allocated"),
    0xC0000409: (
        "a fail-fast exit (abort() or a stack buffer overrun)",
        _SIGNAL_CAUSES["SIGABRT"],
    ),
}


def describe_death(exitcode: int | None) -> str:
    """Say how a process ended and what most likely caused it."""
    name = _signal_name(exitcode)
    if name is not None:
        cause = _SIGNAL_CAUSES.get(name, "a signal from the operating system or another process")
        return f"killed by {name}; likely cause: {cause}"
    if exitcode is None:
        return "ended with an unknown status"
    if exitcode in _WINDOWS_CRASHES:  # an NTSTATUS: Windows' counterpart of a fatal signal
        name, cause = _WINDOWS_CRASHES[exitcode]
        return f"crashed with {name} (0x{exitcode:08X}); likely cause: {cause}"
    return (
        f"exited with code {exitcode}; likely cause: the task (or a library it called) ended the "
        "process with os._exit() or exit() from native code, or the interpreter ran out of memory"
    )
