"""``DaskPool``: ``qtcompute.Pool``'s interface on a Dask cluster (see the package docstring)."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import itertools
import logging
import os
import pickle
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

from qtcompute.dask import _require_distributed

_require_distributed()

import distributed  # noqa: E402  (after the install hint)

from qtcompute.dask import _connect  # noqa: E402
from qtcompute.dask._errors import SchedulerLostError, killed_worker_error  # noqa: E402
from qtcompute.dask._future import DaskFuture  # noqa: E402
from qtcompute.dask._remote import (  # noqa: E402
    PROGRESS,
    START,
    Call,
    StopPlugin,
    TaskFailed,
    run_call,
)
from qtcompute.dask._watchdog import SchedulerWatchdog  # noqa: E402
from qtcompute.engine import PoolStats  # noqa: E402
from qtcompute.engine._messages import Failure  # noqa: E402
from qtcompute.engine._pickling import unpack_exception  # noqa: E402
from qtcompute.engine._pool import _results_in_order, _run_chunk, check_timeout  # noqa: E402
from qtcompute.engine.errors import (  # noqa: E402
    NotPicklableError,
    PoolShutdownError,
    TaskTimeoutError,
)

log = logging.getLogger("qtcompute.dask")

T = TypeVar("T")

_DEFAULT_TIMEOUT: Any = object()
_LOST_REASON = "scheduler-connection-lost"


class _Task:
    """The pool's record of one task: its two futures and its timeout."""

    __slots__ = ("dask_future", "future", "timeout", "timer")

    def __init__(self, future: DaskFuture[Any], timeout: float | None) -> None:
        self.future = future
        self.timeout = timeout
        self.dask_future: distributed.Future | None = None
        self.timer: Any = None  # the loop's handle of the armed timeout


