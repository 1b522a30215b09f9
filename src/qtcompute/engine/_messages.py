"""The frames between the pool and its workers: their format (``task id + kind + pickle of the
fields``, id 0 for control frames) and the message kinds, as NamedTuples sent as plain tuples.

Why this format: ``docs/engine.md``, "Frames".
"""

from __future__ import annotations

import pickle
import struct
import types
from collections.abc import Callable
from typing import Any, NamedTuple

from qtcompute.engine import _shm

PROTOCOL = 5
CONTROL = 0
_HEADER = struct.Struct("<QB")
HEADER_SIZE = _HEADER.size
SMALL_FRAME = 4096  # below this, parts of a frame are sliced (copied) rather than viewed


# --- parent -> worker ------------------------------------------------------------------------
# RunTask is defined below, with the table of kinds.


class Stop(NamedTuple):
    """Finish the current loop iteration and exit with code 0 (the worker loop's ``EXIT``)."""


class Ping(NamedTuple):
    """Answer with ``Pong(nonce)``: proves the worker's loop is alive."""

    nonce: int


class UseDirectCopy(NamedTuple):
    """The pool can read this worker's memory (its probe read back): send large results by
    address from now on (see ``_vm``)."""


class LogLevels(NamedTuple):
    """The parent's logging levels changed: take them (see ``_worker_logging``)."""

    levels: Any


class Release(NamedTuple):
    """The pool has copied the large buffers of the result of this frame's task: drop them."""


# --- worker -> parent ------------------------------------------------------------------------


class Ready(NamedTuple):
    """The worker started and its initializer succeeded; it takes tasks from now on.

    ``probe`` is the address of a known token in the worker's memory, and the token (Linux):
    reading it back tells the pool whether it may copy results from there (see ``_vm``)."""

    pid: int
    probe: tuple[int, bytes] | None = None


class Released(NamedTuple):
    """The task has ended and the worker unmapped these pooled argument segments: the pool
    may lend them again. Sent just before the task's result."""

    names: list[str]


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


class Log(NamedTuple):
    """A ``logging`` record of the worker, as plain fields (see ``_worker_logging``)."""

    record: dict[str, Any]


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
    UseDirectCopy,
    Release,
    Released,
    Log,
    LogLevels,
)
_KIND_OF = {cls: kind for kind, cls in enumerate(_KINDS)}


# A kind byte with one of these bits set is followed by a table of where the message's large
# buffers are (a 4-byte length, then the pickled table): with _OUT_OF_BAND, shared-memory
# segments (see _shm), a list of (name, size, capacity); with _IN_SENDER, addresses in the
# sender's memory for the receiver to copy from (see _vm), a list of (address, size). Then
# comes the payload: the pickle of the message's fields; for a RunTask, the function's pickle
# (a 4-byte length, then the pickle) and the pickle of (args, kwargs).
_OUT_OF_BAND = 0x80
_IN_SENDER = 0x40
_FLAGS = _OUT_OF_BAND | _IN_SENDER
_LENGTH = struct.Struct("<I")
_RUN = 0  # RunTask's kind
RUN_KIND = _RUN  # the kind byte (frame[8]) of a RunTask whose arguments are all in the frame


class Body(NamedTuple):
    """A message pickled, ready to be framed with a task id."""

    kind: int
    data: bytes
    segments: list[str]
    """Names of the shared-memory segments it refers to (released if it is never delivered)."""


def encode_task(
    function: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    cache: _shm.SegmentCache | None = None,
) -> Body:
    """The body of a RunTask: large buffers of the arguments go to shared memory (segments
    borrowed from ``cache`` when given)."""
    part = _function_part(function)
    if _shm.AVAILABLE:
        # encode_body's first step, inline: most tasks hold no buffer (and it is every submit).
        found: list[pickle.PickleBuffer] = []
        data = pickle.dumps((args, kwargs), protocol=PROTOCOL, buffer_callback=found.append)
        if not found:
            return Body(_RUN, part + data, [])
    return encode_body(RunTask, (args, kwargs), True, part, cache)


