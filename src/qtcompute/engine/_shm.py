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
- every segment is registered with multiprocessing's resource tracker while it exists, so a
  crash of the whole program (even SIGKILL) still ends with the tracker unlinking it.

First touches of fresh memory are slow (on a virtual machine especially: a 128 MB copy into
new pages took 0.1-0.7 s here, into touched ones 0.03 s). So the process that owns pools keeps
*spares*: after sending a buffer of a size it has sent before, a background thread prepares
segments of that size with their pages already allocated, and the next send of that size copies
into one at memory speed. Spares are bounded in total size, registered with the resource tracker
like any segment, and unlinked when the last pool of the process shuts down and at exit. Workers
keep none: a killed worker could not clean them up.

Windows has no POSIX shared memory with these semantics (a mapping dies with its last handle,
which would need an acknowledgement from the receiver): there, buffers stay in the pickle.
"""

from __future__ import annotations

import itertools
import mmap
import multiprocessing
import os
import secrets
import threading
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
    # macOS limits names to 31 characters: keep it short and unique across processes.
    return f"/qtc{os.getpid() % 100000}_{next(_counter)}_{secrets.token_hex(3)}"


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
    spare = SPARES.take(size)
    if spare is not None:
        name, target = spare
    else:
        name, target = _new_segment(size, prefault=False)
    try:
        target[:size] = view.cast("B")
    except BaseException:
        target.close()
        release([name])
        raise
    target.close()
    SPARES.want(size)  # the next buffer of this size will find its pages ready
    return name, size


def _new_segment(size: int, prefault: bool) -> tuple[str, mmap.mmap]:
    name = new_name()
    fd = _posixshmem.shm_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
    try:
        _tracker("register", name)
        os.ftruncate(fd, size)
        target = mmap.mmap(fd, size)
    except BaseException:
        os.close(fd)
        release([name])
        raise
    os.close(fd)
    if prefault:
        _populate(target, size)
    return name, target


_MADV_POPULATE_WRITE = 23  # Linux 5.14: allocate every page of the mapping now


def _populate(target: mmap.mmap, size: int) -> None:
    # Through ctypes, which releases the GIL for the call: mmap.madvise() holds it, and the
    # caller's threads (waiting on a worker's reply) would stall for the whole population.
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        window = (ctypes.c_char * size).from_buffer(target)
        try:
            done = libc.madvise(
                ctypes.c_void_p(ctypes.addressof(window)),
                ctypes.c_size_t(size),
                _MADV_POPULATE_WRITE,
            )
        finally:
            del window  # release the export, or the mapping could not be closed
        if done == 0:
            return
    except (OSError, AttributeError, TypeError, ValueError):
        pass
    page = mmap.PAGESIZE
    for offset in range(0, size, page):  # older kernels, macOS: touch one byte per page
        target[offset] = 0


class _Spares:
    """Pre-faulted segments by size, prepared in the background (see the module docstring)."""

    MAX_BYTES = 512 << 20
    PER_SIZE = 2  # double buffering: a burst of sends of one size finds the next one ready

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._ready: dict[int, list[tuple[str, mmap.mmap]]] = {}
        self._wanted: list[int] = []
        self._bytes = 0  # ready, wanted and in preparation
        self._busy = False
        self._pools = 0
        self._seen: dict[int, None] = {}  # recent sizes, oldest first: spares only for repeats
        self._thread: threading.Thread | None = None
        self._enabled = AVAILABLE and multiprocessing.parent_process() is None

    def pool_opened(self) -> None:
        with self._cond:
            self._pools += 1

    def pool_closed(self) -> None:
        with self._cond:
            self._pools -= 1
            last = self._pools <= 0
        if last:
            self.clear()

    def take(self, size: int) -> tuple[str, mmap.mmap] | None:
        with self._cond:
            ready = self._ready.get(size)
            if not ready:
                return None
            self._bytes -= size
            return ready.pop()

    def want(self, size: int) -> None:
        with self._cond:
            if not self._enabled or self._pools <= 0:
                return
            if size not in self._seen:  # a one-off size would only tie up memory
                self._seen[size] = None
                if len(self._seen) > 16:
                    del self._seen[next(iter(self._seen))]
                return
            if self._bytes + size > self.MAX_BYTES:
                return
            if len(self._ready.get(size, ())) + self._wanted.count(size) >= self.PER_SIZE:
                return
            self._wanted.append(size)
            self._bytes += size
            if len(self._ready.get(size, ())) + self._wanted.count(size) < self.PER_SIZE:
                self._wanted.append(size)  # the first send of a size asks for both at once
                self._bytes += size
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._prepare, name="qtcompute-shm-spares", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def clear(self) -> None:
        """Unlink every spare; waits for one in preparation."""
        with self._cond:
            self._wanted.clear()
            while self._busy:
                self._cond.wait()
            spares = [spare for ready in self._ready.values() for spare in ready]
            self._ready.clear()
            self._bytes = 0
        for _name, target in spares:
            target.close()
        release([name for name, _target in spares])

    def _prepare(self) -> None:
        while True:
            with self._cond:
                while not self._wanted:
                    self._cond.wait()
                size = self._wanted.pop(0)
                self._busy = True
            spare = None
            try:
                spare = _new_segment(size, prefault=True)
            except Exception:
                pass  # out of shared memory: the next send simply makes its own segment
            with self._cond:
                self._busy = False
                if spare is not None:
                    if self._pools > 0:
                        self._ready.setdefault(size, []).append(spare)
                        spare = None
                    else:
                        self._bytes -= size
                else:
                    self._bytes -= size
                self._cond.notify_all()
            if spare is not None:  # every pool closed meanwhile
                spare[1].close()
                release([spare[0]])


SPARES = _Spares()


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
