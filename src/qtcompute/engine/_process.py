"""One worker process as the supervisor sees it: its state, its pipe, its one task."""

from __future__ import annotations

import enum
import os
import select
import sys
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from qtcompute.engine import _messages as msg
from qtcompute.engine._pipes import endpoint, send_frame
from qtcompute.engine._worker import worker_main

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

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
    ) -> None:
        parent_end, child_end = ctx.Pipe(duplex=True)
        self.process = ctx.Process(  # type: ignore[attr-defined]
            target=worker_main,
            args=(child_end, lifeline, os.getpid(), initializer, initargs),
            name=f"qtcompute-worker-{index}",
            daemon=False,  # daemonic processes may not start children; tasks may want to
        )
        try:
            self.process.start()
        finally:
            child_end.close()  # the child has its own copy now; ours would hide its EOF
        self.index = index
        self.conn: Connection = parent_end
        self.io = endpoint(parent_end)  # what frames are sent and received on (and waited on)
        self.sentinel: int = self.process.sentinel
        self.pid: int = self.process.pid
        self.state = WorkerState.STARTING
        self.task: Task | None = None
        self.kill_at: float | None = None
        self.eof = False
        self.pings: list[Any] = []
        # A thread blocked in TaskFuture.result() may read this worker's replies itself (see
        # Supervisor.wait_directly); while it does, the worker is "claimed" and the supervisor
        # leaves its pipe alone. POSIX only: it needs poll() on pipes.
        self.claimed = 0  # ident of the thread reading this worker's replies, 0 for none
        self.exit_seen = False
        self.poller: Any = None
        self.kick_fds: tuple[int, int] | None = None
        if sys.platform != "win32" and hasattr(select, "poll"):
            # The kick pipe wakes the claiming thread when another thread settles its task
            # (timeout, stop, shutdown) while the worker itself stays silent.
            self.kick_fds = os.pipe()
            self.poller = select.poll()
            self.poller.register(self.io, select.POLLIN)
            self.poller.register(self.kick_fds[0], select.POLLIN)

    def kick(self) -> None:
        if self.kick_fds is not None:
            try:
                os.write(self.kick_fds[1], b"k")
            except OSError:
                pass

    def wait_readable(self, deadline: float | None) -> bool:
        """Block until a frame (or EOF) can be read; False on a kick or at the deadline."""
        ms = None if deadline is None else max(0.0, deadline - time.monotonic()) * 1000
        fd = self.io
        readable = False
        for ready, _events in self.poller.poll(ms):
            if ready == fd:
                readable = True
            else:
                os.read(ready, 512)  # drain the kick
                return False
        return readable

    def has_frame(self) -> bool:
        """True if a frame (or EOF) can be read now without blocking."""
        if self.poller is None:
            return self.conn.poll(0)
        fd = self.io
        return any(ready_fd == fd for ready_fd, _ in self.poller.poll(0))

    def send(self, frame: bytes) -> None:
        send_frame(self.io, frame)

    def ask_to_stop(self, grace: float) -> None:
        """Graceful stop: the worker exits after its current task (the seed's ``EXIT``)."""
        self.state = WorkerState.STOPPING
        self.kill_at = time.monotonic() + grace
        try:
            self.conn.send_bytes(msg.encode(msg.CONTROL, msg.Stop()))
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
        self.process.close()
        if self.kick_fds is not None:
            for fd in self.kick_fds:
                os.close(fd)
            self.kick_fds = None
        return exitcode
