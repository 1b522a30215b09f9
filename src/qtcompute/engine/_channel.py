"""The pipe protocol between the pool and one worker: :class:`ParentEnd` and :class:`WorkerEnd`.

This module is the only one that touches a worker's pipes or its page of frame counts. Each end
owns its two one-way pipes (tasks in, replies out; framing in ``_pipes``), its reader, its
spinner, and, where ``memfd`` exists, the shared page (``_frame_counts``) and the pool's bell.
The other modules use a few verbs: *send*, *wait for a frame*, *read*, *claim* and *release*
(a thread of the pool reads a task's replies itself), and, on the worker's side, *announce*
(count a frame and ring the bell unless its task is claimed).

The protocol and its figures are explained in ``docs/engine.md`` ("Frame counts and the bell",
"Spinning before sleeping").
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from qtcompute.engine import _frame_counts
from qtcompute.engine import _messages as msg
from qtcompute.engine._frame_counts import (
    AHEAD,
    DIRECT,
    FROM_WORKER,
    MASK,
    READ,
    TO_WORKER,
    FrameCounts,
    unread,
)
from qtcompute.engine._pipes import FrameReader, endpoint, send_frame
from qtcompute.engine._spin import Spinner

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

# In DIRECT: the task was just sent by a thread that will most likely wait for it.
TENTATIVE = 0x80000000
_CLAIM = 0x7FFFFFFF
# A frame and its 4-byte length up to this size go into a pipe in one piece (POSIX PIPE_BUF is
# at least 512; Linux's, 4096, is also the least a pipe holds when its user is over quota).
_ATOMIC_FRAME = getattr(select, "PIPE_BUF", 512) - 4
# How long a worker holds back the ring for a result its submitter will probably claim: a waiter
# that comes at all comes within a few microseconds.
HOLD = 25e-6
_CAN_POLL = sys.platform != "win32" and hasattr(select, "poll")


def claim_mark(task_id: int) -> int:
    """What DIRECT holds while a pool thread reads task ``task_id``'s frames itself (0, "none",
    for the rare id whose low 31 bits are all zero: its frames are simply always rung for)."""
    return task_id & _CLAIM


class Bell:
    """The pipe workers ring after each frame that no claiming thread reads; only the
    supervisor thread waits on it. None of it where workers cannot have frame counts."""

    def __init__(self, ctx: BaseContext) -> None:
        self.waitable, self.writer = ctx.Pipe(duplex=False)

    @staticmethod
    def make(ctx: BaseContext) -> Bell | None:
        return Bell(ctx) if _frame_counts.AVAILABLE and sys.platform != "win32" else None

    def drain(self) -> None:
        """Read the rings so far: a ring that comes after this wakes the supervisor again."""
        os.read(self.waitable.fileno(), 65536)

    def close(self) -> None:
        self.waitable.close()
        self.writer.close()


class ParentEnd:
    """The pool's end of one worker's channel.

    Built in two steps: :meth:`worker_args` is what the worker process is started with, and
    :meth:`connect` runs once it has started (the child has its own copies of its ends then).
    One thread reads at a time: the supervisor, or the thread that *claimed* the running task.
    """

    def __init__(self, ctx: BaseContext, spin: float, bell: Bell | None) -> None:
        # Two one-way pipes rather than one socketpair: a pipe's write and read cost half of a
        # Unix socket's, and a tiny task makes four of them.
        self._task_reader, self._task_writer = ctx.Pipe(duplex=False)
        self._reply_reader, self._reply_writer = ctx.Pipe(duplex=False)
        self._page = _frame_counts.make() if bell is not None else None
        self._bell = bell if self._page is not None else None
        self._spin = spin
        self.counted = self._page is not None
        """True if this worker counts its frames and rings the bell; otherwise the supervisor
        must watch :attr:`waitable` itself."""
        self.eof = False  # the worker's end is closed: nothing more to read
        self.claimed_by = 0  # ident of the thread reading the replies itself, 0 for none
        self.waitable: Any = self._reply_reader  # what the supervisor's waiter watches
        self._counts: Any = None
        self._poller: Any = None
        self._kick: tuple[int, int] | None = None
        self.spinner: Spinner | None = None

    def worker_args(self) -> tuple[Any, ...]:
        """What the worker builds its :class:`WorkerEnd` from (pickled for the child)."""
        return (self._task_reader, self._reply_writer, self._page, self._bell_writer())

    def _bell_writer(self) -> Connection | None:
        return None if self._bell is None else self._bell.writer

    def connect(self) -> None:
        """The worker has started: drop our copies of its ends (they would hide the EOF of its
        death) and get ready to read."""
        self._task_reader.close()
        self._reply_writer.close()
        self._out = endpoint(self._task_writer)
        self.fd = endpoint(self._reply_reader)
        reader = self._reader = FrameReader(self.fd)
        self.read = reader.read  # the next frame; blocks; EOFError once the worker is gone
        self.buffered = reader.buffered  # a whole frame is read ahead: read() will not block
        page = self._page
        if page is not None:
            page.forget_descriptor()
            counts = self._counts = page.counts
            reader.publish = (counts, READ)  # for the worker: which results were read
        if _CAN_POLL:
            # The kick pipe wakes a claiming thread when another thread settles its task
            # (timeout, stop, shutdown) while the worker itself stays silent.
            self._kick = os.pipe()
            poller = self._poller = select.poll()
            poller.register(self.fd, select.POLLIN)
            poller.register(self._kick[0], select.POLLIN)
            if self._spin > 0 and page is not None:
                counts = page.counts
                self.spinner = Spinner(
                    self._spin, lambda: 0 < (counts[FROM_WORKER] - reader.frames) & MASK < AHEAD
                )
            elif self._spin > 0:
                self.spinner = Spinner(self._spin, lambda: poller.poll(0))

    def abandon(self) -> None:
        """The worker never started: close everything that was made for it."""
        for conn in (self._task_reader, self._reply_writer, self._task_writer, self._reply_reader):
            conn.close()
        if self._page is not None:
            self._page.close()
            self._page = None

    # --- sending ---------------------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """Send a frame to the worker; OSError if it is gone."""
        send_frame(self._out, frame)
        counts = self._counts
        if counts is not None:  # after the write: a count never runs ahead of the pipe
            counts[TO_WORKER] = (counts[TO_WORKER] + 1) & MASK

    def expect_claim(self, task_id: int) -> None:
        """The task just sent will probably be claimed by the thread that sent it: the worker
        holds back the ring for its result a little (``HOLD``), in case it is."""
        if self._counts is not None:
            self._counts[DIRECT] = (task_id & _CLAIM) | TENTATIVE

    # --- reading ---------------------------------------------------------------------------------

    def has_frame(self) -> bool:
        """True if a frame (or EOF) can be read now without blocking."""
        if self._reader.buffered():
            return True
        counts = self._counts
        if counts is not None and unread(counts[FROM_WORKER], self._reader.frames):
            return True  # counted: no system call
        # Nothing counted: ask the kernel too (EOF, a frame whose count is still on its way, a
        # worker that died between writing a frame and counting it).
        if self._poller is None:
            return self._reply_reader.poll(0)
        fd = self.fd
        return any(ready == fd for ready, _ in self._poller.poll(0))

    def counted_mark(self) -> int | None:
        """The worker's count of frames written, now (None without counts)."""
        return None if self._counts is None else self._counts[FROM_WORKER]

    def has_counted(self, mark: int | None) -> bool:
        """True if a frame is read ahead, or ``mark`` (from :meth:`counted_mark`) counts one
        that is not read yet."""
        reader = self._reader
        return reader.buffered() or (mark is not None and unread(mark, reader.frames))

    # --- a thread that reads its task's replies itself ------------------------------------------

    @property
    def can_claim(self) -> bool:
        return self._poller is not None and not self.eof and not self.claimed_by

    def claim(self, task_id: int) -> None:
        """The calling thread reads task ``task_id``'s frames itself: the worker stops ringing
        the bell for them."""
        self.claimed_by = threading.get_ident()
        if self._counts is not None:
            self._counts[DIRECT] = task_id & _CLAIM

    def release(self) -> None:
        """End a claim: the worker rings the bell for every frame again."""
        self.claimed_by = 0
        if self._counts is not None:
            self._counts[DIRECT] = 0

    def wait_frame(self, deadline: float | None) -> bool:
        """Block until a frame (or EOF) can be read; False on a kick or at the deadline. Spins
        first (``docs/engine.md``, "Spinning before sleeping"): a reply caught spinning costs no
        wake-up on either side."""
        if self._reader.buffered():
            return True
        spinner = self.spinner
        events = spinner.spin() if spinner is not None else None
        if events is True:
            return True  # counted: a frame is in the pipe or on its way
        if not events:
            ms = None if deadline is None else max(0.0, deadline - time.monotonic()) * 1000
            events = self._poller.poll(ms)
            if spinner is not None:
                spinner.woke()
        fd = self.fd
        readable = False
        for ready, _events in events:
            if ready == fd:
                readable = True
            else:
                os.read(ready, 512)  # drain the kick
                return False
        return readable

    def kick(self) -> None:
        """Wake the thread blocked in :meth:`wait_frame` (another thread settled its task)."""
        if self._kick is not None:
            try:
                os.write(self._kick[1], b"k")
            except OSError:
                pass

    def close(self) -> None:
        """Release every handle once the worker is reaped (no leaked descriptor)."""
        self._reply_reader.close()
        self._task_writer.close()
        if self._kick is not None:
            for fd in self._kick:
                os.close(fd)
            self._kick = None
        if self._page is not None:
            self.spinner = None  # its check refers to the page
            self._reader.publish = None
            self._counts = None
            self._page.close()
            self._page = None


