"""``Pool``: the public face of the engine, a ``concurrent.futures.Executor``."""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

from qtcompute.engine._core import PoolCore
from qtcompute.engine._future import TaskFuture
from qtcompute.engine._governance import check_max_tasks_per_child, parse_memory_limit
from qtcompute.engine._records import PoolEvent, PoolStats
from qtcompute.engine._spin import DEFAULT_LIMIT as DEFAULT_SPIN
from qtcompute.engine._state import PoolState
from qtcompute.engine._supervisor import Supervisor

T = TypeVar("T")

_DEFAULT_TIMEOUT: Any = object()
# Every pool whose supervisor thread still runs (the thread holds its Supervisor), and its core:
# the exit hook waits for them even when their Pool object is long gone.
_live: weakref.WeakKeyDictionary[Supervisor, PoolCore] = weakref.WeakKeyDictionary()
_atexit_lock = threading.Lock()
_atexit_registered = False


class Pool(Executor):
    """A pool of persistent worker processes; a ``concurrent.futures.Executor``.

    Parameters
    ----------
    workers:
        Number of worker processes (default: the number of CPUs). ``max_workers=``, the
        ``Executor`` name, is accepted instead.
    initializer, initargs:
        Called as ``initializer(*initargs)`` once in every worker before its first task, and
        again in every replacement worker (for state such as a loaded model). If it raises, the
        pool is broken (:class:`~qtcompute.errors.BrokenPoolError`).
    start_method:
        ``"spawn"`` (the default on every platform, so that Linux behaves like Windows and
        macOS), ``"forkserver"`` or ``"fork"``.
    task_timeout:
        Default time limit in seconds for each task, counted from when it starts running. A task
        over its limit fails with :class:`~qtcompute.errors.TaskTimeoutError` and its worker is
        replaced. ``schedule(..., timeout=)`` overrides it per task.
    stop_grace:
        Seconds a worker gets to exit after a graceful stop or a terminate before it is killed.
    spin:
        Seconds a waiting thread keeps checking its pipe before it sleeps: a worker waiting
        for its next task, and a thread blocked in ``result()`` waiting for a reply. Catching a
        frame during the spin saves a kernel wake-up on each side, which is most of a tiny
        task's round trip on a virtual machine. Adaptive: spinning stops after a wait that
        outlasted it and resumes only when replies come within ``spin`` again, so slow or
        sporadic tasks never pay for it. ``0`` turns it off. By default, 100 us when the
        workers leave a CPU free for the pool's own process (``workers`` < CPUs), and off
        otherwise: spinning workers would take the CPU the process feeding them needs.
    max_tasks_per_child:
        Replace a worker after it has run this many tasks (``ProcessPoolExecutor``'s option),
        for tasks that leak memory or state. ``None`` (the default): workers live on.
    memory_limit:
        The most memory each worker may use: bytes, or a string such as ``"2 GiB"`` or
        ``"512 MB"``. A task that goes over fails with
        :class:`~qtcompute.errors.MemoryLimitError` (a ``MemoryError``) and its worker is
        replaced. Enforced by the operating system (``RLIMIT_DATA`` on Linux, a Job Object on
        Windows); checked after each task on macOS. ``None`` (the default): no limit.

    Every submitted task ends exactly once: with its result, its exception (the worker's
    traceback chained as ``__cause__``), cancelled, :class:`~qtcompute.errors.WorkerCrashedError`
    or :class:`~qtcompute.errors.TaskTimeoutError`. An error nobody retrieves is logged once on
    the ``qtcompute.engine`` logger ("Task exception was never retrieved").
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        max_workers: int | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        start_method: str = "spawn",
        task_timeout: float | None = None,
        stop_grace: float = 1.0,
        spin: float | None = None,
        max_tasks_per_child: int | None = None,
        memory_limit: int | str | None = None,
        name: str = "qtcompute",
    ) -> None:
        _before_pool_start()
        workers = _worker_count(workers, max_workers)
        if start_method not in multiprocessing.get_all_start_methods():
            raise ValueError(
                f"start method {start_method!r} is not available on this platform; choose one "
                f"of {multiprocessing.get_all_start_methods()}"
            )
        if initializer is not None and not callable(initializer):
            raise TypeError(f"initializer must be callable, not {type(initializer).__name__}")
        check_timeout(task_timeout)
        check_max_tasks_per_child(max_tasks_per_child, start_method)
        memory_limit = parse_memory_limit(memory_limit)
        if spin is None:
            spin = DEFAULT_SPIN if workers < _usable_cpus() else 0.0
        if not isinstance(spin, (int, float)) or isinstance(spin, bool) or not 0 <= spin <= 0.1:
            raise ValueError(f"spin must be a number of seconds from 0 to 0.1, not {spin!r}")
        if initializer is not None:
            from qtcompute.engine._pickling import dumps_task
            from qtcompute.engine._shm import release

            # A clear error now, not in each worker; large initargs went to new segments.
            release(dumps_task(initializer, tuple(initargs), {}).segments)
        self._task_timeout = task_timeout
        self._start_method = start_method
        state = PoolState(
            workers=workers,
            ctx=multiprocessing.get_context(start_method),
            initializer=initializer,
            initargs=tuple(initargs),
            stop_grace=stop_grace,
            spin=float(spin),
            memory_limit=memory_limit,
            max_tasks_per_child=max_tasks_per_child,
        )
        self._core = PoolCore(state, name)
        if self._core.start_error is not None:
            # Typically multiprocessing's "start a new process before ... bootstrapping": a
            # Pool created at import time of a module that spawned children re-import.
            raise self._core.start_error
        # Collected without shutdown(): stop the workers once queued work is done (as CPython's
        # executors do). The finalizer holds the core, never the pool.
        weakref.finalize(self, PoolCore.shutdown, self._core, False, False, False)
        _register_for_exit(self._core)

    # --- the Executor interface ------------------------------------------------------------------

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> TaskFuture[T]:
        """Run ``fn(*args, **kwargs)`` in a worker; return its future at once.

        If the function or an argument cannot be sent to a worker, the future fails at once with
        :class:`~qtcompute.errors.NotPicklableError` (a ``TypeError`` and a ``PicklingError``),
        as ``ProcessPoolExecutor``'s does. Raises ``RuntimeError`` if the pool takes no more
        tasks (:class:`~qtcompute.errors.PoolShutdownError` after ``shutdown()``,
        :class:`~qtcompute.errors.BrokenPoolError`, or once the interpreter is exiting).
        """
        return self._core.submit(fn, args, kwargs, self._task_timeout)

    def schedule(
        self,
        fn: Callable[..., T],
        args: Iterable[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        timeout: float | None = _DEFAULT_TIMEOUT,
        on_progress: Callable[[Any], object] | None = None,
    ) -> TaskFuture[T]:
        """Like :meth:`submit`, with options: a per-task ``timeout`` (seconds of running time;
        ``None`` for none) and an ``on_progress`` callback subscribed before the task can start.
        """
        if timeout is _DEFAULT_TIMEOUT:
            timeout = self._task_timeout
        check_timeout(timeout)
        return self._core.submit(fn, tuple(args), dict(kwargs or {}), timeout, on_progress)

    def map(
        self,
        fn: Callable[..., T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int | None = None,
    ) -> Iterator[T]:
        """``Executor.map``, with items sent to workers in chunks.

        ``chunksize=None`` picks a size from the number of items so that many small items cost
        a few messages rather than one round trip each; pass ``chunksize=1`` for long tasks.
        Results come in order; an exception is raised when its item's result is reached.
        """
        items = list(zip(*iterables, strict=False))  # map() stops at the shortest, as the builtin
        if chunksize is None:
            chunksize = max(1, min(len(items) // (self.workers * 16), 1000))
        if chunksize < 1:
            raise ValueError(f"chunksize must be >= 1, not {chunksize}")
        chunks = [tuple(items[i : i + chunksize]) for i in range(0, len(items), chunksize)]
        end_time = None if timeout is None else _monotonic() + timeout
        futures = [self.submit(_run_chunk, fn, chunk) for chunk in chunks]
        return _results_in_order(futures, end_time)

    def shutdown(
        self, wait: bool = True, *, cancel_futures: bool = False, stop_running: bool = False
    ) -> None:
        """Stop the workers once their work is done, gracefully (a ``Stop`` message for each).

        ``cancel_futures`` cancels tasks that no worker has taken (a worker still starting
        takes the first in the queue, as in CPython); ``stop_running`` also stops the running
        ones (their futures end cancelled) instead of waiting for them. Workers that do
        not exit within ``stop_grace`` are terminated, then killed. Safe to call more than once.
        """
        self._core.shutdown(wait, cancel_futures, stop_running)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown(wait=True)

    # --- beyond the Executor interface --------------------------------------------------------

    @property
    def workers(self) -> int:
        """The configured number of worker processes."""
        return self._core.workers

    @property
    def start_method(self) -> str:
        return self._start_method

    def pids(self) -> list[int]:
        """Process ids of the live workers (starting, ready or busy)."""
        return self._core.pids()

    def stats(self) -> PoolStats:
        """A snapshot: workers alive and busy, tasks pending, crashes and restarts so far."""
        return self._core.stats()

    def subscribe(self, listener: Callable[[PoolEvent], object]) -> Callable[[], None]:
        """Call ``listener(event)`` on every worker state change; returns an unsubscribe function.

        Listeners run in a pool thread (never the caller's): a GUI must hand events over to its
        own thread, as :mod:`qtcompute.qt` does.
        """
        return self._core.subscribe(listener)

    def ping(self, timeout: float | None = None) -> dict[int, float]:
        """Wait until every worker is ready and round-trip a message through each.

        Returns ``{pid: seconds}``. Raises ``TimeoutError`` past ``timeout`` and
        :class:`~qtcompute.errors.WorkerCrashedError` if a worker dies meanwhile.
        """
        return self._core.ping(timeout)

    def __repr__(self) -> str:
        stats = self.stats()
        return (
            f"<qtcompute.Pool workers={stats.workers} alive={stats.alive} busy={stats.busy} "
            f"pending={stats.pending} start_method={self._start_method!r}>"
        )


def _run_chunk(fn: Callable[..., T], chunk: tuple[tuple[Any, ...], ...]) -> list[T]:
    return [fn(*args) for args in chunk]


def _results_in_order(futures: list[TaskFuture[list[T]]], end_time: float | None) -> Iterator[T]:
    """Yield chunk results in order; on early exit cancel what has not started (as CPython)."""
    futures.reverse()
    try:
        while futures:
            future = futures.pop()
            timeout = None if end_time is None else end_time - _monotonic()
            try:
                chunk = future.result(timeout)
            finally:
                del future
            # Popped, not iterated: the caller's reference to a result is its only one.
            chunk.reverse()
            while chunk:
                yield chunk.pop()
    except BaseException:
        # The caller has the first error: the errors of later chunks (the same lambda in each,
        # most often) are not news, and are not logged as never retrieved.
        for future in futures:
            future.add_done_callback(_seen)
        raise
    finally:
        for future in futures:
            future.cancel()


def _seen(future: TaskFuture[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _worker_count(workers: int | None, max_workers: int | None) -> int:
    if workers is not None and max_workers is not None:
        raise TypeError("pass workers or max_workers (the same setting), not both")
    name = "workers" if max_workers is None else "max_workers"
    count = workers if max_workers is None else max_workers
    if count is None:
        return os.cpu_count() or 1
    if not isinstance(count, int) or isinstance(count, bool):
        raise TypeError(f"{name} must be an integer, not {type(count).__name__}")
    if count < 1:
        raise ValueError(f"{name} must be greater than 0, not {count!r}")  # CPython's words
    return count


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # what this process may run on (taskset, cgroups)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _monotonic() -> float:
    import time

    return time.monotonic()


def check_timeout(timeout: float | None, name: str = "timeout") -> None:
    """A time limit is a positive number of seconds, or None (``True`` is not one second).
    Shared with DaskPool."""
    if timeout is not None and not (
        isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0
    ):
        raise ValueError(f"{name} must be a positive number of seconds or None, not {timeout!r}")


def _before_pool_start() -> None:
    """Give freeze safety its chance to act before any process starts (see qtcompute.freeze):
    a frozen worker child that reaches this point is diverted to its work, a runaway refused,
    and in self-test mode the self-test runs on this class of pool."""
    from qtcompute.freeze._guard import before_pool_start  # Qt-free; needs nothing of ours

    before_pool_start(Pool)


def _register_for_exit(core: PoolCore) -> None:
    """At interpreter exit, stop every pool still running once its work is done, queued tasks
    included (as CPython's executors do: a script that submits and returns gets its work done);
    submit() raises from then on. Registered after ``multiprocessing`` registered its own exit
    hook, so ours runs first (atexit is last-in, first-out) and multiprocessing never waits on
    a live worker."""
    global _atexit_registered
    _live[core.supervisor] = core
    with _atexit_lock:
        if not _atexit_registered:
            atexit.register(_shutdown_all)
            _atexit_registered = True


def _shutdown_all() -> None:
    cores = list(_live.values())
    for core in cores:
        core.interpreter_exiting()
    for core in cores:
        core.shutdown(wait=True, cancel_futures=False, stop_running=False)
