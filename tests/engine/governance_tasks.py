"""Task functions for the governance, crash-stack and worker-logging tests (module level, so
that spawned workers can import them)."""

from __future__ import annotations

import ctypes
import logging
import os
import signal

log = logging.getLogger("qtcompute_tests.worker")


def getpid():
    return os.getpid()


def square(x):
    return x * x


def allocate(size):
    """Allocate and touch ``size`` bytes (every page, so that it is resident); return how many."""
    data = bytearray(size)
    data[::4096] = b"\1" * len(range(0, size, 4096))
    return len(data)


def allocate_in_steps(step, steps):
    """Grow a list of blocks: the allocation that crosses a limit is one of many."""
    blocks = [bytearray(step) for _ in range(steps)]
    return sum(len(block) for block in blocks)


def raise_memory_error():
    raise MemoryError("pretend the allocation failed")


def segfault_in_task():
    ctypes.string_at(0)  # a real SIGSEGV: reads address 0


def abort_in_task():
    os.abort()  # a real SIGABRT, as a failed C assertion raises


def kill_self():
    os.kill(os.getpid(), signal.SIGKILL)


def log_at_every_level(name):
    logger = logging.getLogger(name)
    logger.debug("debug from %s", os.getpid())
    logger.info("info from %s", os.getpid())
    logger.warning("warning from %s", os.getpid())
    logger.error("error from %s", os.getpid())
    return os.getpid()


def log_exception(name):
    try:
        {}["missing"]
    except KeyError:
        logging.getLogger(name).exception("lookup failed in %s", "the worker")
    return os.getpid()


def log_and_print(name):
    print("printed by the worker", flush=True)
    logging.getLogger(name).warning("logged by the worker")
    return os.getpid()


def log_with_extra(name):
    logging.getLogger(name).warning("with extra", extra={"job": "j-42", "obj": object()})
    return os.getpid()


def debug_in_a_loop(name, n):
    logger = logging.getLogger(name)
    for i in range(n):
        logger.debug("step %d", i)
    return n


def data_limit():
    import resource

    return resource.getrlimit(resource.RLIMIT_DATA)


def hold_the_gil_forever():
    """Catastrophic regex backtracking: runs in C for ages and never releases the GIL, so no
    other thread of the worker (its lifeline watcher) can run meanwhile."""
    import re

    return re.match(r"(a+)+$", "a" * 64 + "b")


def many_threads_then_segfault(threads, depth):
    """A crash dump larger than a pipe holds: many threads, each deep in a recursion."""
    import threading

    started = threading.Barrier(threads + 1)
    never = threading.Event()

    def dive(n):
        if n:
            return dive(n - 1)
        started.wait()
        never.wait()

    for _ in range(threads):
        threading.Thread(target=dive, args=(depth,), daemon=True).start()
    started.wait()
    ctypes.string_at(0)


def logger_enabled_for(name, level):
    return logging.getLogger(name).isEnabledFor(level)


def level_after_gate(path, name, level):
    """Wait for the test's gate (a FIFO), then say whether ``name`` logs at ``level``."""
    with open(path) as fifo:
        fifo.read()
    return logging.getLogger(name).isEnabledFor(level)


def numpy_ones(size):
    import numpy

    return int(numpy.ones(size, dtype=numpy.uint8).sum())


def make_an_event_loop():
    """asyncio logs 'Using selector: ...' at DEBUG when it makes a loop: real code that logs."""
    import asyncio

    asyncio.new_event_loop().close()
    return os.getpid()


class _CopiedWhenPickled:
    """A result whose pickling allocates ``size`` bytes (as pickling a large result does)."""

    def __init__(self, size):
        self.size = size

    def __reduce__(self):
        return (bytes, (bytearray(self.size),))


def result_over_the_limit_when_pickled(size):
    return _CopiedWhenPickled(size)


def log_warning_and_return(name, value):
    logging.getLogger(name).warning("about to return %r", value)
    return value


def log_a_bad_format(name):
    logging.getLogger(name).warning("%d items", "not a number")  # a bug in the call itself
    return "went on"


def log_at_exit_and_from_a_thread(name):
    """A record from a thread that goes on after the task returned, and one from an atexit
    handler (the interpreter's exit: spawn workers only; forkserver's children end in
    os._exit, as multiprocessing's forked children do)."""
    import atexit
    import threading

    logger = logging.getLogger(name)
    atexit.register(logger.warning, "logged at exit")
    go = threading.Event()
    threading.Thread(target=lambda: (go.wait(), logger.warning("logged by a thread"))).start()
    go.set()  # it logs while the result goes out and the worker stops
    return os.getpid()


def log_while_a_signal_handler_logs(n):
    """Records from a signal handler that interrupts the task's own logging (or any frame the
    worker is writing): in-process that works, logging's locks are re-entrant."""
    import signal

    logger = logging.getLogger("app.signal")
    count = [0]

    def on_alarm(_signum, _frame):
        count[0] += 1
        logger.warning("from the handler")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
    try:
        for i in range(n):
            logger.warning("record %d", i)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
    return n + count[0]


def own_peak_memory():
    from qtcompute.engine._governance import peak_memory

    return peak_memory()
