"""The state one pool's collaborators share: its settings, its queue, its workers, its flags.

The dispatcher (``_dispatch``), the receiver (``_receive``), the worker lifecycle
(``_lifecycle``) and the supervisor thread (``_supervisor``) each own a part of the work and
none of the data: all of it is here, guarded by :attr:`PoolState.lock`, so that a reader can
see in one place what a task or a worker can be in. The containers are never replaced, only
changed, so a collaborator may keep a direct reference to one (it is on every round trip).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qtcompute.engine import _governance, _shm
from qtcompute.engine._channel import Bell
from qtcompute.engine._records import PoolEvent, PoolStats, WorkerState
from qtcompute.engine._unretrieved import UnretrievedErrors
from qtcompute.engine._waiter import make_waiter

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    from qtcompute.engine._outbox import Outbox, Task
    from qtcompute.engine._process import WorkerHandle


class PoolState:
    """Everything a pool knows, in one object; change it only under :attr:`lock`."""

    def __init__(
        self,
        *,
        workers: int,
        ctx: BaseContext,
        initializer: Any,
        initargs: tuple[Any, ...],
        stop_grace: float,
        spin: float,
        memory_limit: int | None,
        max_tasks_per_child: int | None,
    ) -> None:
        # --- settings (never change) ---
        self.workers = workers
        self.ctx = ctx
        self.initializer = initializer
        self.initargs = initargs
        self.stop_grace = stop_grace
        self.spin = spin
        self.max_tasks = max_tasks_per_child
        # Memory limit, tasks per worker, the Windows job (see _governance).
        self.governance = _governance.Governance(memory_limit, max_tasks_per_child)

        self.lock = threading.Lock()
        # --- tasks ---
        self.pending: deque[Task] = deque()
        # The tasks in ``pending`` that still wait: a task cancelled by its owner leaves this
        # dict at once (and frees its memory); its stale entry in the deque is skipped.
        self.queued: dict[int, Task] = {}
        self.running: dict[int, WorkerHandle] = {}  # task id -> the worker running it
        self.task_ids = itertools.count(1)
        self.unretrieved = UnretrievedErrors()  # failed futures whose error nobody saw yet
        # Shared-memory segments for large arguments, reused from task to task (see _shm).
        self.segments = _shm.SegmentCache() if _shm.AVAILABLE else None
        # --- workers ---
        self.handles: list[WorkerHandle] = []  # every worker not reaped yet
        self.idle: list[WorkerHandle] = []
        self.worker_index = itertools.count(1)
        self.nonces = itertools.count(1)  # of pings
        self.start_failures = 0  # workers in a row that died before they were ready
        self.crashes = 0
        self.restarts = 0
        self.started_once = False
        # --- the pool's life ---
        self.shutdown = False
        self.stop_running = False
        self.broken: BaseException | None = None  # a BrokenPoolError once broken
        self.interpreter_exiting = False  # set by the pool's atexit hook (see _pool)
        self.listeners: list[Callable[[PoolEvent], object]] = []
        self.levels_generation = -1  # of the logging levels last sent (see _worker_logging)
        # --- what the supervisor thread waits on ---
        # The write end of the lifeline stays here, unwritten; workers watch the read end for
        # EOF (see _worker._watch_parent).
        self.lifeline_reader, self.lifeline_writer = ctx.Pipe(duplex=False)
        self.bell = Bell.make(ctx)  # None: the supervisor watches every worker's pipe
        self.waiter = make_waiter()
        self.wakeup_reader, self._wakeup_writer = ctx.Pipe(duplex=False)
        self.wakeup_pending = False
        self.supervisor_ident: int | None = None  # the supervisor thread's, once it runs

    def wake(self) -> None:
        """Interrupt the supervisor's wait; coalesced so a burst costs one byte."""
        if self.wakeup_pending:
            return
        self.wakeup_pending = True
        try:
            self._wakeup_writer.send_bytes(b"")
        except OSError:
            pass  # the supervisor has finished and closed the pipe

    def on_supervisor(self) -> bool:
        """True in the supervisor thread (a done callback that submits runs there)."""
        return threading.get_ident() == self.supervisor_ident

    def watch(self, worker: WorkerHandle) -> None:
        """Have the supervisor thread watch the worker's pipe itself (not only the bell)."""
        if not worker.watched and not worker.channel.eof:
            worker.watched = True
            self.waiter.add(worker.channel.waitable, worker.frame_tag)

    def unwatch(self, worker: WorkerHandle) -> None:
        if worker.watched:
            worker.watched = False
            self.waiter.remove(worker.channel.waitable)

    def pop_pending(self) -> Task:
        task = self.pending.popleft()
        self.queued.pop(task.future.task_id, None)
        return task

    def stats(self) -> PoolStats:
        alive = sum(1 for w in self.handles if w.state is not WorkerState.STOPPING)
        return PoolStats(
            workers=self.workers,
            alive=alive,
            busy=len(self.running) + sum(1 for w in self.handles if w.copying),
            pending=len(self.queued),
            crashes=self.crashes,
            restarts=self.restarts,
        )

    def emit(self, out: Outbox, kind: WorkerState, worker: WorkerHandle, detail: str = "") -> None:
        """Tell the listeners (once the lock is released) that ``worker`` is now ``kind``."""
        if self.listeners:
            event = PoolEvent(kind, worker.pid, self.stats(), detail)
            for listener in list(self.listeners):
                out.call(listener, event)

    def close(self) -> None:
        """Release what the pool itself holds, once every worker is reaped."""
        self.waiter.close()
        self.governance.close()
        if self.segments is not None:
            self.segments.close()  # idle ones now; ones still lent when their task ends
        for conn in (
            self.lifeline_reader,
            self.lifeline_writer,
            self.wakeup_reader,
            self._wakeup_writer,
        ):
            conn.close()
        if self.bell is not None:
            self.bell.close()
