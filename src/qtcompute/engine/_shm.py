"""Large buffers (NumPy arrays) through POSIX shared memory instead of the pipe.

Owns pickle protocol 5's ``buffer_callback`` (:class:`Outgoing`), the segments lent to task
arguments and reused (:class:`SegmentCache`), the new segments of results the pool cannot copy
out of a worker (see ``_vm``), and every segment's lifetime: unlinked on every path, including a
killed worker's (names start with their creator's pid) and a killed program's (the resource
tracker). Windows keeps buffers in the pickle.

The design and its figures: ``docs/engine.md``, "Large arrays".
"""

from __future__ import annotations

import errno
import itertools
import logging
import mmap
import os
import secrets
import threading
from typing import Any

try:
    import _posixshmem
except ImportError:  # Windows
    _posixshmem = None

log = logging.getLogger("qtcompute.engine")

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


_warned_full = False


def _warn_full(size: int, exc: OSError) -> None:
    global _warned_full
    if not _warned_full:
        _warned_full = True
        log.warning(
            "no room in shared memory for a %.0f MB buffer (%s): sending it through the pipe "
            "instead, which is much slower. /dev/shm is probably small (Docker gives 64 MB by "
            "default: run with --shm-size=1g or more).",
            size / 1e6,
            exc.strerror,
        )


class Outgoing:
    """Collects the out-of-band buffers of one pickling into segments.

    ``segments`` lists ``(name, size, capacity)``: a segment with a capacity belongs to
    ``cache`` and is lent to the receiver; the others (capacity 0) are new, and the receiver
    unlinks them.
    """

    def __init__(self, cache: SegmentCache | None = None) -> None:
        self.cache = cache
        self.segments: list[tuple[str, int, bool]] = []

    def __call__(self, buffer: Any) -> bool:
        """``buffer_callback`` for ``pickle.dumps``: False means "not in the pickle"."""
        view = buffer.raw()
        size = view.nbytes
        if size < THRESHOLD:
            return True
        try:
            if self.cache is not None:
                segment = self.cache.take(size)
                self.segments.append((segment.name, size, segment.capacity))
                segment.fill(view)
            else:
                self.segments.append((*_create(view), 0))
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.ENOMEM, errno.EFBIG):
                raise
            _warn_full(size, exc)
            return True  # slower, but it arrives: through the pipe, inside the pickle
        return False

    def discard(self) -> None:
        """Undo: the receiver never saw these segments."""
        for name, _size, capacity in self.segments:
            if capacity:
                self.cache.give_back(name)  # type: ignore[union-attr]
            else:
                release([name])


def _create(view: memoryview) -> tuple[str, int]:
    size = view.nbytes
    name = new_name()
    fd = _posixshmem.shm_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
    try:
        _tracker("register", name)
        _allocate(fd, size)
        with mmap.mmap(fd, size) as target:
            target[:size] = view.cast("B")
    except BaseException:
        os.close(fd)
        release([name])
        raise
    os.close(fd)
    return name, size


def _allocate(fd: int, size: int) -> None:
    """Size a new segment, with its memory reserved now where the OS can: a full /dev/shm
    then fails here with ENOSPC, instead of killing us with SIGBUS at the first write."""
    os.ftruncate(fd, size)
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.ENOMEM, errno.EFBIG):
                raise
            # Not supported here (some libcs, filesystems): the memory comes at first write.


Loan = tuple[str, memoryview]

# A worker's mappings of pooled segments, kept from task to task (most recently used last):
# when the pool lends the same segment again, its pages are already in our page tables. An
# unlinked segment stays in memory while mapped here, so their total size is bounded.
_mapped: dict[str, mmap.mmap] = {}
MAPPED_BYTES = 512 << 20


def attach(
    segments: list[tuple[str, int, int]], loans: list[Loan] | None = None
) -> list[memoryview]:
    """Map every segment; new ones are unlinked at once (the views keep the memory alive),
    pooled ones are added to ``loans``, to be given back with :func:`give_back_loans`."""
    views = []
    try:
        for name, size, capacity in segments:
            mapping = _mapped.pop(name, None) if capacity else None
            if mapping is None:
                fd = _posixshmem.shm_open(name, os.O_RDWR, mode=0o600)
                try:
                    mapping = mmap.mmap(fd, capacity or size)
                finally:
                    os.close(fd)
            view = memoryview(mapping)[:size]
            views.append(view)
            if capacity and loans is not None:
                _mapped[name] = mapping
                loans.append((name, view))
    finally:
        release([name for name, _size, capacity in segments if not capacity])
    return views


def give_back_loans(loans: list[Loan]) -> list[str]:
    """End the use of the pooled segments of a finished task; the names of those that ended.

    A segment still referenced (the task stored its argument somewhere, or returned it and the
    result is still held) is left alone, and its name is not returned: the pool must not lend
    it again, and unlinks it instead. The others stay mapped, for the next loan.
    """
    released = []
    for name, view in loans:
        mapping = _mapped.get(name)
        try:
            view.release()
        except BufferError:
            mapping = None  # exported from our own view
        if mapping is None or _exported(mapping):
            _mapped.pop(name, None)  # the task's objects keep the mapping alive
            continue
        released.append(name)
    loans.clear()
    _evict()
    return released


