"""Frame counts in a page that the pool and one worker both map: a reader learns that a frame is
on its way without a system call, and the supervisor thread is rung only when nobody else reads.

A reader that spins (see ``_spin``) asks, over and over, whether the other end has written a
frame. Asking the kernel (``poll`` with a zero timeout) costs a system call per check, and each
one costs 1-3 us on a virtual machine with speculative-execution mitigations: a tiny task's round
trip made one or two of them on each side. Here each end counts, in a shared page, the frames it
has written, and the reader compares that count with the frames it has read: a memory load.

The counts are hints, never the message: every frame still travels through the pipe. A writer
adds to its count just *after* the frame is in the pipe, so a count ahead of the reader's own
means that a whole frame is there to read, and ``read`` returns at once (where memory order is
weak, at worst after the kernel's pipe lock). The exception is a frame larger than a pipe takes
in one write (``PIPE_BUF``): its write blocks until somebody reads, so it is counted (and the
bell rung) *before* it is written, and its reader waits in ``read`` for the rest, which the
writer is busy sending. A count can only fall behind, never run ahead:
a reader may have read a frame before its count arrived (the difference is then "negative" and
ignored), and two threads of the pool counting at once may lose one of their additions. Falling
behind costs a reader only its chance to stop spinning early: it goes on to a blocking ``poll``
of the pipe, as it would without counts.

The page also says which task's frames a thread of the pool is reading directly (``DIRECT``, see
``FrameReceiver.wait_directly``). For every other frame the worker rings the pool's *bell*, a
pipe that only the supervisor thread watches: so the supervisor sleeps through the round trips
that a waiting thread handles itself, and nobody has to add and remove the worker's pipe from
the supervisor's ``epoll`` set around each of them (two system calls per round trip). A ring
that comes when nobody needs it costs the supervisor a wake-up, and the waiting thread the GIL
for a while: that happens when the worker answers before the waiter has claimed the task. So a
thread that sends a task straight to an idle worker marks it *tentatively* claimed; the worker
holds back the ring for that result for a few microseconds (``_worker._HOLD``) of its spin for
the next task, and rings then only if the pool has not read the result (``READ``, published by
the pool's reader). A ring skipped because the worker saw a stale ``DIRECT`` cannot be lost:
the reader that gives up before the task's last frame hands the pipe back to the supervisor's
``epoll`` set, which reports whatever is in it, now or later.

Counts are 32-bit, aligned (a load or a store is one access on every platform we run on), and
wrap around: see :func:`unread`. Linux (and FreeBSD) only: the page is a ``memfd`` handed to
the worker like its pipes. Elsewhere :func:`make` returns None and spinners fall back to
``poll``.
"""

from __future__ import annotations

import mmap
import os
from typing import Any

TO_WORKER = 0  # frames the pool has written to the worker's task pipe
FROM_WORKER = 1  # frames the worker has written to its reply pipe
DIRECT = 2  # who reads the frames of which task: see claim_mark()
READ = 3  # frames of FROM_WORKER the pool has read (published by its reader, for the worker)
MASK = 0xFFFFFFFF
TENTATIVE = 0x80000000  # in DIRECT: the task was just sent by a thread that will likely wait
_CLAIM = 0x7FFFFFFF
AHEAD = 0x80000000  # a difference of counts from here on is negative: nothing unread
_SIZE = mmap.PAGESIZE

AVAILABLE = hasattr(os, "memfd_create")


class FrameCounts:
    """The shared page of one worker: ``counts[TO_WORKER]``, ``counts[FROM_WORKER]`` and
    ``counts[DIRECT]``."""

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


def claim_mark(task_id: int) -> int:
    """What DIRECT holds while a pool thread reads task ``task_id``'s frames itself (0, "none",
    for the rare id whose low 31 bits are all zero: its frames are simply always rung for).
    ``claim_mark(task_id) | TENTATIVE``: the thread that submitted the task sent it straight to
    the worker and will probably wait for it; the worker then holds back the bell for the
    result a little, in case that thread claims it (see ``_Channel``)."""
    return task_id & _CLAIM


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
