"""The engine: a supervised pool of persistent worker processes. It knows nothing of Qt.

Data flow::

    caller thread(s)                     supervisor thread                worker processes
    ----------------                     -----------------                ----------------
    Pool.submit(fn, *args)
      pickle (fn, args) here: a bad
      argument fails now, in the caller
      |
      +-- a worker idle? ---- yes ----------------- frame over its pipe ---> recv_bytes()
      |                                                                      fn(*args)
      +-- no: pending deque                                                  report_progress(v)
              (dispatched when a                                               |
               worker becomes idle)                                           v
                                         wait(pipes + sentinels + wake-up)  <-- Progress frames
    TaskFuture <--- set_result / ------- receive(): Result | Failure   <--- one reply per task
                    set_exception                   | Progress | Output
                    progress callbacks   inspect: a sentinel fired =
                                           the worker died -> fail its
                                           task, spawn a replacement
                                         deadlines: task timeout ->
                                           terminate, grace, kill
    Pool.shutdown() ---- wake-up ------> Stop frame to each idle worker ---> exits 0
                                         terminate / kill after grace

    parent death: each worker holds the read end of a "lifeline" pipe whose write end only the
    parent holds (EOF = parent gone), plus PR_SET_PDEATHSIG on Linux.

One task in flight per worker: stopping a worker (timeout, ``TaskFuture.stop()``, crash) never
loses any other task. Frames are ``task id + pickle`` over a private ``Pipe`` (no
``multiprocessing.Queue``: its feeder thread costs a thread hop per message).
"""

from qtcompute.engine import errors
from qtcompute.engine._future import TaskFuture
from qtcompute.engine._pool import Pool
from qtcompute.engine._process import WorkerState
from qtcompute.engine._records import PoolEvent, PoolStats
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
