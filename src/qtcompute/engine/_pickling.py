"""Pickling with errors that say which object failed and what to do about it.

Owns :func:`dumps_task` (a task's pickle, with the argument that cannot travel named) and
exceptions packed with their traceback for the way back (:func:`pack_exception`,
:func:`unpack_exception`). See ``docs/engine.md``, "Bad input".
"""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable
from typing import Any

from qtcompute.engine._messages import PROTOCOL, Body, Failure, encode_task
from qtcompute.engine._shm import SegmentCache
from qtcompute.engine.errors import NotPicklableError, RemoteError, RemoteTraceback

_QT_MODULES = ("PyQt5", "PyQt6", "PySide2", "PySide6", "shiboken", "sip", "qtpy")

_FIX = (
    "Worker processes receive tasks by pickle: pass a function defined at module level (not a "
    "lambda, a nested function or a method of a Qt object) and plain data arguments (numbers, "
    "strings, lists, dicts, NumPy arrays)."
)


def dumps_task(
    fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], cache: SegmentCache | None = None
) -> Body:
    """Pickle a task (large arrays into shared memory), or raise :class:`NotPicklableError`
    naming the culprit."""
    try:
        return encode_task(fn, args, kwargs, cache)
    except Exception as exc:
        raise NotPicklableError(_describe_culprit(fn, args, kwargs, exc)) from exc


def _describe_culprit(
    fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], exc: Exception
) -> str:
    return describe_culprit(fn, args, kwargs, exc, why=_why_unpicklable)


def describe_culprit(
    fn: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    exc: Exception,
    *,
    why: Callable[[Any], str | None],
    destination: str = "a worker process",
    fix: str = _FIX,
) -> str:
    """What a :class:`NotPicklableError` says: the first of the function and its arguments that
    ``why`` cannot send (``why`` returns the reason, or None), else ``exc`` with ``fix``. Shared
    with :mod:`qtcompute.dask`, which sends by cloudpickle to ``destination="a Dask worker"``."""
    candidates: list[tuple[str, Any]] = [("the task function", fn)]
    candidates += [(f"argument {i + 1}", value) for i, value in enumerate(args)]
    candidates += [(f"keyword argument {name!r}", value) for name, value in kwargs.items()]
    for label, value in candidates:
        problem = why(value)
        if problem is not None:
            return f"Cannot send {label} ({short_repr(value)}) to {destination}: {problem}"
    return f"Cannot send the task to {destination}: {type(exc).__name__}: {exc}. {fix}"


def progress_not_sendable(value: Any, exc: Exception) -> TypeError:
    """The error ``report_progress(value)`` raises in the task when ``value`` cannot travel."""
    return TypeError(
        f"report_progress() got a {type(value).__qualname__} that cannot be sent to the "
        f"caller ({type(exc).__name__}: {exc}). Report plain data: a number, a string, "
        "a short tuple."
    )


def _why_unpicklable(value: Any) -> str | None:
    try:
        pickle.dumps(value, protocol=PROTOCOL)
    except Exception as exc:
        pass_exc: Exception = exc
    else:
        return None
    module = getattr(type(value), "__module__", "") or ""
    qualname = getattr(value, "__qualname__", "") or ""
    if module.split(".")[0] in _QT_MODULES or _is_qt_bound_method(value):
        return (
            "Qt objects live in the GUI process and cannot be copied to another process. Send "
            "plain data instead and update widgets from the result in the GUI thread. " + _FIX
        )
    if getattr(value, "__name__", "") == "<lambda>":
        return "it is a lambda, which pickle cannot send. " + _FIX
    if "<locals>" in qualname:
        return f"{qualname} is defined inside another function, which pickle cannot send. " + _FIX
    return f"{type(pass_exc).__name__}: {pass_exc}. {_FIX}"


def _is_qt_bound_method(value: Any) -> bool:
    owner = getattr(value, "__self__", None)
    if owner is None:
        return False
    return any(
        (getattr(klass, "__module__", "") or "").split(".")[0] in _QT_MODULES
        for klass in type(owner).__mro__
    )


def short_repr(value: Any, limit: int = 60) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- exceptions across the process boundary ---------------------------------------------------


def pack_exception(exc: BaseException) -> Failure:
    """Everything the caller needs to re-raise ``exc``, even if ``exc`` itself cannot travel."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    type_name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    try:
        data: bytes | None = pickle.dumps(exc, protocol=PROTOCOL)
        # Some exceptions pickle but cannot be unpickled (an __init__ with required arguments
        # that it does not pass to super()); find out here, where we can still fall back.
        pickle.loads(data)
    except Exception:
        data = None
    try:
        message = str(exc)
    except Exception:
        message = "<the exception's message could not be formatted>"
    return Failure(data, type_name, message, tb)


def unpack_exception(failure: Failure) -> BaseException:
    """The exception to raise in the caller, with the worker's traceback chained as its cause."""
    exc: BaseException | None = None
    if failure.exception is not None:
        try:
            exc = pickle.loads(failure.exception)
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        exc = RemoteError(failure.type_name, failure.message)
    exc.__cause__ = RemoteTraceback(failure.traceback)
    return exc
