"""The engine: a supervised pool of persistent worker processes. It knows nothing of Qt.

Data flow::

    caller thread(s)                     supervisor thread                worker processes
    ----------------                     -----------------                ----------------
    Pool.submit(fn, *args)
      pickle (fn, args) here: a bad
      argument fails now, in the caller;
      arrays >= 1 MiB into a reused
      shared-memory segment (_shm)
      |
      +-- a worker idle? ---- yes ----------------- frame, task pipe ------> read (spins first
      |                                                                       when tasks come
      +-- no: pending deque                                                   back to back)
              (dispatched when a                                             fn(*args)
               worker becomes idle)                                          report_progress(v)
                                                                               |
    future.result(): claims the          wait(bell + sentinels + wake-up)      v
      worker, spins on its frame     <-- receive(): Result | Failure   <--- reply pipe: one
      counts, reads the reply                       | Progress | Output      reply per task;
      itself (no thread hop)                                                 + frame count;
                                     <-- bell pipe: rung for frames    <--- + ring, unless
                                         nobody claimed                      the task is claimed
                                         large result buffers: copied from
    TaskFuture <--- settled once ------    the worker's memory (_vm), then
                    progress callbacks     Release; shared memory if not
                                         inspect: a sentinel fired =
                                           the worker died -> fail its
                                           task, spawn a replacement
                                         deadlines: task timeout ->
                                           terminate, grace, kill
    Pool.shutdown() ---- wake-up ------> Stop frame to each idle worker ---> exits 0
                                         terminate / kill after grace

    parent death: each worker holds the read end of a "lifeline" pipe whose write end only the
    parent holds (EOF = parent gone), plus PR_SET_PDEATHSIG on Linux and a kill-on-close Job
    Object on Windows (_winjob).
    crash stacks: each worker's faulthandler writes to a pipe the pool reads once the worker is
    dead (_crash_report). logging: records go up as Log frames, the parent's levels come down
    (_worker_logging). memory_limit, max_tasks_per_child: _governance.

One task in flight per worker: stopping a worker (timeout, ``TaskFuture.stop()``, crash) never
loses any other task. Frames are ``task id + kind + pickle`` over two private one-way pipes per
worker (no ``multiprocessing.Queue``: its feeder thread costs a thread hop per message). A page
shared with each worker counts the frames each way and names the claimed task (``_frame_counts``):
spinners read it instead of calling ``poll()``, and it decides whether the worker rings the bell.
"""

from qtcompute.engine import errors
from qtcompute.engine._future import TaskFuture
from qtcompute.engine._pool import Pool
from qtcompute.engine._records import PoolEvent, PoolStats, WorkerState
from qtcompute.engine._worker import report_progress

__all__ = [
    "Pool",
    "PoolEvent",
    "PoolStats",
    "TaskFuture",
    "WorkerState",
    "errors",
    "report_progress",
]
