"""Task functions for the engine tests. Module level, so that spawned workers can import them."""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
import time

from qtcompute import report_progress


def add(x, y):
    return x + y


def square(x):
    return x * x


def getpid():
    return os.getpid()


def fail(message):
    raise ValueError(message)


def wait_for_gate(path):
    """Block until the test opens the FIFO at ``path`` for writing and closes it."""
    with open(path) as fifo:
        fifo.read()
    return "released"


def compute_forever():
    """A long computation that never ends on its own (in C, then in Python)."""
    while True:
        time.sleep(3600)


def python_loop_forever():
    while True:
        pass


def segfault():
    ctypes.string_at(0)


def exit_now(code):
    os._exit(code)


def raise_memory_error():
    raise MemoryError("pretend the allocation failed")


def allocate_beyond_limit():
    import resource

    limit = 1 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    data = bytearray(2 * limit)
    return len(data)


def report(n):
    for i in range(n):
        report_progress(i)
    return n


def generate(n):
    yield from range(n)
    return "done"


def return_lock():
    return threading.Lock()


def print_and_log(text):
    print(f"stdout: {text}")
    print(f"stderr: {text}", file=sys.stderr)
    logging.getLogger("user.worker").warning("log: %s", text)
    return text


class UnpicklableError(Exception):
    def __init__(self, a, b):  # required args not passed to super(): cannot be unpickled
        super().__init__(f"{a}-{b}")


def raise_unpicklable_error():
    raise UnpicklableError(1, 2)


def _raise(message):
    raise RuntimeError(message)


class CrashAtPickle:
    def __reduce__(self):
        raise RuntimeError("cannot pickle this on purpose")


class ExitAtUnpickle:
    def __reduce__(self):
        return (os._exit, (7,))


class ErrorAtUnpickle:
    def __reduce__(self):
        return (_raise, ("failed to unpickle on purpose",))


def identity(value):
    return value


def return_error_at_unpickle():
    return ErrorAtUnpickle()


INIT_STATE = None


def init_state(value):
    global INIT_STATE
    INIT_STATE = (value, os.getpid())


def get_init_state():
    return INIT_STATE


def init_raises():
    raise RuntimeError("the initializer broke on purpose")


def init_exits():
    os._exit(5)


def start_method_of_worker():
    import multiprocessing

    return multiprocessing.current_process().name, " ".join(sys.argv)


def double(array):
    return array * 2


def total(array):
    return float(array.sum())


def fail_with_array(array):
    raise ValueError(f"refused an array of {array.nbytes} bytes")


def segfault_with_array(array):
    ctypes.string_at(0)


def array_after_ignoring_terminate(gate_path, nbytes):
    """Return a large array *after* the pool gave up on the task (a late frame)."""
    import signal

    import numpy as np

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    wait_for_gate(gate_path)
    return np.ones(nbytes // 8)


class Counter:
    """A method task carries its object's state: ``Counter(1).value`` pickles the counter."""

    def __init__(self, count):
        self.count = count

    def value(self):
        return self.count


def make_module_function(index):
    """A new module-level function (so picklable by name) that returns ``index``."""
    name = f"generated_{index}"
    function = globals().get(name)
    if function is None:
        namespace: dict = {}
        exec(f"def {name}():\n    return {index}\n", globals(), namespace)
        function = globals()[name] = namespace[name]
    return function


_kept = []


def keep(array):
    """Store the argument in the worker (its shared memory must then never be reused)."""
    _kept.append(array)


def kept_total():
    return float(_kept[-1].sum())


def ones(nbytes):
    import numpy as np

    return np.ones(nbytes // 8)


_initial = None


def keep_initial(array):
    """An initializer that takes a large array (it travels to every worker)."""
    global _initial
    _initial = array


def initial_total():
    return float(_initial.sum())


def report_unpicklable():
    report_progress(threading.Lock())
    return "not reached"


def text(n):
    return "x" * n


def text_after_gate(path, n):
    wait_for_gate(path)
    return "x" * n


def report_text(n):
    report_progress("x" * n)
    return n


def lose_console():
    """Initializer: the worker behaves as in a windowed frozen app (output goes to the parent)."""
    sys.stdout._original = None


def flood_output(seconds):
    """Print large lines from a background thread for ``seconds``; return at once."""

    def loop():
        line = "y" * 200_000
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            print(line)

    threading.Thread(target=loop, daemon=True).start()
    return True


class ExitAtPickle:
    """A result whose pickling ends the worker process: it dies while sending its result."""

    def __reduce__(self):
        os._exit(9)


class SysExitAtPickle:
    def __reduce__(self):
        sys.exit(5)


def return_instance(cls):
    return cls()


class Sizeable:
    """A result the caller can watch with a weak reference."""

    def __init__(self, value):
        self.value = value


def make_sizeable(value):
    return Sizeable(value)


def print_after(seconds, text):
    time.sleep(seconds)
    print(text, flush=True)