class WorkerEnd:
    """The worker's end of its channel; one lock so that threads never interleave frames.

    With a page, every frame is counted once it is in the pipe (a frame too large for one write,
    before), and the pool's bell is rung unless a thread of the pool reads this task's frames
    itself (``docs/engine.md``, "Frame counts and the bell").
    """

    def __init__(
        self,
        tasks: Connection,
        replies: Connection,
        page: FrameCounts | None = None,
        bell: Connection | None = None,
        spin: float = 0.0,
    ) -> None:
        self._tasks = tasks  # owns the descriptors: they close with this object
        self._replies = replies
        self._reader = FrameReader(endpoint(tasks))
        self._io = endpoint(replies)
        # Re-entrant, with a depth: a signal handler or a __del__ that logs or prints while this
        # thread writes a frame must neither deadlock nor cut that frame in two (see send_frame).
        self.lock = threading.RLock()
        self._depth = 0
        self._deferred: list[tuple[bytes, int]] = []
        self._counts = page.counts if page is not None and bell is not None else None
        self._sent = 0  # frames sent, modulo 2**32 (what counts[FROM_WORKER] says)
        self.owed = 0  # claim mark of a result whose ring is held back (see pay_ring), or 0
        self._bell = -1
        self._bell_conn = bell  # owns the descriptor: it closes with this object
        if self._counts is not None:
            self._bell = bell.fileno()  # type: ignore[union-attr]
            # A full bell already has rings waiting to be read: never block on it.
            os.set_blocking(self._bell, False)
        self._spinner = self._next_task_spinner(spin)

    def _next_task_spinner(self, spin: float) -> Spinner | None:
        reader = self._reader
        fd = getattr(reader, "fd", None)  # Windows readers have none
        if spin <= 0 or not _CAN_POLL or fd is None:
            return None  # Windows: no poll() on pipes
        counts = self._counts
        if counts is not None:
            return Spinner(spin, lambda: 0 < (counts[TO_WORKER] - reader.frames) & MASK < AHEAD)
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return Spinner(spin, lambda: poller.poll(0))

    def next_frame(self) -> bytes:
        """The next frame from the pool; EOFError (or OSError) once the pool closed the pipe.

        Between tasks that come back to back (a loop of submit/result, map), the next task is
        caught by a short spin rather than by a wake-up. While a result's ring is held back, the
        spin is first only as long as the hold: a user that never waits (callbacks, the Qt
        bridge) must not wait a whole spin for every result.
        """
        reader, spinner = self._reader, self._spinner
        if self.owed and not reader.buffered():
            spun = spinner.spin(HOLD)  # type: ignore[union-attr]
            if not spun:
                self.pay_ring()
                spun = spinner.spin()  # type: ignore[union-attr]
        else:
            spun = spinner is None or reader.buffered() or spinner.spin()
        frame = reader.read()
        if not spun:
            spinner.woke()  # type: ignore[union-attr]
        return frame

    def send(self, task_id: int, message: Any) -> None:
        self.send_frame(msg.encode(task_id, message), task_id)

    def send_result(self, frame: bytes, task_id: int) -> None:
        """Send the frame that ends task ``task_id``; its ring may be held back (``HOLD``)."""
        self.send_frame(frame, task_id, last=self._spinner is not None)

    def send_frame(self, frame: bytes, task_id: int, *, last: bool = False) -> None:
        """Send ``frame``, which belongs to task ``task_id`` (``msg.CONTROL`` for none).

        ``last``: the task's result, after which this thread spins for the next task; its ring
        may be held back until :meth:`pay_ring`.
        """
        with self.lock:
            if self._depth:
                # This thread is in the middle of writing a frame (we interrupted it): this one
                # goes out as soon as that one is complete.
                self._deferred.append((frame, task_id))
                return
            self._depth = 1
            try:
                self._write(frame, task_id, last)
                while self._deferred:
                    self._write(*self._deferred.pop(0), False)
            finally:
                self._depth = 0

    def _write(self, frame: bytes, task_id: int, last: bool) -> None:
        counts = self._counts
        if counts is None:
            send_frame(self._io, frame)
        elif len(frame) < _ATOMIC_FRAME:
            # Written whole in one go: counted (and rung) once it is all in the pipe.
            send_frame(self._io, frame)
            self._announce(counts, task_id, last)
        else:
            # Larger than the pipe may take at once: the write blocks until a reader drains
            # the pipe, so the reader must hear of the frame first.
            self._announce(counts, task_id, False)
            send_frame(self._io, frame)

    def _announce(self, counts: memoryview, task_id: int, last: bool) -> None:
        self._sent = counts[FROM_WORKER] = (self._sent + 1) & MASK
        mark = task_id & _CLAIM
        direct = counts[DIRECT]
        if mark and direct == mark:
            return  # a thread of the pool reads this task's frames itself
        if last and mark and direct == mark | TENTATIVE:
            self.owed = mark  # its submitter will most likely claim it: wait and see
            return
        self._ring()

    def pay_ring(self) -> None:
        """Ring for a held-back result now, unless the pool has read it or claimed its task
        meanwhile. Called by the main thread (the only one that sets ``owed``) once the hold
        runs out. Never takes the lock: a thread blocked in a large write holds it until the
        pool reads, and the pool may be waiting for us to read a task."""
        mark, self.owed = self.owed, 0
        counts = self._counts
        if (
            mark
            and counts is not None
            and counts[DIRECT] != mark  # claimed since: its thread reads it
            and unread(self._sent, counts[READ])
        ):
            self._ring()

    def _ring(self) -> None:
        try:
            os.write(self._bell, b"\0")
        except OSError:
            pass  # full (the supervisor has rings to read) or the pool is gone
