"""What runs on a Dask worker: one task's call, its progress events, and stopping it.

Workers import this module by name, so they need qtcompute installed (``pip install
"qtcompute[dask]"``), as they need the task's own code (see docs/dask.md, "Code on workers").

- :func:`run_call` runs ``fn(*args, **kwargs)``. It tells the client when the task starts (the
  pid and the worker's address: the task's timeout counts from there) and catches every
  exception itself, packing it the engine's way (``engine._pickling.pack_exception``), so that
  the caller re-raises the original type with the worker's traceback as ``__cause__``, or a
  ``RemoteError`` when the exception cannot travel.
- ``qtcompute.report_progress(value)`` inside the task reaches the client as a Dask event
  (``Worker.log_event`` on the pool's topic, ``Client.subscribe_topic`` on the other side): the
  same worker-to-scheduler-to-client streams that carry the task's completion, so every value
  arrives before the result.
- :class:`StopPlugin` stops a task that the client gave up (``stop()``, a timeout): Dask cannot
  stop a running thread, and a cancelled task would hold its worker's thread until it returns.
  The plugin raises :class:`Stopped` in the task's thread (``PyThreadState_SetAsyncExc``), which
  Python delivers at the task's next bytecode: a Python loop stops at once, a call into native
  code when it returns.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import threading
from types import GeneratorType
from typing import Any

import cloudpickle
from dask.sizeof import sizeof
from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from qtcompute.engine import _worker as engine_worker
from qtcompute.engine._pickling import pack_exception, progress_not_sendable

START = "start"
PROGRESS = "progress"


class Call:
    """One task as the scheduler sees it: bytes, and where its events go.

    The function and its arguments are pickled by the client (cloudpickle) into ``blob`` and
    unpickled only here, on the worker: the scheduler unpickles task graphs, and would
    otherwise need the app's own modules. Large buffers travel beside it, scattered to the
    cluster by Dask (``Scattered`` marks their places)."""

    __slots__ = ("blob", "key", "topic")

    def __init__(self, blob: bytes, topic: str, key: str) -> None:
        self.blob = blob
        self.topic = topic
        self.key = key

    def __reduce__(self) -> tuple[Any, ...]:
        return (Call, (self.blob, self.topic, self.key))


class Scattered:
    """Stands in the pickled arguments for the ``index``-th buffer scattered to the cluster."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __reduce__(self) -> tuple[Any, ...]:
        return (Scattered, (self.index,))


def _unpack(call: Call, buffers: list[Any]) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    fn, args, kwargs = cloudpickle.loads(call.blob)

    def put_back(value: Any) -> Any:
        return buffers[value.index] if type(value) is Scattered else value

    return fn, tuple(map(put_back, args)), {k: put_back(v) for k, v in kwargs.items()}


class Result:
    """A task's return value, as one object for Dask to pickle (protocol 5: arrays inside still
    travel as out-of-band frames, without a copy). Dask serialises a bare list, tuple or dict
    item by item: a ``map`` chunk of 20,000 numbers took 1.5 s instead of 20 ms."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __reduce__(self) -> tuple[Any, ...]:
        return (Result, (self.value,))

    def __sizeof__(self) -> int:  # what the worker counts against its memory limit
        return int(sizeof(self.value))


class TaskFailed(Exception):
    """The task raised; carries the engine's packed ``Failure`` fields (plain bytes and text, so
    it travels even when the original exception cannot)."""

    def __init__(self, failure: tuple[Any, ...]) -> None:
        super().__init__(failure[1], failure[2])
        self.failure = tuple(failure)

    def __reduce__(self) -> tuple[Any, ...]:
        return (TaskFailed, (self.failure,))


class Stopped(BaseException):
    """Raised into a task's thread when the client gave the task up."""


class _Sink:
    """Where one running task's progress goes: an event on its pool's topic."""

    __slots__ = ("key", "topic", "worker")

    def __init__(self, worker: Any, topic: str, key: str) -> None:
        self.worker = worker
        self.topic = topic
        self.key = key

    def send(self, kind: str, **fields: Any) -> None:
        self.worker.log_event(self.topic, {"key": self.key, "kind": kind, **fields})


class _ProgressRouter:
    """Stands where the engine's worker keeps its progress reporter (``report_progress`` calls
    ``.report(value)``), and routes each value to the task of the calling thread. Dask runs
    several tasks per worker process, one per thread; a thread the task started itself has no
    task of its own, and reports for the task when it is the only one running."""

    def __init__(self) -> None:
        self.local = threading.local()

    def report(self, value: Any) -> None:
        sink = getattr(self.local, "sink", None)
        if sink is None:
            with _lock:
                only = list(_sinks.values()) if len(_sinks) == 1 else []
            if not only:
                return  # as outside a task: nothing to report to
            sink = only[0]
        try:
            data = pickle.dumps(value, protocol=5)
        except Exception as exc:
            raise progress_not_sendable(value, exc) from exc
        sink.send(PROGRESS, value=data)


_lock = threading.Lock()
_threads: dict[str, int] = {}  # key of a running task -> id of the thread running it
_sinks: dict[str, _Sink] = {}
_router = _ProgressRouter()


def _install_router() -> None:
    # report_progress() in a Dask worker goes to the client of the task that reported.
    engine_worker.set_progress_sink(_router)


def run_call(call: Call, buffers: list[Any]) -> Any:
    """Run one task on this Dask worker: its :class:`Result`, or :class:`TaskFailed`."""
    worker = get_worker()
    _install_router()
    sink = _Sink(worker, call.topic, call.key)
    sink.send(START, pid=os.getpid(), worker=worker.address)
    _router.local.sink = sink
    try:
        try:
            with _lock:
                _threads[call.key] = threading.get_ident()
                _sinks[call.key] = sink
            fn, args, kwargs = _unpack(call, buffers)  # a module missing here fails the task
            value = fn(*args, **kwargs)
            if type(value) is GeneratorType:
                value = _drain(value)
        finally:
            with _lock:
                _threads.pop(call.key, None)
                _sinks.pop(call.key, None)
            _deliver_pending_stop()
    except Stopped:
        return Result(None)  # the client settled the task already; nobody reads this
    except BaseException as exc:  # the caller decides what an exception means, as in the engine
        raise TaskFailed(tuple(pack_exception(exc))) from None
    finally:
        _router.local.sink = None
    return Result(value)


def _drain(generator: Any) -> Any:
    """A generator task: each yielded value is progress, its return value the result."""
    while True:
        try:
            _router.report(next(generator))
        except StopIteration as stop:
            return stop.value


def _deliver_pending_stop() -> None:
    # A Stopped set just before the task left _threads is raised at the next bytecode check
    # (a backward jump is one on every Python version): here, inside run_call's handler, never
    # later in Dask's own code.
    for _ in range(2):
        pass


def stop_thread_of(key: str) -> bool:
    """Raise :class:`Stopped` in the thread running task ``key``, if it runs here."""
    with _lock:
        thread_id = _threads.pop(key, None)
        if thread_id is None:
            return False
        _sinks.pop(key, None)
        done = ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread_id), ctypes.py_object(Stopped)
        )
    return done == 1


class StopPlugin(WorkerPlugin):
    """Stops the task of a key the scheduler released while it was executing here."""

    idempotent = True
    name = "qtcompute-stop"

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if start in ("executing", "long-running") and finish in ("released", "cancelled"):
            stop_thread_of(key)
