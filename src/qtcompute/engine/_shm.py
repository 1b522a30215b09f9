"""Large buffers (NumPy arrays) travel through POSIX shared memory instead of the pipe.

Pickle protocol 5 hands every large contiguous buffer to a ``buffer_callback`` instead of
copying it into the pickle. The sender copies each such buffer once into a fresh shared-memory
segment and sends only the segment's name; the receiver maps the segment and unpickles with the
mapping as the buffer, so the array it gets *is* the shared memory: no copy, no pipe traffic.

Lifetimes, so that ``/dev/shm`` never keeps anything:

- the receiver unlinks a segment as soon as it has mapped it; the mapping (and so the array)
  stays valid until the array is garbage-collected, then the OS frees the memory;
- the pool unlinks again, ignoring "not found", every segment of a task that ends in any other
  way (cancelled before it ran, worker crashed or stopped before reading it), and the segments
  of late frames it drains from a stopped worker;
- segment names start with their creator's pid: when the pool reaps a worker that was killed or
  crashed, it unlinks whatever that worker created and never handed over;
- every segment is registered with multiprocessing's resource tracker while it exists, so a
  crash of the whole program (even SIGKILL) still ends with the tracker unlinking it.

Windows has no POSIX shared memory with these semantics (a mapping dies with its last handle,
which would need an acknowledgement from the receiver): there, buffers stay in the pickle.
"""

from __future__ import annotations

import itertools
import mmap
import os
import secrets
from typing import Any

try:
    import _posixshmem
except ImportError:  # Windows
    _posixshmem = None

THRESHOLD = 1 << 20  # buffers smaller than 1 MiB are cheaper to copy through the pipe
AVAILABLE = _posixshmem is not None
_RTYPE = "shared_memory"
_counter = itertools.count()


def _tracker(action: str, name: str) -> None:
    from multiprocessing import resource_tracker

    try:
        getattr(resource_tracker, action)(name, _RTYPE)
    except Exception:
        pass  # no tracker (e.g. during interpreter shutdown): best effort only


def new_name() -> str:
    # The creator's pid leads the name, so that the pool can find (and unlink) what a worker it
    # had to kill left behind; macOS limits names to 31 characters.
    return f"/{_prefix(os.getpid())}{next(_counter):x}_{secrets.token_hex(2)}"


def _prefix(pid: int) -> str:
    return f"qtc{pid}_"


def release_left_by(pid: int) -> None:
    """Unlink the segments a dead process created and never handed over (Linux: /dev/shm is
    listable; elsewhere the resource tracker unlinks them when the program ends)."""
    try:
        names = os.listdir("/dev/shm")
    except OSError:
        return
    prefix = _prefix(pid)
    release(["/" + name for name in names if name.startswith(prefix)])


class Outgoing:
    """Collects the out-of-band buffers of one pickling into new segments."""

    def __init__(self) -> None:
        self.segments: list[tuple[str, int]] = []

    def __call__(self, buffer: Any) -> bool:
        """``buffer_callback`` for ``pickle.dumps``: False means "not in the pickle"."""
        view = buffer.raw()
        if view.nbytes < THRESHOLD:
            return True
        self.segments.append(_create(view))
        return False

    def discard(self) -> None:
        release([name for name, _size in self.segments])


def _create(view: memoryview) -> tuple[str, int]:
    size = view.nbytes
    name = new_name()
    fd = _posixshmem.shm_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
    try:
        _tracker("register", name)
        os.ftruncate(fd, size)
        with mmap.mmap(fd, size) as target:
            target[:size] = view.cast("B")
    except BaseException:
        os.close(fd)
        release([name])
        raise
    os.close(fd)
    return name, size


def attach(segments: list[tuple[str, int]]) -> list[memoryview]:
    """Map every segment and unlink it at once; the views keep the memory alive."""
    views = []
    try:
        for name, size in segments:
            fd = _posixshmem.shm_open(name, os.O_RDWR, mode=0o600)
            try:
                mapping = mmap.mmap(fd, size)
            finally:
                os.close(fd)
            views.append(memoryview(mapping)[:size])
    finally:
        release([name for name, _size in segments])
    return views


def release(names: list[str]) -> None:
    """Unlink segments that may or may not still exist."""
    for name in names:
        try:
            _posixshmem.shm_unlink(name)
        except OSError:
            continue  # already unlinked (by the receiver: the normal case), nothing to do
        _tracker("unregister", name)  # only whoever unlinked it tells the tracker
