"""A worker killed by a signal: WorkerCrashedError carries its Python stack at the crash."""

from __future__ import annotations

import inspect
import os
import signal
import sys

import governance_tasks as tasks
import pytest

from qtcompute.engine._crash_report import crashed_thread_stack
from qtcompute.errors import WorkerCrashedError

posix = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def crash(pool, fn, *args) -> WorkerCrashedError:
    pool.ping(timeout=60)
    future = pool.submit(fn, *args)
    with pytest.raises(WorkerCrashedError) as info:
        future.result(timeout=60)
    assert pool.submit(tasks.getpid).result(timeout=60) != future.pid, "replaced, pool goes on"
    return info.value


def line_of(fn, text: str) -> int:
    """The line number of the line of ``fn`` that contains ``text``."""
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


def frame_line(fn, text: str) -> str:
    """How faulthandler writes the frame of ``fn`` at the line containing ``text``."""
    return f'File "{inspect.getsourcefile(fn)}", line {line_of(fn, text)} in {fn.__name__}'


@posix
def test_a_segfault_names_the_file_line_and_function_of_the_task(make_pool):
    error = crash(make_pool(1), tasks.segfault_in_task)
    assert error.signal == "SIGSEGV"
    message = str(error)
    assert "Python stack at the crash" in message
    assert frame_line(tasks.segfault_in_task, "string_at(0)") in message
    assert "in string_at" in message, "the library frame the task called"
    assert "_worker.py" not in message, "the engine's own frames are left out of the message"
    assert "Segmentation fault" in error.stack and "_worker.py" in error.stack, "all of it here"


@posix
def test_abort_gives_the_stack_too(make_pool):
    error = crash(make_pool(1), tasks.abort_in_task)
    assert error.signal == "SIGABRT"
    assert frame_line(tasks.abort_in_task, "os.abort()") in str(error)
    assert "Aborted" in error.stack


@posix
def test_sigkill_leaves_no_stack(make_pool):
    pool = make_pool(1)
    error = crash(pool, tasks.kill_self)
    assert error.signal == "SIGKILL"
    assert error.stack is None
    assert "Python stack" not in str(error)


@posix
def test_a_worker_killed_from_outside_by_sigsegv_shows_where_it_was(make_pool, gate):
    import engine_tasks

    pool = make_pool(1)
    pool.ping(timeout=60)
    future = pool.submit(engine_tasks.wait_for_gate, gate.path)
    # The task is blocked on the gate (a FIFO) once the worker has opened it; a SIGSEGV from
    # outside then arrives inside open().
    _wait_until_fifo_is_opened(gate.path)
    os.kill(future.pid, signal.SIGSEGV)
    with pytest.raises(WorkerCrashedError) as info:
        future.result(timeout=60)
    assert "in wait_for_gate" in str(info.value)


@posix
def test_a_dump_larger_than_the_pipe_does_not_hang_the_dying_worker(make_pool):
    """200 threads 50 frames deep: faulthandler writes more than a pipe holds; the worker's end
    is non-blocking, so the dump is cut short and the worker dies instead of hanging."""
    error = crash(make_pool(1), tasks.many_threads_then_segfault, 200, 50)
    assert error.signal == "SIGSEGV"
    assert error.stack is not None and "Fatal Python error" in error.stack
    # faulthandler writes the crashed (main) thread last, so it was cut off: the message says
    # so and shows the start of the dump, not 64 KiB of other threads' stacks.
    message = str(error)
    assert "Current thread" not in error.stack
    assert "cut short" in message and "error.stack" in message
    assert len(message) < 5000, len(message)


@pytest.mark.skipif(sys.platform != "win32", reason="Windows: the crash log is a file")
def test_an_access_violation_names_the_task_on_windows(make_pool):
    error = crash(make_pool(1), tasks.segfault_in_task)
    assert error.exitcode == 0xC0000005  # STATUS_ACCESS_VIOLATION
    assert "access violation" in str(error)
    assert frame_line(tasks.segfault_in_task, "string_at(0)") in str(error)
    assert "access violation" in error.stack.lower()