def _exported(mapping: mmap.mmap) -> bool:
    """True if anything still uses ``mapping``'s memory (an array made from it, a view).

    NumPy builds its own memoryview of the buffer it unpickles, so our view being released
    proves nothing. mmap has no public export count, but ``resize`` refuses with BufferError
    exactly when there are exports, and a resize to the same size changes nothing (where
    mremap() is missing, resize fails differently *after* that check)."""
    try:
        mapping.resize(len(mapping))
    except BufferError:
        return True
    except (OSError, SystemError, ValueError, TypeError):
        return False
    return False


def _evict() -> None:
    total = sum(len(m) for m in _mapped.values())
    for name in list(_mapped):
        if total <= MAPPED_BYTES:
            return
        mapping = _mapped.pop(name)
        total -= len(mapping)
        try:
            mapping.close()
        except BufferError:
            pass  # still exported somewhere: it goes when that does


class _Segment:
    __slots__ = ("capacity", "mapping", "name")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.name = new_name()
        fd = _posixshmem.shm_open(self.name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
        try:
            _tracker("register", self.name)
            _allocate(fd, capacity)
            self.mapping = mmap.mmap(fd, capacity)
        except BaseException:
            release([self.name])
            raise
        finally:
            os.close(fd)

    def fill(self, view: memoryview) -> None:
        """Copy ``view`` to the start of the segment; a large copy in two threads."""
        from qtcompute.engine import _vm

        size = view.nbytes
        if size < _vm.PARALLEL_FROM:
            self.mapping[:size] = view.cast("B")
            return
        import ctypes

        target, source = _vm.address_of(self.mapping), _vm.address_of(view)
        _vm.in_halves(lambda at, length: ctypes.memmove(target + at, source + at, length), size)

    def destroy(self) -> None:
        self.mapping.close()
        release([self.name])


class SegmentCache:
    """The argument segments of one pool, lent to one task at a time and then reused.

    The pool keeps its own mapping of each segment, so refilling one touches neither new pages
    nor new page tables. At most ``max_bytes`` of idle segments are kept (the rest are
    unlinked when they come back); :meth:`close` at pool shutdown unlinks the idle ones, and
    ones still lent are unlinked when they come back. Every segment is registered with the
    resource tracker while it exists, so even a SIGKILLed program leaves nothing behind.
    """

    def __init__(self, max_bytes: int = 512 << 20) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Segment] = []
        self._lent: dict[str, _Segment] = {}
        self._max_bytes = max_bytes
        self._closed = False

    def take(self, size: int) -> _Segment:
        """A segment of at least ``size`` bytes, lent until :meth:`give_back`/:meth:`discard`."""
        with self._lock:
            # The smallest idle segment that fits without wasting more than half of it.
            fits = [s for s in self._idle if size <= s.capacity <= 2 * size]
            if fits:
                segment = min(fits, key=lambda s: s.capacity)
                self._idle.remove(segment)
                self._lent[segment.name] = segment
                return segment
        segment = _Segment(-(-size // THRESHOLD) * THRESHOLD)  # whole MiB: sizes vary a little
        with self._lock:
            self._lent[segment.name] = segment
        return segment

    def lent(self, name: str) -> bool:
        return name in self._lent

    def give_back(self, name: str) -> None:
        """The borrower is done with it (the worker unmapped it, or never saw it)."""
        with self._lock:
            segment = self._lent.pop(name, None)
            if segment is None:
                return
            idle = sum(s.capacity for s in self._idle)
            if not self._closed and idle + segment.capacity <= self._max_bytes:
                self._idle.append(segment)
                return
        segment.destroy()

    def discard(self, name: str) -> None:
        """Never lend it again (a worker may still map it): unlink it now."""
        with self._lock:
            segment = self._lent.pop(name, None)
        if segment is not None:
            segment.destroy()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for segment in idle:
            segment.destroy()


def end_loans(
    names: list[str], cache: SegmentCache | None, reusable: set[str] | None, sent: bool
) -> None:
    """A task ended: its argument segments go back to the cache if no worker can still map
    them (never ``sent``, or the worker reported them ``reusable``); else they are unlinked."""
    for name in names:
        if cache is not None and cache.lent(name):
            if not sent or (reusable and name in reusable):
                cache.give_back(name)
            else:
                cache.discard(name)
        else:
            release([name])


def release(names: list[str]) -> None:
    """Unlink segments that may or may not still exist."""
    for name in names:
        try:
            _posixshmem.shm_unlink(name)
        except OSError:
            continue  # already unlinked (by the receiver: the normal case), nothing to do
        _tracker("unregister", name)  # only whoever unlinked it tells the tracker
