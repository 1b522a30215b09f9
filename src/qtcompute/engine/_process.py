"""One worker process as the pool sees it: the process, its channel, its state and its task."""

from __future__ import annotations

import os
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from qtcompute.engine import _messages as msg
from qtcompute.engine._channel import Bell, ParentEnd
from qtcompute.engine._crash_report import CrashLog
from qtcompute.engine._records import WorkerState
from qtcompute.engine._worker import worker_main

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    from qtcompute.engine._governance import Governance
    from qtcompute.engine._outbox import Task


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
        bell: Bell | None = None,
        governance: Governance | None = None,
    ) -> None:
        self.channel = channel = ParentEnd(ctx, spin, bell)
        self.crash_log = CrashLog(ctx)  # where faulthandler writes (see _crash_report)
        self.crash_stack: str | None = None  # what it wrote, read once the worker is dead
        self.process = ctx.Process(  # type: ignore[attr-defined]
            target=worker_main,
            args=(
                channel.worker_args(),
                lifeline,
                os.getpid(),
                initializer,
                initargs,
                spin,
                governance.settings(self.crash_log.child_end) if governance else None,
            ),
            name=f"qtcompute-worker-{index}",
            daemon=False,  # daemonic processes may not start children; tasks may want to
        )
        try:
            self.process.start()
        except BaseException:
            self.crash_log.close()  # no worker will write to it, nobody would reap it
            channel.abandon()
            raise
        finally:
            self.crash_log.after_start()
        channel.connect()
        if governance is not None:
            governance.adopt(self.process.pid)  # Windows: into the pool's job
        self.index = index
        self.sentinel: int = self.process.sentinel
        self.pid: int = self.process.pid
        self.state = WorkerState.STARTING
        self.task: Task | None = None
        self.tasks_run = 0  # for max_tasks_per_child
        self.kill_at: float | None = None
        self.pings: list[Any] = []
        self.frame_tag = ("frame", self)  # what the supervisor's waiter reports for its pipe
        self.watched = False  # its pipe is in the supervisor's waiter (see PoolState.watch)
        self.copying = False  # its last result is being copied from its memory (see _vm)
        # The supervisor saw it die while a thread had claimed it: that thread reports the death.
        self.exit_seen = False

    def ask_to_stop(self, grace: float) -> None:
        """Graceful stop: the worker exits after its current task."""
        self.state = WorkerState.STOPPING
        self.kill_at = time.monotonic() + grace
        try:
            self.channel.send(msg.encode(msg.CONTROL, msg.Stop()))
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
        self.channel.close()
        self.process.close()
        self.crash_stack = self.crash_log.collect(exitcode)
        return exitcode

    def send_control(self, message: Any, task_id: int = msg.CONTROL) -> None:
        """Send a message that needs no answer to fail its task if the worker is gone: its
        sentinel tells the rest."""
        try:
            self.channel.send(msg.encode(task_id, message))
        except OSError:
            pass
