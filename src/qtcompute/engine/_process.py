"""One worker process as the supervisor sees it: its state, its pipe, its one task."""

from __future__ import annotations

import enum
import os
import select
import sys
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from qtcompute.engine import _frame_counts
from qtcompute.engine import _messages as msg
from qtcompute.engine._crash_report import CrashLog
from qtcompute.engine._frame_counts import AHEAD
from qtcompute.engine._frame_counts import FROM_WORKER as _FROM_WORKER
from qtcompute.engine._frame_counts import MASK as _MASK
from qtcompute.engine._frame_counts import TO_WORKER as _TO_WORKER
from qtcompute.engine._pipes import FrameReader, endpoint, send_frame
from qtcompute.engine._spin import Spinner
from qtcompute.engine._worker import worker_main

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    from qtcompute.engine._governance import Governance
    from qtcompute.engine._records import Task


class WorkerState(enum.Enum):
    """The life of a worker process, as reported in :class:`~qtcompute.PoolEvent`."""

    STARTING = "starting"
    """Spawned; importing modules and running the initializer. Tasks wait for it."""
    READY = "ready"
    """Idle and waiting for a task."""
    BUSY = "busy"
    """Running exactly one task (one task in flight per worker, so a stop loses nothing else)."""
    STOPPING = "stopping"
    """Asked to exit (graceful Stop) or terminated; its task, if any, is already settled."""
    CRASHED = "crashed"
    """Died unexpectedly; its task failed with WorkerCrashedError and a replacement follows."""
    STOPPED = "stopped"
    """Exited and reaped."""