class DaskPool(Executor):
    """Run tasks on a Dask cluster through ``qtcompute.Pool``'s interface.

    Parameters
    ----------
    cluster:
        Where the scheduler is: its address (``"tcp://10.0.0.5:8786"``, ``"tls://..."``), a
        ``distributed.Client`` you made (the pool uses it and never closes it), or a cluster
        object such as ``distributed.LocalCluster`` (the pool connects its own client; the
        cluster stays yours). :meth:`local` starts a ``LocalCluster`` that the pool owns.
    task_timeout:
        Default limit in seconds for each task, counted from when it starts on a worker. A task
        over its limit fails with :class:`~qtcompute.errors.TaskTimeoutError` and is stopped on
        its worker. ``schedule(..., timeout=)`` overrides it per task.
    connect_timeout:
        Seconds to wait for the scheduler when connecting, and, once connected, for a lost
        connection to come back before the client gives up (Dask's client ``timeout``).
    scheduler_timeout:
        Seconds the scheduler may go without answering while tasks are pending; then they fail
        with :class:`~qtcompute.dask.SchedulerLostError`. A scheduler that closes its connection
        (stopped, crashed) fails them at once.
    heartbeat:
        Seconds between two checks that the scheduler answers (only while tasks are pending).
    security:
        A ``distributed.security.Security`` (TLS certificates) for an address; see docs/dask.md.

    Every submitted task ends exactly once: with its result, its exception (the worker's
    traceback chained as ``__cause__``), cancelled, ``TaskTimeoutError``, ``WorkerCrashedError``
    (Dask's ``KilledWorker``: the workers that ran it died, as often as the scheduler allows;
    a task whose worker died fewer times is run again by Dask) or ``SchedulerLostError``.
    """

    def __init__(
        self,
        cluster: str | distributed.Client | Any,
        *,
        task_timeout: float | None = None,
        connect_timeout: float = 10.0,
        scheduler_timeout: float = 10.0,
        heartbeat: float = 1.0,
        security: Any = None,
    ) -> None:
        check_timeout(task_timeout)
        for name, value in (
            ("connect_timeout", connect_timeout),
            ("scheduler_timeout", scheduler_timeout),
            ("heartbeat", heartbeat),
        ):
            check_timeout(value, name)
        self._client, self._owns_client = _connect.client_for(cluster, connect_timeout, security)
        self._owned_cluster: Any = None
        self._address: str = self._client.scheduler.address
        self._task_timeout = task_timeout
        self._key_prefix = uuid.uuid4().hex  # keys unique across every client of the cluster
        self._key_numbers = itertools.count()
        self._topic = f"qtcompute-{self._key_prefix}"
        self._lock = threading.Lock()
        self._tasks: dict[str, _Task] = {}
        self._closed = False
        try:
            self._client.register_plugin(StopPlugin(), name=StopPlugin.name)
            self._client.subscribe_topic(self._topic, self._on_event)
        except BaseException:
            self._close_client()
            raise
        self._watchdog = SchedulerWatchdog(
            self._client,
            heartbeat=heartbeat,
            timeout=scheduler_timeout,
            busy=lambda: bool(self._tasks),
            on_silence=self._scheduler_silent,
        )

    @classmethod
    def local(cls, workers: int = 2, *, threads_per_worker: int = 1, **options: Any) -> DaskPool:
        """A pool on a new ``LocalCluster`` of ``workers`` processes, shut down with the pool.

        For trying a cluster on one machine (the demos' ``--local-cluster N``). ``options``
        go to ``DaskPool`` (``task_timeout``...) or, prefixed ``cluster_``, to ``LocalCluster``
        (``cluster_memory_limit="2GB"``).
        """
        from qtcompute.freeze import before_pool_start

        before_pool_start()  # a frozen app's worker child must not start a cluster of its own
        cluster_options = {
            key.removeprefix("cluster_"): options.pop(key)
            for key in list(options)
            if key.startswith("cluster_")
        }
        cluster_options.setdefault("dashboard_address", ":0")  # any free port: never a clash
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            **cluster_options,
        )
        try:
            pool = cls(cluster, **options)
        except BaseException:
            cluster.close()
            raise
        pool._owned_cluster = cluster
        return pool

    # --- the Executor interface ----------------------------------------------------------------

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> DaskFuture[T]:
        """Run ``fn(*args, **kwargs)`` on a Dask worker; return its future at once.

        If the function or an argument cannot be sent to a worker, the future fails at once
        with :class:`~qtcompute.errors.NotPicklableError` (a ``TypeError`` and a
        ``pickle.PicklingError``), as :class:`~qtcompute.Pool`'s does.
        """
        return self.schedule(fn, args, kwargs, timeout=self._task_timeout)

    def schedule(
        self,
        fn: Callable[..., T],
        args: Iterable[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        timeout: float | None = _DEFAULT_TIMEOUT,
        on_progress: Callable[[Any], object] | None = None,
    ) -> DaskFuture[T]:
        """Like :meth:`submit`, with options: a per-task ``timeout`` (seconds of running time;
        ``None`` for none) and an ``on_progress`` callback subscribed before the task can start.
        """
        if timeout is _DEFAULT_TIMEOUT:
            timeout = self._task_timeout
        check_timeout(timeout)
        if not callable(fn):
            raise TypeError(f"the task must be callable, not {type(fn).__name__}")
        self._check_open()
        key = f"{_name_of(fn)}-{self._key_prefix}-{next(self._key_numbers)}"
        future: DaskFuture[T] = DaskFuture(key, self)
        if on_progress is not None:
            future.add_progress_callback(on_progress)
        task = _Task(future, timeout)
        with self._lock:
            self._check_open()
            self._tasks[key] = task
        try:
            blob, buffers = _connect.pack(self._client, fn, tuple(args), dict(kwargs or {}))
        except NotPicklableError as error:
            # The future fails with it, as Pool's and ProcessPoolExecutor's do: raising here
            # would abort a PyQt5 app from the slot that submitted. The tracebacks hold the
            # frames that hold the arguments: drop them, the message names the culprit.
            with self._lock:
                self._tasks.pop(key, None)
            error.__traceback__ = None
            if error.__cause__ is not None:
                error.__cause__.__traceback__ = None
            future._settle(None, error)
            return future
        except BaseException:
            with self._lock:
                self._tasks.pop(key, None)
            raise
        # Dask's own submit (graph, tokens, serialisation: about 0.3 ms) runs in the client's
        # loop thread, not here: a GUI that submits 48 tiles in one slot would stall 15-40 ms.
        self._client.loop.add_callback(
            self._submit_and_follow, task, Call(blob, self._topic, key), buffers
        )
        return future

    def map(
        self,
        fn: Callable[..., T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int | None = None,
    ) -> Iterator[T]:
        """``Executor.map``, with items sent in chunks (as ``Pool.map``): ``chunksize=None``
        picks a size from the number of items and of worker threads; results come in order."""
        items = list(zip(*iterables, strict=False))
        if chunksize is None:
            chunksize = max(1, min(len(items) // (max(self.workers, 1) * 16), 1000))
        if chunksize < 1:
            raise ValueError(f"chunksize must be >= 1, not {chunksize}")
        chunks = [tuple(items[i : i + chunksize]) for i in range(0, len(items), chunksize)]
        end_time = None if timeout is None else time.monotonic() + timeout
        futures = [self.submit(_run_chunk, fn, chunk) for chunk in chunks]
        return _results_in_order(futures, end_time)  # type: ignore[arg-type]

    def shutdown(
        self, wait: bool = True, *, cancel_futures: bool = False, stop_running: bool = False
    ) -> None:
        """No new tasks; disconnect once the submitted ones are done.

        ``cancel_futures`` cancels tasks that have not started; ``stop_running`` also stops the
        running ones (their futures end cancelled). Without ``wait``, the pool disconnects in a
        background thread once its last task ended. The client is closed only if the pool made
        it, the cluster only if :meth:`local` started it. Safe to call more than once.
        """
        with self._lock:
            first = not self._closed
            self._closed = True
            tasks = list(self._tasks.values())
        for task in tasks:
            if stop_running:
                task.future.stop()
            elif cancel_futures:
                task.future.cancel()
        if not first:
            if wait:
                cf.wait([task.future for task in tasks])
            return
        if wait:
            self._disconnect([task.future for task in tasks])
        else:
            threading.Thread(  # not a daemon: the interpreter waits for it at exit
                target=self._disconnect,
                args=([task.future for task in tasks],),
                name="qtcompute-dask-shutdown",
            ).start()

    def __enter__(self) -> DaskPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown(wait=True)

    # --- beyond the Executor interface -----------------------------------------------------

    @property
    def client(self) -> distributed.Client:
        """The Dask client (for the dashboard link, ``client.run``, Dask collections)."""
        return self._client

    @property
    def address(self) -> str:
        """The scheduler's address."""
        return self._address

    @property
    def workers(self) -> int:
        """Tasks the cluster runs at once now: the threads of all its workers."""
        return sum(self._client.nthreads().values())

    def pids(self) -> list[int]:
        """Process ids of the cluster's workers (each answers; on other machines too)."""
        return sorted(self._client.run(os.getpid).values())

    def stats(self) -> PoolStats:
        """A snapshot in ``Pool.stats()``'s shape: ``workers`` and ``alive`` count the worker
        threads of the cluster (tasks it runs at once), ``busy`` and ``pending`` this pool's
        running and waiting tasks. Crashes and restarts are the cluster's business (its
        dashboard shows them): always 0 here."""
        threads = self.workers
        with self._lock:
            futures = [task.future for task in self._tasks.values()]
        busy = sum(1 for future in futures if future.running())
        return PoolStats(threads, threads, busy, len(futures) - busy, 0, 0)

    def __repr__(self) -> str:
        state = "shut down" if self._closed else "open"
        return f"<qtcompute.dask.DaskPool {self._address} {state} tasks={len(self._tasks)}>"

    # --- the client's event loop: outcomes, events, timeouts ---------------------------------

    async def _submit_and_follow(self, task: _Task, call: Call, buffers: list[Any]) -> None:
        """Submit the task to the cluster, then settle our future with its outcome."""
        if task.future.done():
            return  # cancelled before it reached the cluster
        try:
            task.dask_future = self._client.submit(
                run_call, call, buffers, key=call.key, pure=False
            )
        except Exception as exc:  # the client closed meanwhile
            self._finish(task, None, exc)
            return
        if task.future.done():  # cancelled while we submitted: nobody cancelled it there
            await self._cancel_on_cluster(task)
            return
        await self._follow(task)

    async def _follow(self, task: _Task) -> None:
        """Wait for the Dask future in the client's loop, then settle ours with its outcome."""
        value: Any = None
        error: BaseException | None = None
        try:
            value = (await self._client.gather(task.dask_future, asynchronous=True)).value
        except TaskFailed as failed:
            error = unpack_exception(Failure(*failed.failure))
        except distributed.KilledWorker as killed:
            error = killed_worker_error(task.future.key, str(killed))
        except (asyncio.CancelledError, cf.CancelledError) as cancelled:
            if _LOST_REASON in _cancel_reasons(cancelled):
                error = SchedulerLostError(self._address, "the connection to it closed")
            elif task.future._set_stopped():  # cancelled on the cluster by someone else
                log.info("task %s was cancelled on the cluster", task.future.key)
        except Exception as other:  # a comm error fetching the result, a closed client...
            error = other
        self._finish(task, value, error)

    def _finish(self, task: _Task, value: Any, error: BaseException | None) -> None:
        with self._lock:
            self._tasks.pop(task.future.key, None)
        if task.timer is not None:
            self._client.loop.remove_timeout(task.timer)
            task.timer = None
        task.future._settle(value, error)
        task.dask_future = None  # the cluster may forget the result now

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        message = event[1]
        task = self._tasks.get(message.get("key", ""))
        if task is None:
            return  # settled already (stopped, timed out): late news
        kind = message.get("kind")
        if kind == PROGRESS:
            try:
                value = pickle.loads(message["value"])
            except Exception:
                log.exception("a progress value of task %s could not be read", task.future.key)
                return
            task.future._report_progress((value,))
        elif kind == START:
            task.future._started(message.get("pid"), message.get("worker"))
            if task.timeout is not None:
                if task.timer is not None:  # run again after its worker died: a new start
                    self._client.loop.remove_timeout(task.timer)
                task.timer = self._client.loop.call_later(task.timeout, self._time_out, task)

    def _time_out(self, task: _Task) -> None:
        task.timer = None
        future = task.future
        error = TaskTimeoutError(
            f"Task {future.key} ran longer than its timeout of {task.timeout:g} s, so it was "
            f"stopped on its Dask worker {future.worker} (pid {future.pid}). Raise the timeout, "
            "or split the work into smaller tasks.",
            timeout=task.timeout,
        )
        if future._settle(None, error):
            self._forget(future)

    # --- giving tasks up ---------------------------------------------------------------------

    def _forget(self, future: DaskFuture[Any]) -> None:
        """Our future is settled without the cluster (cancel, stop, timeout): cancel its task."""
        with self._lock:
            task = self._tasks.pop(future.key, None)
        if task is None or task.dask_future is None:
            return
        self._client.loop.add_callback(self._cancel_on_cluster, task)

    async def _cancel_on_cluster(self, task: _Task) -> None:
        if task.timer is not None:
            self._client.loop.remove_timeout(task.timer)
            task.timer = None
        dask_future, task.dask_future = task.dask_future, None
        if dask_future is None:
            return
        try:
            await self._client.cancel(
                [dask_future], asynchronous=True, force=True, reason="stopped by qtcompute"
            )
        except Exception:  # the client is closing or lost its scheduler: nothing runs anyway
            log.debug("cancelling task %s on the cluster failed", task.future.key, exc_info=True)

    def _fail_all(self, error_for: Callable[[], BaseException]) -> None:
        with self._lock:
            tasks = list(self._tasks.values())
        for task in tasks:
            if task.future._settle(None, error_for()):
                self._forget(task.future)

    def _scheduler_silent(self, seconds: float) -> None:
        self._fail_all(
            lambda: SchedulerLostError(self._address, f"it did not answer for {seconds:.0f} s")
        )

    # --- closing ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise PoolShutdownError("cannot schedule new tasks after shutdown()")
        if self._client.status in ("closing", "closed"):
            raise SchedulerLostError(self._address, "the Dask client is closed")

    def _disconnect(self, futures: list[DaskFuture[Any]]) -> None:
        cf.wait(futures)
        self._watchdog.stop()
        try:
            self._client.unsubscribe_topic(self._topic)
        except Exception:
            log.debug("unsubscribing from %s failed", self._topic, exc_info=True)
        self._close_client()

    def _close_client(self) -> None:
        if self._owns_client:
            self._client.close()
        if self._owned_cluster is not None:
            self._owned_cluster.close()
            self._owned_cluster = None


def _cancel_reasons(error: BaseException) -> set[str]:
    """The reasons Dask gives for cancelling (one future, or a group of them)."""
    reasons = {getattr(error, "reason", "") or ""}
    for group in getattr(error, "error_groups", ()) or ():
        reasons.add(getattr(group, "reason", "") or "")
    if _LOST_REASON in str(error):
        reasons.add(_LOST_REASON)
    return reasons


def _name_of(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "task"
