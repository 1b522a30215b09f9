"""Reaching a cluster, and what can be sent to it: the errors a user meets first, said clearly."""

from __future__ import annotations

from typing import Any

import cloudpickle
import distributed

from qtcompute.dask._errors import SchedulerUnreachableError
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
            client = distributed.Client(
                cluster, timeout=timeout, set_as_default=False, security=security
            )
        except (OSError, TimeoutError) as exc:
            raise SchedulerUnreachableError(cluster, timeout, exc) from exc
        return client, True
    if hasattr(cluster, "scheduler_address"):  # distributed.deploy.Cluster: LocalCluster...
        client = distributed.Client(cluster, timeout=timeout, set_as_default=False)
        return client, True
    raise TypeError(
        "DaskPool needs a scheduler address ('tcp://host:8786'), a distributed.Client or a "
        f"cluster object such as distributed.LocalCluster, not {type(cluster).__name__}"
    )


def check_picklable(call: Any) -> None:
    """Raise :class:`NotPicklableError` naming the culprit if ``call`` cannot go to a worker.

    Pickled here, in the caller, so the error comes from ``submit`` (Dask would log it and
    raise a message about its graph). Large buffers are not copied: protocol 5 hands them out.
    """
    try:
        cloudpickle.dumps(call, protocol=5, buffer_callback=_skip)
    except Exception as exc:
        raise NotPicklableError(_describe_culprit(call, exc)) from exc


def _skip(_buffer: Any) -> bool:
    return False  # out of band: the check never copies an array


def _describe_culprit(call: Any, exc: Exception) -> str:
    candidates: list[tuple[str, Any]] = [("the task function", call.fn)]
    candidates += [(f"argument {i + 1}", value) for i, value in enumerate(call.args)]
    candidates += [(f"keyword argument {name!r}", value) for name, value in call.kwargs.items()]
    for label, value in candidates:
        try:
            cloudpickle.dumps(value, protocol=5, buffer_callback=_skip)
        except Exception as problem:
            return (
                f"Cannot send {label} ({_short_repr(value)}) to a Dask worker: "
                f"{type(problem).__name__}: {problem}. {_FIX}"
            )
    return f"Cannot send the task to a Dask worker: {type(exc).__name__}: {exc}. {_FIX}"


def _short_repr(value: Any, limit: int = 60) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