class WorkerHandle:
    """The parent's handle on one worker process."""

    def __init__(
        self,
        ctx: BaseContext,
        index: int,
        lifeline: Connection,
        initializer: Any,
        initargs: tuple[Any, ...],
        spin: float,
        bell: Connection | None = None,
        governance: Governance | None = None,
    ) -> None:
        # Two one-way pipes rather than one socketpair: a pipe's write and read cost half of a
        # Unix socket's (no socket buffers to allocate), and a tiny task makes four of them.
        task_reader, task_writer = ctx.Pipe(duplex=False)
        reply_reader, reply_writer = ctx.Pipe(duplex=False)
        # The page of frame counts, and the supervisor's bell the worker rings with frames
        # nobody else reads (see _frame_counts); without them, the supervisor watches the pipe.
        self.counts = _frame_counts.make() if bell is not None else None
        self.crash_log = CrashLog(ctx)  # where faulthandler writes (see _crash_report)
        self.crash_stack: str | None = None  # what it wrote, read once the worker is dead
        self.process = ctx.Process(  # type: ignore[attr-defined]
            target=worker_main,
            args=(
                task_reader,
                reply_writer,
                lifeline,
                os.getpid(),
                initializer,
                initargs,
                spin,
                self.counts,
                bell if self.counts is not None else None,
                governance.settings(self.crash_log.child_end) if governance else None,
            ),
            name=f"qtcompute-worker-{index}",
            daemon=False,  # daemonic processes may not start children; tasks may want to
        )
        try:
            self.process.start()
        finally:
            # The child has its own copies now; ours would hide the EOF of its death.
            task_reader.close()
            reply_writer.close()
            if self.counts is not None:
                self.counts.forget_descriptor()
            self.crash_log.after_start()
        if governance is not None:
            governance.adopt(self.process.pid)  # Windows: into the pool's job
        self.index = index
        self.conn: Connection = reply_reader  # the worker's frames arrive here
        self.task_conn: Connection = task_writer
        self.io = endpoint(reply_reader)  # what frames are received on (and waited on)
        self.out = endpoint(task_writer)  # what frames are sent on
        self.reader = FrameReader(self.io)  # every frame is read through it (it reads ahead)
        if self.counts is not None:
            self.reader.publish = (self.counts.counts, _frame_counts.READ)
        self.sentinel: int = self.process.sentinel
        self.pid: int = self.process.pid
        self.state = WorkerState.STARTING
        self.task: Task | None = None
        self.tasks_run = 0  # for max_tasks_per_child
        self.kill_at: float | None = None
        self.eof = False
        self.pings: list[Any] = []
        self.frame_tag = ("frame", self)  # what the supervisor's waiter reports for its pipe
        self.watched = False  # its pipe is in the supervisor's waiter (see Supervisor._watch)
        self.copying = False  # its last result is being copied from its memory (see _vm)
        # A thread blocked in TaskFuture.result() may read this worker's replies itself (see
        # Supervisor.wait_directly); while it does, the worker is "claimed" and the supervisor
        # leaves its pipe alone. POSIX only: it needs poll() on pipes.
        self.claimed = 0  # ident of the thread reading this worker's replies, 0 for none
        self.exit_seen = False
        self.poller: Any = None
        self.kick_fds: tuple[int, int] | None = None
        self.spinner: Spinner | None = None
        if sys.platform != "win32" and hasattr(select, "poll"):
            # The kick pipe wakes the claiming thread when another thread settles its task
            # (timeout, stop, shutdown) while the worker itself stays silent.
            self.kick_fds = os.pipe()
            poller = self.poller = select.poll()
            poller.register(self.io, select.POLLIN)
            poller.register(self.kick_fds[0], select.POLLIN)
            if spin > 0 and self.counts is not None:
                counts, reader = self.counts.counts, self.reader
                self.spinner = Spinner(
                    spin, lambda: 0 < (counts[_FROM_WORKER] - reader.frames) & _MASK < AHEAD
                )
            elif spin > 0:
                self.spinner = Spinner(spin, lambda: poller.poll(0))

    def kick(self) -> None:
        if self.kick_fds is not None:
            try:
                os.write(self.kick_fds[1], b"k")
            except OSError:
                pass

    def wait_readable(self, deadline: float | None) -> bool:
        """Block until a frame (or EOF) can be read; False on a kick or at the deadline."""
        if self.reader.buffered():
            return True
        spinner = self.spinner
        events = spinner.spin() if spinner is not None else None
        if events is True:
            return True  # counted (see _frame_counts): a frame is in the pipe or on its way
        if not events:
            ms = None if deadline is None else max(0.0, deadline - time.monotonic()) * 1000
            events = self.poller.poll(ms)
            if spinner is not None:
                spinner.woke()
        fd = self.io
        readable = False
        for ready, _events in events:
            if ready == fd:
                readable = True
            else:
                os.read(ready, 512)  # drain the kick
                return False
        return readable

    def has_frame(self, *, ask_kernel: bool = False) -> bool:
        """True if a frame (or EOF) can be read now without blocking. ``ask_kernel``: poll the
        pipe even when the counts say nothing (a worker that died between writing a frame and
        counting it)."""
        reader = self.reader
        if reader.buffered():
            return True
        counts = self.counts
        if counts is not None:
            if _frame_counts.unread(counts.counts[_FROM_WORKER], reader.frames):
                return True  # counted (see _frame_counts)
            if not self.watched and not ask_kernel:
                return False  # nothing counted: no system call
            # A watched pipe that the supervisor's epoll reported: ask the kernel too (EOF, or
            # a frame whose count is still on its way), or a readable pipe would be reported
            # again and again.
        if self.poller is None:
            return self.conn.poll(0)
        fd = self.io
        return any(ready_fd == fd for ready_fd, _ in self.poller.poll(0))

    def send(self, frame: bytes) -> None:
        send_frame(self.out, frame)
        if self.counts is not None:
            self.counts.count(_TO_WORKER)  # after the write: see _frame_counts

    def ask_to_stop(self, grace: float) -> None:
        """Graceful stop: the worker exits after its current task (the seed's ``EXIT``)."""
        self.state = WorkerState.STOPPING
        self.kill_at = time.monotonic() + grace
        try:
            self.task_conn.send_bytes(msg.encode(msg.CONTROL, msg.Stop()))
        except OSError:
            self.terminate(grace)

    def terminate(self, grace: float) -> None:
        """Forced stop: SIGTERM now, SIGKILL at ``kill_at`` if it is still alive."""
        self.state = WorkerState.STOPPING
        self.kill_at = time.monotonic() + grace
        try:
            self.process.terminate()
        except (OSError, ValueError):
            pass  # already gone

    def kill(self) -> None:
        try:
            self.process.kill()
        except (OSError, ValueError):
            pass
        self.kill_at = None

    def reap(self) -> int | None:
        """Collect the exit status and release every handle (no zombie, no leaked fd)."""
        self.process.join()
        exitcode = self.process.exitcode
        self.conn.close()
        self.task_conn.close()
        self.process.close()
        self.crash_stack = self.crash_log.collect(exitcode)
        if self.kick_fds is not None:
            for fd in self.kick_fds:
                os.close(fd)
            self.kick_fds = None
        if self.counts is not None:
            self.spinner = None  # its check refers to the page
            self.reader.publish = None
            self.counts.close()
            self.counts = None
        return exitcode
