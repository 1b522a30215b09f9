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

from qtcompute.engine import _shm

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


# A kind byte with this bit set is followed by the shared-memory segments that hold the
# message's large buffers (see _shm): a 4-byte length and the pickled list of (name, size).
_OUT_OF_BAND = 0x80
_LENGTH = struct.Struct("<I")


class Body(NamedTuple):
    """A message pickled, ready to be framed with a task id."""

    kind: int
    data: bytes
    segments: list[str]
    """Names of the shared-memory segments it refers to (released if it is never delivered)."""


def encode_body(message_type: type[Any], fields: tuple[Any, ...], out_of_band: bool) -> Body:
    """Pickle ``fields``; with ``out_of_band``, large buffers go to shared memory."""
    kind = _KIND_OF[message_type]
    if not (out_of_band and _shm.AVAILABLE):
        return Body(kind, pickle.dumps(fields, protocol=PROTOCOL), [])
    outgoing = _shm.Outgoing()
    try:
        data = pickle.dumps(fields, protocol=PROTOCOL, buffer_callback=outgoing)
    except BaseException:
        outgoing.discard()
        raise
    if not outgoing.segments:
        return Body(kind, data, [])
    table = pickle.dumps(outgoing.segments, protocol=PROTOCOL)
    names = [name for name, _size in outgoing.segments]
    return Body(kind | _OUT_OF_BAND, _LENGTH.pack(len(table)) + table + data, names)


def frame(task_id: int, body: Body) -> bytes:
    return _HEADER.pack(task_id, body.kind) + body.data


def encode(task_id: int, message: Any, *, out_of_band: bool = False) -> bytes:
    return frame(task_id, encode_body(type(message), tuple(message), out_of_band))


def task_id_of(frame: bytes) -> int:
    return _HEADER.unpack_from(frame)[0]


def decode(frame: bytes) -> Any:
    """The message in ``frame``; its shared-memory segments are mapped and unlinked."""
    _task_id, kind = _HEADER.unpack_from(frame)
    view = memoryview(frame)[HEADER_SIZE:]
    if kind & _OUT_OF_BAND:
        kind &= ~_OUT_OF_BAND
        (size,) = _LENGTH.unpack_from(view)
        segments = pickle.loads(view[_LENGTH.size : _LENGTH.size + size])
        buffers = _shm.attach(segments)
        fields = pickle.loads(view[_LENGTH.size + size :], buffers=buffers)
    else:
        fields = pickle.loads(view)
    return _KINDS[kind]._make(fields)


def release(frame: bytes) -> None:
    """Unlink the segments of a frame that will never be decoded (its task already ended)."""
    _task_id, kind = _HEADER.unpack_from(frame)
    if kind & _OUT_OF_BAND:
        view = memoryview(frame)[HEADER_SIZE:]
        (size,) = _LENGTH.unpack_from(view)
        segments = pickle.loads(view[_LENGTH.size : _LENGTH.size + size])
        _shm.release([name for name, _size in segments])
