"""The wire protocol between the pool and its workers.

Every frame on a worker's pipe is ``task id (8 bytes) + message kind (1 byte) + pickle of the
message's fields``. The id comes first and outside the pickle so that a frame whose pickle cannot
be loaded (a poison argument, a result class the parent cannot import) still names the task it
belongs to, and that task alone fails. Id 0 marks control frames that belong to no task.

Messages are NamedTuples: immutable and typed like frozen dataclasses, and their fields pickle as
a plain tuple. The class travels as the kind byte, not by name: pickling a class reference costs
ten times more than the tuple, and that would be most of a tiny task's round trip.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any, NamedTuple

PROTOCOL = 5
CONTROL = 0
_HEADER = struct.Struct("<QB")
HEADER_SIZE = _HEADER.size


# --- parent -> worker ------------------------------------------------------------------------
# RunTask is defined below, with the table of kinds.


class Stop(NamedTuple):
    """Finish the current loop iteration and exit with code 0 (the seed's ``EXIT`` sentinel)."""


class Ping(NamedTuple):
    """Answer with ``Pong(nonce)``: proves the worker's loop is alive."""

    nonce: int


# --- worker -> parent ------------------------------------------------------------------------


class Ready(NamedTuple):
    """The worker started and its initializer succeeded; it takes tasks from now on."""

    pid: int


class InitFailed(NamedTuple):
    """The initializer raised; the text is its formatted traceback."""

    pid: int
    traceback: str


class Result(NamedTuple):
    """The task returned ``value``."""

    value: Any


class Failure(NamedTuple):
    """The task raised.

    ``exception`` is the pickled exception, or None when it could not be pickled; the type name,
    message and traceback text travel separately so the caller learns what happened regardless.
    """

    exception: bytes | None
    type_name: str
    message: str
    traceback: str


class Progress(NamedTuple):
    """Progress values reported by the running task since the last Progress frame, in order."""

    values: tuple[Any, ...]


class Output(NamedTuple):
    """Text the worker wrote to a stream it did not have (``sys.stdout is None``)."""

    stream: str
    text: str


class Pong(NamedTuple):
    nonce: int


class RunTask(NamedTuple):
    """Run ``function(*args, **kwargs)``; pickled once, at submit, in the caller's thread."""

    function: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


_KINDS: tuple[type[Any], ...] = (
    RunTask,
    Stop,
    Ping,
    Ready,
    InitFailed,
    Result,
    Failure,
    Progress,
    Output,
    Pong,
)
_KIND_OF = {cls: kind for kind, cls in enumerate(_KINDS)}
TASK_KIND = _KIND_OF[RunTask]


def encode(task_id: int, message: Any) -> bytes:
    return _HEADER.pack(task_id, _KIND_OF[type(message)]) + pickle.dumps(
        tuple(message), protocol=PROTOCOL
    )


def encode_payload(task_id: int, kind: int, payload: bytes) -> bytes:
    """A frame around fields pickled beforehand (tasks are pickled at submit, in the caller)."""
    return _HEADER.pack(task_id, kind) + payload


def task_id_of(frame: bytes) -> int:
    return _HEADER.unpack_from(frame)[0]


def decode(frame: bytes) -> Any:
    _task_id, kind = _HEADER.unpack_from(frame)
    fields = pickle.loads(memoryview(frame)[HEADER_SIZE:])
    return _KINDS[kind]._make(fields)
