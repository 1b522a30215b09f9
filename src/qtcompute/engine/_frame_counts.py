"""The page of frame counts that the pool and one worker both map (a ``memfd``).

Four 32-bit slots, aligned (a load or a store is one access on every platform we run on), which
wrap around (see :func:`unread`). What they mean, and why they are hints and never the message,
is the pipe protocol's business: ``_channel`` is the only module that reads or writes them (the
design is in ``docs/engine.md``, "Frame counts and the bell"). Linux (and FreeBSD) only: the
page is handed to the worker like its pipes. Elsewhere :func:`make` returns None.
"""

from __future__ import annotations

import mmap
import os
from typing import Any

TO_WORKER = 0  # frames the pool has written to the worker's task pipe
FROM_WORKER = 1  # frames the worker has written to its reply pipe
DIRECT = 2  # which task's frames a thread of the pool reads itself (see _channel.claim_mark)
READ = 3  # frames of FROM_WORKER the pool has read (published by its reader, for the worker)
MASK = 0xFFFFFFFF
AHEAD = 0x80000000  # a difference of counts from here on is negative: nothing unread
_SIZE = mmap.PAGESIZE

AVAILABLE = hasattr(os, "memfd_create")


class FrameCounts:
    """The shared page of one worker; ``counts`` is its slots (TO_WORKER, FROM_WORKER, DIRECT,
    READ)."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd
        self._map = mmap.mmap(fd, _SIZE)
        self.counts = memoryview(self._map).cast("I")

    def count(self, direction: int) -> None:
        """Count one more frame in ``direction`` (call it just *after* writing the frame)."""
        counts = self.counts
        counts[direction] = (counts[direction] + 1) & MASK

    def forget_descriptor(self) -> None:
        """Close the descriptor once the worker has its own copy: the mapping stays."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        self.forget_descriptor()
        self.counts.release()
        self._map.close()

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled for the worker when it is spawned: the descriptor travels as its pipes do.
        from multiprocessing.reduction import DupFd

        if self._fd is None:
            raise ValueError("the frame counts were already handed to their worker")
        return (_attach, (DupFd(self._fd),))


def unread(written: int, read: int) -> bool:
    """True if ``written`` (a count from the page) says a frame is there beyond the ``read``
    first ones (both modulo 2**32). Spinners inline this test."""
    return 0 < (written - read) & MASK < AHEAD


def make() -> FrameCounts | None:
    """A new page for one worker, or None where shared counts are not available."""
    if not AVAILABLE:
        return None
    try:
        fd = os.memfd_create("qtcompute-frame-counts", os.MFD_CLOEXEC)
    except OSError:
        return None  # an old kernel, or a sandbox that forbids it: spin with poll()
    try:
        os.ftruncate(fd, _SIZE)
        return FrameCounts(fd)
    except BaseException:
        os.close(fd)
        raise


def _attach(dup: Any) -> FrameCounts:
    counts = FrameCounts(dup.detach())
    counts.forget_descriptor()
    return counts
