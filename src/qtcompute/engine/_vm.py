"""Large results copied straight out of a worker's memory with ``process_vm_readv(2)`` (Linux).

Owns the worker's proof that the pool may read it (:func:`probe`, :func:`can_read`) and the copy
into fresh memory of the pool's own (:func:`read`). Permissions and the fallback to shared
memory: ``docs/engine.md``, "Large arrays".
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

AVAILABLE = sys.platform.startswith("linux")
PARALLEL_FROM = 32 << 20  # bytes; a copy this large is split between two threads
_PROBE = os.urandom(16)


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _PyBuffer(ctypes.Structure):
    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.c_void_p),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.c_void_p),
        ("strides", ctypes.c_void_p),
        ("suboffsets", ctypes.c_void_p),
        ("internal", ctypes.c_void_p),
    ]


_readv: Any = None


def _process_vm_readv() -> Any:
    global _readv
    if _readv is None:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.process_vm_readv
        function.argtypes = [
            ctypes.c_int,
            ctypes.POINTER(_IoVec),
            ctypes.c_ulong,
            ctypes.POINTER(_IoVec),
            ctypes.c_ulong,
            ctypes.c_ulong,
        ]
        function.restype = ctypes.c_ssize_t
        _readv = function  # ctypes releases the GIL for the call: other threads go on
    return _readv


def address_of(buffer: Any) -> int:
    """The address of a contiguous buffer (read-only ones too, which ctypes cannot take)."""
    view = _PyBuffer()
    get = ctypes.pythonapi.PyObject_GetBuffer
    get.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
    if get(buffer, ctypes.byref(view), 0) != 0:
        raise BufferError("not a contiguous buffer")
    try:
        return int(view.buf or 0)
    finally:
        release = ctypes.pythonapi.PyBuffer_Release
        release.argtypes = [ctypes.POINTER(_PyBuffer)]
        release(ctypes.byref(view))


def probe() -> tuple[int, bytes]:
    """Where a reader of this process finds a known token (sent with the worker's Ready)."""
    return address_of(_PROBE), _PROBE


def can_read(pid: int, where: tuple[int, bytes] | None) -> bool:
    """True if this process may copy from process ``pid`` (its probe reads back correctly)."""
    if not AVAILABLE or where is None:
        return False
    address, token = where
    target = bytearray(len(token))
    try:
        _copy(pid, address_of(target), address, len(token))
    except Exception:  # refused, or no such function in this libc: shared memory then
        return False
    return bytes(target) == token


def read(pid: int, table: list[tuple[int, int]]) -> list[memoryview]:
    """Copy each ``(address, size)`` of process ``pid`` into new memory of ours."""
    views = []
    for address, size in table:
        # Private: an anonymous *shared* mapping would be tmpfs pages again, without huge pages.
        mapping = mmap.mmap(-1, max(size, 1), flags=mmap.MAP_PRIVATE)
        if size >= (2 << 20) and hasattr(mmap, "MADV_HUGEPAGE"):
            try:
                mapping.madvise(mmap.MADV_HUGEPAGE)
            except OSError:
                pass  # no transparent huge pages here: plain pages work too
        if size:
            local = address_of(mapping)

            def copy(at: int, length: int, local: int = local, remote: int = address) -> None:
                _copy(pid, local + at, remote + at, length)

            in_halves(copy, size)
        views.append(memoryview(mapping)[:size])
    return views


def in_halves(copy: Callable[[int, int], object], size: int) -> None:
    """Run ``copy(offset, length)`` over ``size`` bytes, in two threads at once when large.

    One thread copies at about a third of memory bandwidth here (page faults on new pages are
    part of the copy); two threads on two cores nearly halve a large copy. ``copy`` must let
    the GIL go while it copies (a ctypes call does).
    """
    if size < PARALLEL_FROM or (os.cpu_count() or 1) < 2:
        copy(0, size)
        return
    half = (size // 2) & ~0xFFFFF  # a 1 MiB boundary: whole huge pages for each thread
    errors: list[BaseException] = []

    def second_half() -> None:
        try:
            copy(half, size - half)
        except BaseException as exc:
            errors.append(exc)

    helper = threading.Thread(target=second_half, name="qtcompute-copy", daemon=True)
    helper.start()
    try:
        copy(0, half)
    finally:
        helper.join()
    if errors:
        raise errors[0]


def _copy(pid: int, local: int, remote: int, size: int) -> None:
    readv = _process_vm_readv()
    done = 0
    while done < size:
        mine = _IoVec(local + done, size - done)
        theirs = _IoVec(remote + done, size - done)
        count = readv(pid, ctypes.byref(mine), 1, ctypes.byref(theirs), 1, 0)
        if count <= 0:
            error = ctypes.get_errno() if count < 0 else errno.EFAULT
            raise OSError(error, f"process_vm_readv from {pid}: {os.strerror(error)}")
        done += count
