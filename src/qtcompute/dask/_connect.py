"""Reaching a cluster, and what can be sent to it: the errors a user meets first, said clearly."""

from __future__ import annotations

import traceback
from contextlib import suppress
from types import TracebackType
from typing import Any

import cloudpickle
import distributed

from qtcompute.dask._errors import SchedulerUnreachableError
from qtcompute.dask._remote import Scattered
from qtcompute.engine._pickling import describe_culprit
from qtcompute.engine.errors import NotPicklableError

_FIX = (
    "Dask workers receive tasks by cloudpickle: functions of your app's __main__ travel by "
    "value, functions of installed modules by name (the module must be importable on every "
    "worker; see docs/dask.md, 'Code on workers'). Pass plain data arguments (numbers, "
    "strings, lists, dicts, NumPy arrays), not open files, locks, sockets or Qt objects."
)


def client_for(cluster: Any, timeout: float, security: Any) -> tuple[distributed.Client, bool]:
    """The client to use for ``cluster``, and whether the pool made it (and so closes it)."""
    if isinstance(cluster, distributed.Client):
        if security is not None:
            raise ValueError("security= applies to an address; this Client is connected already")
        return cluster, False
    if isinstance(cluster, str):
        try:
            client = _new_client(cluster, timeout=timeout, security=security)
        except (OSError, TimeoutError) as exc:
            raise SchedulerUnreachableError(cluster, timeout, exc) from exc
        except TypeError as exc:  # a tls:// address and no certificates: "TLS expects..."
            if "TLS" not in str(exc):
                raise
            raise SchedulerUnreachableError(cluster, timeout, exc) from exc
        return client, True
    if hasattr(cluster, "scheduler_address"):  # distributed.deploy.Cluster: LocalCluster...
        return _new_client(cluster, timeout=timeout), True
    raise TypeError(
        "DaskPool needs a scheduler address ('tcp://host:8786'), a distributed.Client or a "
        f"cluster object such as distributed.LocalCluster, not {type(cluster).__name__}"
    )


def _new_client(target: Any, **options: Any) -> distributed.Client:
    try:
        return distributed.Client(target, set_as_default=False, **options)
    except BaseException as exc:
        _close_half_built(exc.__traceback__)
        raise


def _close_half_built(tb: TracebackType | None) -> None:
    """Close the ``Client`` whose ``__init__`` raised, now, in this thread.

    A client that failed to connect has started its IO-loop thread already, and only the
    traceback still refers to it. Left to the garbage collector, its ``__del__`` closes it
    synchronously wherever the collection happens to run (another client's IO loop, a Qt
    slot) and blocks there for twice the connect timeout: the next ``Client`` then fails to
    start its loop ("assert loop is not None"). So the half-built client is closed here and
    the traceback's frames are cleared, which leaves nothing for the collector to finalise.
    """
    walk = tb
    while walk is not None:
        half_built = walk.tb_frame.f_locals.get("self")
        if isinstance(half_built, distributed.Client):
            with suppress(Exception):  # it never connected: closing it can only stop its loop
                half_built.close(timeout=5)
            # A client refused by TLS marks itself closed but leaves its loop thread running,
            # and close() then returns at once: stop the loop (a no-op once stopped).
            runner = getattr(half_built, "_loop_runner", None)
            if runner is not None:
                with suppress(Exception):
                    runner.stop()
            break
        walk = walk.tb_next
    traceback.clear_frames(tb)


def pack(
    client: distributed.Client, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[bytes, list[Any]]:
    """Pickle a task for :class:`~qtcompute.dask._remote.Call`; scatter its large buffers.

    Pickled here, in the caller, so that a bad argument raises :class:`NotPicklableError`
    naming the culprit from ``submit`` (Dask would log it and blame its graph). Arguments of
    1 MiB and more (NumPy arrays, bytes) go to the cluster with ``Client.scatter`` instead: Dask's
    serialisation, without a copy into the pickle, straight to a worker when the client may
    reach workers (otherwise through the scheduler). Returns the pickle and their futures.
    """
    large: list[Any] = []

    def set_aside(value: Any) -> Any:
        if not _is_large_buffer(value):
            return value
        large.append(value)
        return Scattered(len(large) - 1)

    packed_args = tuple(map(set_aside, args))
    packed_kwargs = {name: set_aside(value) for name, value in kwargs.items()}
    try:
        blob = cloudpickle.dumps((fn, packed_args, packed_kwargs), protocol=5)
    except Exception as exc:
        raise NotPicklableError(_describe_culprit(fn, args, kwargs, exc)) from exc
    return blob, (client.scatter(large, hash=False) if large else [])


def _skip(_buffer: Any) -> bool:
    return False  # out of band: the check never copies an array


def _describe_culprit(
    fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], exc: Exception
) -> str:
    return describe_culprit(
        fn, args, kwargs, exc, why=_why_not_cloudpicklable, destination="a Dask worker", fix=_FIX
    )


def _why_not_cloudpicklable(value: Any) -> str | None:
    try:
        cloudpickle.dumps(value, protocol=5, buffer_callback=_skip)
    except Exception as problem:
        return f"{type(problem).__name__}: {problem}. {_FIX}"
    return None


SCATTER_NBYTES = 1 << 20  # as the engine's shared-memory threshold


def _is_large_buffer(value: Any) -> bool:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value) >= SCATTER_NBYTES
    nbytes = getattr(value, "nbytes", None)
    return (
        type(value).__module__ == "numpy" and isinstance(nbytes, int) and nbytes >= SCATTER_NBYTES
    )
