"""joblib on qtcompute's pool: ``parallel_config(backend="qtcompute")``.

Importing this module registers the back end; joblib code then runs on the app's one supervised
pool (crash replacement, stop, progress, the Qt bridge) instead of a second pool of loky
processes::

    import qtcompute.joblib  # registers the "qtcompute" back end
    from joblib import Parallel, delayed, parallel_config

    with parallel_config(backend="qtcompute", pool=pool):  # the app's qtcompute.Pool
        squares = Parallel(n_jobs=2)(delayed(pow)(i, 2) for i in range(1000))

Without ``pool=`` the back end uses one pool of its own per process (:func:`default_pool`),
started on first use. ``parallel_backend("qtcompute", ...)`` works too (joblib < 1.3's name).

What it supports: ``n_jobs`` (at most the pool's size; ``-1`` is all of it), joblib's
auto-batching (``batch_size="auto"``, the default), ``return_as="generator"`` and
``"generator_unordered"``, ``timeout=``, and errors raised in the caller with the worker's
traceback as ``__cause__``. A ``Parallel`` call inside a task runs sequentially in that worker
(the pool lives in the app's process). ``on_progress=`` receives what tasks report with
:func:`qtcompute.report_progress`. Functions that plain pickle cannot send (lambdas, closures,
functions defined in a notebook) go by cloudpickle, joblib's own.

See ``docs/joblib.md``.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

try:
    import joblib  # absolute: the third-party package, never this module
    from joblib._parallel_backends import (
        AutoBatchingMixin,
        FallbackToBackend,
        ParallelBackendBase,
        SequentialBackend,
    )
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"qtcompute.joblib needs joblib ({exc}). Install it with: pip install 'qtcompute[joblib]'"
    ) from exc

from qtcompute.engine import Pool
from qtcompute.errors import NotPicklableError

__all__ = ["BACKEND_NAME", "QtComputeBackend", "default_pool", "register"]

BACKEND_NAME = "qtcompute"

_default_pool: Pool | None = None
_default_lock = threading.Lock()


def default_pool() -> Pool:
    """The pool the back end uses when ``parallel_config`` names none (one per process)."""
    global _default_pool
    with _default_lock:
        if _default_pool is None:
            _default_pool = Pool(name="qtcompute-joblib")
        return _default_pool


class QtComputeBackend(AutoBatchingMixin, ParallelBackendBase):  # type: ignore[misc]
    """A joblib back end that runs batches of tasks on a :class:`qtcompute.Pool`.

    Parameters
    ----------
    pool:
        The pool to run on (the app's). Default: :func:`default_pool`. The back end never
        shuts it down.
    on_progress:
        Called (in a pool thread) with every value a task reports through
        :func:`qtcompute.report_progress`.
    """

    default_n_jobs = -1  # the point of choosing this back end is the pool: all of it
    supports_retrieve_callback = True  # results arrive through callbacks: generators, timeout
    supports_inner_max_num_threads = False  # the workers are running already; no env to set
    supports_sharedmem = False
    uses_threads = False

    def __init__(
        self,
        pool: Pool | None = None,
        on_progress: Callable[[Any], object] | None = None,
        nesting_level: int | None = None,
        inner_max_num_threads: int | None = None,
        **backend_kwargs: Any,
    ) -> None:
        super().__init__(
            nesting_level=nesting_level,
            inner_max_num_threads=inner_max_num_threads,
            **backend_kwargs,
        )
        if pool is not None and not isinstance(pool, Pool):
            raise TypeError(f"pool must be a qtcompute.Pool, not {type(pool).__name__}")
        self._given_pool = pool
        self._pool: Pool | None = None
        self._on_progress = on_progress
        self._by_cloudpickle = False
        self._lock = threading.Lock()
        self._running: set[Future[Any]] = set()

    # --- how many workers ----------------------------------------------------------------------

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        """``n_jobs`` as joblib reads it (``-1`` all, ``-2`` all but one), capped at the pool."""
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs is None or _in_worker():
            return 1  # inside a task: the pool is in the app's process, run here
        workers = self._pool_size()
        if n_jobs < 0:
            return max(workers + 1 + n_jobs, 1)
        return min(n_jobs, workers)

    def configure(
        self,
        n_jobs: int = 1,
        parallel: Any = None,
        prefer: str | None = None,
        require: str | None = None,
        **backend_kwargs: Any,
    ) -> int:
        """Pick the pool for a ``Parallel`` call; one job means joblib's sequential back end."""
        n_jobs = self.effective_n_jobs(n_jobs)
        if n_jobs == 1:
            raise FallbackToBackend(SequentialBackend(nesting_level=self.nesting_level))
        self.parallel = parallel
        self._pool = self._given_pool or default_pool()
        return n_jobs

    def get_nested_backend(self) -> tuple[ParallelBackendBase, int | None]:
        """``Parallel`` inside a task runs sequentially in its worker (no pool of pools)."""
        level = (self.nesting_level or 0) + 1
        return SequentialBackend(nesting_level=level), None

    # --- tasks ---------------------------------------------------------------------------------

    def submit(self, func: Callable[[], Any], callback: Callable[[Any], object] | None = None):
        """Send one batch (a joblib ``BatchedCalls``) to the pool; return its future."""
        future = self._send(func)
        with self._lock:
            self._running.add(future)
        future.add_done_callback(self._forget)
        if callback is not None:
            _relay().watch(future, callback)
        return future

    apply_async = submit  # the name joblib < 1.5 calls

    def retrieve_result_callback(self, future: Future[Any]) -> Any:
        """The batch's results, or its exception (the worker's traceback as ``__cause__``)."""
        return future.result()

    def abort_everything(self, ensure_ready: bool = True) -> None:
        """A task failed: cancel this call's batches that have not started (others finish)."""
        with self._lock:
            running = list(self._running)
        for future in running:
            future.cancel()

    def terminate(self) -> None:
        """End of a ``Parallel`` call: the pool stays (it is the app's), batch sizes reset."""
        self._pool = None
        self.reset_batch_stats()

    # --- internals -----------------------------------------------------------------------------

    def _pool_size(self) -> int:
        if self._given_pool is not None:
            return self._given_pool.workers
        return default_pool().workers

    def _send(self, func: Callable[[], Any]) -> Future[Any]:
        pool = self._pool or self._given_pool or default_pool()
        if not self._by_cloudpickle:
            future = pool.schedule(func, on_progress=self._on_progress)
            # A batch plain pickle cannot send fails its future at once (it never raises from
            # schedule): send it again by cloudpickle, and the rest of this call's batches too.
            if not (future.done() and isinstance(future.exception(0), NotPicklableError)):
                return future
            self._by_cloudpickle = True
        try:
            import cloudpickle  # joblib >= 1.5 depends on it
        except ImportError:  # pragma: no cover - older joblib vendors it
            from joblib.externals import cloudpickle

        payload = cloudpickle.dumps(func)
        return pool.schedule(_call_cloudpickled, (payload,), on_progress=self._on_progress)

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._running.discard(future)

    def __reduce__(self) -> Any:
        # Sent to a worker (as an argument of someone's task), it cannot bring the pool along.
        return (SequentialBackend, ())


class _Relay:
    """Runs joblib's completion callbacks on a thread of its own, waiting on results itself.

    joblib's callback dispatches the call's next batch. Run where the pool settles a future
    nobody waits on (its supervisor thread), that submission waits for the supervisor's next
    turn: measured here, 5 ms per 1,000-item batch. So this thread runs the callbacks, and
    while none is ready it waits in ``exception()`` on the oldest batch: a waiting thread
    reads its reply itself, without waking the supervisor (0.1 ms a round trip here, against
    0.7 ms when the supervisor settles the future and hands it over). A batch still running
    after ``PATIENCE`` is a straggler: the thread then sleeps until any batch completes, so
    later batches' callbacks never wait for it.
    """

    PATIENCE = 0.05

    def __init__(self) -> None:
        self._callbacks: dict[Future[Any], Callable[[Any], object]] = {}
        self._order: collections.deque[Future[Any]] = collections.deque()  # submission order
        self._ready: collections.deque[Future[Any]] = collections.deque()  # completion order
        self._changed = threading.Condition()
        thread = threading.Thread(target=self._run, name="qtcompute-joblib-relay", daemon=True)
        thread.start()

    def watch(self, future: Future[Any], callback: Callable[[Any], object]) -> None:
        """Call ``callback(future)`` on the relay thread once ``future`` is done."""
        with self._changed:
            self._callbacks[future] = callback
            self._order.append(future)
            self._changed.notify()
        future.add_done_callback(self._done)

    def _done(self, future: Future[Any]) -> None:
        with self._changed:
            self._ready.append(future)
            self._changed.notify()

    def _run(self) -> None:
        straggler: Future[Any] | None = None
        while True:
            ready, callback, oldest = self._next(straggler)
            if ready is not None:
                if ready is straggler:
                    straggler = None
                self._call(ready, callback)  # type: ignore[arg-type]
                continue
            try:
                oldest.exception(timeout=self.PATIENCE)  # type: ignore[union-attr]
            except BaseException:  # cancelled, or timed out: either way, look again
                pass
            if not oldest.done():  # type: ignore[union-attr]
                straggler = oldest

    def _next(self, straggler: Future[Any] | None) -> tuple[Any, Any, Any]:
        """``(future, callback, None)`` ready to call, or ``(None, None, oldest)`` to wait on."""
        with self._changed:
            while True:
                if self._ready:
                    future = self._ready.popleft()
                    return future, self._callbacks.pop(future), None
                while self._order and self._order[0] not in self._callbacks:
                    self._order.popleft()  # called already
                if self._order and straggler is None:
                    return None, None, self._order[0]
                self._changed.wait()

    @staticmethod
    def _call(future: Future[Any], callback: Callable[[Any], object]) -> None:
        try:
            callback(future)
        except BaseException:  # joblib's callback records its own errors; never die here
            import logging

            logging.getLogger("qtcompute.joblib").exception("a joblib callback failed")


_relay_instance: _Relay | None = None


def _relay() -> _Relay:
    global _relay_instance
    with _default_lock:
        if _relay_instance is None:
            _relay_instance = _Relay()
        return _relay_instance


def _call_cloudpickled(payload: bytes) -> Any:
    import pickle

    return pickle.loads(payload)()


def _in_worker() -> bool:
    """True inside a qtcompute worker process (while it serves tasks)."""
    import sys

    worker = sys.modules.get("qtcompute.engine._worker")  # never imported just to ask
    return worker is not None and worker.serving()


def register() -> None:
    """Register the back end with joblib as ``"qtcompute"`` (done on import)."""
    joblib.register_parallel_backend(BACKEND_NAME, QtComputeBackend)


register()