def encode_body(
    message_type: type[Any],
    fields: tuple[Any, ...],
    out_of_band: bool,
    prefix: bytes = b"",
    cache: _shm.SegmentCache | None = None,
) -> Body:
    """Pickle ``fields``; with ``out_of_band``, large buffers go to shared memory."""
    kind = _KIND_OF[message_type]
    if not (out_of_band and _shm.AVAILABLE):
        return Body(kind, prefix + pickle.dumps(fields, protocol=PROTOCOL), [])
    # Most messages hold no buffer at all: find out with one cheap pickling (every buffer it
    # meets is left out of it), and only pickle again, placing the buffers, if there were any.
    found: list[pickle.PickleBuffer] = []
    data = pickle.dumps(fields, protocol=PROTOCOL, buffer_callback=found.append)
    if not found:
        return Body(kind, prefix + data, [])
    del found, data
    outgoing = _shm.Outgoing(cache)
    try:
        data = pickle.dumps(fields, protocol=PROTOCOL, buffer_callback=outgoing)
    except BaseException:
        outgoing.discard()
        raise
    if not outgoing.segments:
        return Body(kind, prefix + data, [])
    table = pickle.dumps(outgoing.segments, protocol=PROTOCOL)
    names = [name for name, _size, _capacity in outgoing.segments]
    return Body(kind | _OUT_OF_BAND, _LENGTH.pack(len(table)) + table + prefix + data, names)


def frame(task_id: int, body: Body) -> bytes:
    return _HEADER.pack(task_id, body.kind) + body.data


def encode(task_id: int, message: Any, *, out_of_band: bool = False) -> bytes:
    if type(message) is RunTask:
        return frame(task_id, encode_task(*message))
    return frame(task_id, encode_body(type(message), tuple(message), out_of_band))


_RESULT = _KIND_OF[Result]
RESULT_KIND = _RESULT  # the kind byte (frame[8]) of an in-band Result


def task_tag(task_id: int) -> bytes:
    """The first 8 bytes of every frame of task ``task_id`` (compare with ``frame[:8]``)."""
    return task_id.to_bytes(8, "little")


def encode_result(task_id: int, value: Any, held: dict[int, Any] | None = None) -> bytes:
    """``encode(task_id, Result(value), out_of_band=True)``, minus the layers: it answers every
    task, so it is most of the worker's share of a tiny task's round trip.

    With ``held`` (the pool can copy from this process, see ``_vm``), large buffers are not
    copied at all: the frame gives their addresses, and ``held[task_id]`` keeps them alive until
    the pool's ``Release``.
    """
    if not _shm.AVAILABLE:
        return encode(task_id, Result(value), out_of_band=True)
    found: list[pickle.PickleBuffer] = []
    data = pickle.dumps((value,), protocol=PROTOCOL, buffer_callback=found.append)
    if not found:
        return _HEADER.pack(task_id, _RESULT) + data
    if held is None:
        return encode(task_id, Result(value), out_of_band=True)
    from qtcompute.engine import _vm

    views: list[memoryview] = []

    def by_address(buffer: pickle.PickleBuffer) -> bool:
        view = buffer.raw()
        if view.nbytes < _shm.THRESHOLD:
            return True
        views.append(view)
        return False

    data = pickle.dumps((value,), protocol=PROTOCOL, buffer_callback=by_address)
    if not views:
        return _HEADER.pack(task_id, _RESULT) + data
    table = pickle.dumps([(_vm.address_of(v), v.nbytes) for v in views], protocol=PROTOCOL)
    held[task_id] = views
    return _HEADER.pack(task_id, _RESULT | _IN_SENDER) + _LENGTH.pack(len(table)) + table + data


def is_in_sender(frame: bytes) -> bool:
    """True if the large buffers of ``frame`` are still in the sender's memory (see ``_vm``)."""
    return bool(frame[8] & _IN_SENDER)


def task_id_of(frame: bytes) -> int:
    return _ID.unpack_from(frame)[0]


_ID = struct.Struct("<Q")


def kind_of(frame: bytes) -> type[Any]:
    """The message class of ``frame``, without unpickling it."""
    return _KINDS[frame[8] & ~_FLAGS]