def test_windows_crash_codes_are_named():
    """What multiprocessing reports on Windows for a worker that crashed (its NTSTATUS)."""
    from qtcompute.engine.errors import describe_death

    text = describe_death(0xC0000005)
    assert "access violation (0xC0000005)" in text and "native code" in text
    assert "abort()" in describe_death(0xC0000409)
    assert describe_death(3).startswith("exited with code 3")


def test_the_crashed_threads_frames_are_found_in_a_dump():
    dump = (
        "Fatal Python error: Segmentation fault\n\n"
        "Thread 0x01 (most recent call first):\n"
        '  File "/x/threading.py", line 320 in wait\n\n'
        "Current thread 0x02 (most recent call first):\n"
        '  File "/app/native.py", line 7 in crunch\n'
        f'  File "/site/qtcompute{os.sep}engine{os.sep}_worker.py", line 451 in _outcome\n'
        '  File "<string>", line 1 in <module>\n\n'
        "Extension modules: numpy (total: 1)\n"
    )
    assert crashed_thread_stack(dump) == '  File "/app/native.py", line 7 in crunch'


@pytest.mark.parametrize("sep", ["/", "\\"])
def test_a_frozen_apps_relative_paths_are_cut_at_the_engine_too(sep):
    """PyInstaller's bundles name files relative to the bundle (seen in a real onedir build)."""
    dump = (
        "Current thread 0x02 (most recent call first):\n"
        '  File "ctypes/__init__.py", line 519 in string_at\n'
        '  File "crashapp.py", line 8 in crunch\n'
        f'  File "qtcompute{sep}engine{sep}_worker.py", line 451 in _outcome\n'
        '  File "multiprocessing/spawn.py", line 122 in spawn_main\n'
        '  File "crashapp.py", line 31 in <module>\n'
    )
    assert crashed_thread_stack(dump).splitlines() == [
        '  File "ctypes/__init__.py", line 519 in string_at',
        '  File "crashapp.py", line 8 in crunch',
    ]


def _wait_until_fifo_is_opened(path: str) -> None:
    """Block until a reader has the FIFO open: opening the write end waits for it. Keeps the
    write end open (never written) so the task stays blocked in its read."""
    fd = os.open(path, os.O_WRONLY)
    _held.append(fd)


_held: list[int] = []


@pytest.fixture(autouse=True)
def _close_held():
    yield
    while _held:
        os.close(_held.pop())


def test_a_handler_of_the_crash_warning_may_submit_to_the_pool():
    """The crash warning (with the stack of a crash between tasks) is logged outside the pool's
    lock: a handler on the ``qtcompute`` logger that submits a task (to report the crash, say)
    must not deadlock the pool. In a child process, so that a deadlock fails instead of hanging
    the test run."""
    from test_lifecycle import run_script

    script = """
        import logging
        import governance_tasks as tasks
        from qtcompute import Pool
        from qtcompute.errors import WorkerCrashedError

        pool = Pool(1)
        followups = []

        class Report(logging.Handler):
            def emit(self, record):
                followups.append(pool.submit(tasks.square, 7))

        logging.getLogger("qtcompute").addHandler(Report(logging.WARNING))
        try:
            pool.submit(tasks.segfault_in_task).result(timeout=30)
        except WorkerCrashedError:
            pass
        assert followups and followups[0].result(timeout=30) == 49, followups
        pool.shutdown()
        print("done")
    """
    child = run_script(script, stdout=-1, stderr=-1, text=True)
    try:
        out, err = child.communicate(timeout=90)
    finally:
        child.kill()
    assert child.returncode == 0 and "done" in out, err


def test_a_log_handler_that_raises_on_the_crash_warning_loses_no_task(make_pool):
    """The pool's own warning goes through the app's handlers too: one that raises (a log view
    whose widget is gone) must not keep the crashed task from ending, nor stop the pool."""
    import logging

    class Raising(logging.Handler):
        def emit(self, record):
            raise RuntimeError("wrapped C/C++ object of type QPlainTextEdit has been deleted")

    handler = Raising()
    logging.getLogger("qtcompute").addHandler(handler)
    try:
        error = crash(make_pool(1), tasks.segfault_in_task)
    finally:
        logging.getLogger("qtcompute").removeHandler(handler)
    assert error.signal == "SIGSEGV"
