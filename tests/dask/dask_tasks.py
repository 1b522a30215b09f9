"""Task functions for the Dask tests: module level, imported by name on the workers (which
inherit the test run's ``sys.path``), as an installed app package would be."""

from __future__ import annotations

import os
import threading
import time

from qtcompute import report_progress


def add(x, y):
    return x + y


def square(x):
    return x * x


def fail(message):
    raise ValueError(message)


def wait_for_gate(path):
    """Block until the test opens the FIFO at ``path`` for writing and closes it."""
    with open(path) as fifo:
        fifo.read()
    return "released"


def started_then_wait_for_gate(path):
    """Report "started" (the test waits on it), then block as :func:`wait_for_gate`."""
    report_progress("started")
    return wait_for_gate(path)


def started_then_loop_forever():
    """Report "started", then loop in Python forever (only a stop ends it)."""
    report_progress("started")
    while True:
        pass


def report(n):
    for i in range(n):
        report_progress(i)
    return n


def generate(n):
    for i in range(n):
        yield i * 10
    return "generated"


def report_from_a_thread_of_the_task():
    thread = threading.Thread(target=report_progress, args=("from a thread",))
    thread.start()
    thread.join()
    return "joined"


def report_pid_and_loop(marker):
    """First run: report the worker's pid and loop until killed. After the worker died, the
    retry finds ``marker`` and returns at once."""
    if os.path.exists(marker):
        return ("retried", os.getpid())
    with open(marker, "w"):
        pass
    report_progress(os.getpid())
    while True:
        time.sleep(0.01)  # the task's own work; the test waits on the progress value


def report_pid_and_loop_forever():
    report_progress(os.getpid())
    while True:
        time.sleep(0.01)


def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


def array_sum(array):
    return float(array.sum())


def double(array):
    return array * 2


def return_lock():
    return threading.Lock()


class NeedsTwoArguments(Exception):
    def __init__(self, a, b):  # required args not passed to super(): cannot be unpickled
        super().__init__(f"{a} and {b}")


def raise_unpicklable_error():
    raise NeedsTwoArguments("x", "y")


def report_unpicklable():
    report_progress(threading.Lock())