def decode(frame: bytes) -> Any:
    """The message in ``frame``; its shared-memory segments are mapped and unlinked."""
    return _KINDS[frame[8] & ~_FLAGS]._make(decode_fields(frame))


Fetch = Callable[[list[tuple[int, int]]], list[memoryview]]


def decode_fields(
    frame: bytes, *, loans: list[_shm.Loan] | None = None, fetch: Fetch | None = None
) -> tuple[Any, ...]:
    """The fields of the message in ``frame``, as a plain tuple (see :func:`decode`).

    Pooled segments are added to ``loans`` (see ``_shm.attach``); buffers left in the sender's
    memory are copied with ``fetch(table)``.
    """
    kind = frame[8]
    if kind == _RUN and len(frame) < SMALL_FRAME:
        # A small task, the common case, in the fewest steps (slicing a few bytes costs less
        # than making a memoryview).
        (size,) = _LENGTH.unpack_from(frame, HEADER_SIZE)
        start = HEADER_SIZE + _LENGTH.size
        function = _load_function(frame[start : start + size])
        args, kwargs = pickle.loads(frame[start + size :])
        return function, args, kwargs
    view = memoryview(frame)[HEADER_SIZE:]
    buffers = None
    if kind & _FLAGS:
        (size,) = _LENGTH.unpack_from(view)
        table = pickle.loads(view[_LENGTH.size : _LENGTH.size + size])
        if kind & _OUT_OF_BAND:
            buffers = _shm.attach(table, loans)
        elif fetch is None:
            raise ValueError("a frame whose buffers are in its sender's memory needs a fetch")
        else:
            buffers = fetch(table)
        kind &= ~_FLAGS
        view = view[_LENGTH.size + size :]
    if kind != _RUN:
        return pickle.loads(view, buffers=buffers)  # type: ignore[no-any-return]
    (size,) = _LENGTH.unpack_from(view)
    function = _load_function(view[_LENGTH.size : _LENGTH.size + size])
    args, kwargs = pickle.loads(view[_LENGTH.size + size :], buffers=buffers)
    return function, args, kwargs


# Plain functions are sent by reference (module and name), so their pickle never changes: both
# ends keep it, which saves a module lookup per task on each side. Bounded, for programs that
# make functions on the fly. Methods (``counter.value``, and bound built-ins such as ``d.get``)
# and partials are pickled every time: they carry the state of their object.
_CACHE_SIZE = 512
_function_parts: dict[Any, bytes] = {}
_functions: dict[bytes, Any] = {}


def _cacheable(function: Any) -> bool:
    kind = type(function)
    if kind is types.FunctionType:
        return True
    if kind is types.BuiltinFunctionType:  # math.sqrt (bound to its module), not d.get
        owner = function.__self__
        return owner is None or type(owner) is types.ModuleType
    return False


def _function_part(function: Any) -> bytes:
    cacheable = _cacheable(function)  # first: a method's hash would run its object's __hash__
    if cacheable:
        part = _function_parts.get(function)
        if part is not None:
            return part
    data = pickle.dumps(function, protocol=PROTOCOL)
    part = _LENGTH.pack(len(data)) + data
    if cacheable:
        if len(_function_parts) >= _CACHE_SIZE:
            _function_parts.clear()
        _function_parts[function] = part
    return part


def _load_function(data: memoryview | bytes) -> Any:
    key = bytes(data)
    function = _functions.get(key)
    if function is None:
        function = pickle.loads(key)
        if _cacheable(function):
            if len(_functions) >= _CACHE_SIZE:
                _functions.clear()
            _functions[key] = function
    return function


def release(frame: bytes) -> None:
    """Unlink the segments of a frame that will never be decoded (its task already ended)."""
    _task_id, kind = _HEADER.unpack_from(frame)
    if kind & _OUT_OF_BAND:
        view = memoryview(frame)[HEADER_SIZE:]
        (size,) = _LENGTH.unpack_from(view)
        segments = pickle.loads(view[_LENGTH.size : _LENGTH.size + size])
        _shm.release([name for name, _size, capacity in segments if not capacity])
