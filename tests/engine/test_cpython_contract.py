"""Where CPython's ``test_concurrent_futures`` speaks, Pool answers as ``ProcessPoolExecutor``.

Each test here pins one behaviour that the stdlib's suite checks (its run against Pool is
described in docs/engine.md): references, ``cancel_futures``, interpreter exit, the exception
types of pickling failures and dead workers, and ``max_workers``.
"""

from __future__ import annotations

import gc
import pickle
import subprocess
import threading
import weakref
from concurrent.futures.process import BrokenProcessPool

import engine_tasks as tasks
import pytest
from test_lifecycle import run_script

from qtcompute import Pool
from qtcompute.errors import (
    NotPicklableError,
    ResultNotPicklableError,
    TaskError,
    WorkerCrashedError,
)


def test_map_holds_no_reference_to_a_result_it_has_yielded(make_pool):
    pool = make_pool(2)
    seen = 0
    for obj in pool.map(tasks.make_sizeable, range(50), chunksize=10):
        ref = weakref.ref(obj)
        del obj
        gc.collect()
        assert ref() is None, "the map iterator still holds a result it yielded"
        seen += 1
    assert seen == 50


def test_cancel_futures_spares_the_tasks_workers_have_taken(start_method):
    """Submitted while the workers start, then shut down at once: CPython's call queue holds a
    task per worker, which runs; the rest is cancelled, and nothing ends any other way."""
    pool = Pool(2, start_method=start_method)
    futures = [pool.submit(tasks.square, i) for i in range(50)]
    pool.shutdown(wait=True, cancel_futures=True)
    cancelled = [f for f in futures if f.cancelled()]
    finished = [f for f in futures if not f.cancelled()]
    assert len(cancelled) > 20
    assert finished, "every task was cancelled, none ran"
    assert all(f.done() and f.exception() is None for f in finished)
    assert [f.result() for f in finished] == [i * i for i in range(len(finished))]


def test_pending_tasks_are_completed_at_interpreter_exit(tmp_path):
    """A script that submits and returns: its tasks run before the interpreter exits."""
    script = run_script(
        """
        from qtcompute import Pool
        import engine_tasks as tasks
        if __name__ == "__main__":
            pool = Pool(1)
            for word in ("apple", "banana", "cherry"):
                pool.submit(tasks.print_after, 0.2, word)
        """,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = script.communicate(timeout=120)
    assert script.returncode == 0, err
    assert out.split() == [b"apple", b"banana", b"cherry"]
    assert err == b""


def test_submit_after_interpreter_shutdown_began_raises_cpythons_runtime_error():
    script = run_script(
        """
        import atexit
        @atexit.register
        def run_last():  # registered first, so it runs after the pool's own hook
            try:
                pool.submit(id, None)
            except RuntimeError as exc:
                print(type(exc).__name__, "|", exc)
        from qtcompute import Pool
        if __name__ == "__main__":
            pool = Pool(1)
            pool.submit(id, 42).result()
        """,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = script.communicate(timeout=120)
    assert script.returncode == 0, err
    assert out.decode().strip() == (
        "RuntimeError | cannot schedule new futures after interpreter shutdown"
    )


@pytest.mark.parametrize(
    ("fn", "args", "kwargs", "expected"),
    [
        (lambda x: x, (1,), {}, "lambda"),
        (tasks.identity, (tasks.CrashAtPickle(),), {}, "argument 1"),
        (tasks.identity, (), {"value": threading.Lock()}, "keyword argument 'value'"),
    ],
    ids=["lambda", "poison-argument", "lock-keyword"],
)
def test_pickling_error_fails_the_future_instead_of_raising(make_pool, fn, args, kwargs, expected):
    pool = make_pool(1)
    future = pool.submit(fn, *args, **kwargs)  # does not raise
    assert future.done()
    error = future.exception()
    assert isinstance(error, pickle.PicklingError)
    assert isinstance(error, NotPicklableError) and isinstance(error, TypeError)
    assert expected in str(error) and "module level" in str(error)
    with pytest.raises(pickle.PicklingError):
        future.result()
    assert pool.submit(tasks.add, 1, 1).result(timeout=60) == 2, "the pool is unaffected"


def test_unpicklable_result_is_a_pickling_error(make_pool):
    pool = make_pool(1)
    with pytest.raises(pickle.PicklingError) as info:
        pool.submit(tasks.return_lock).result(timeout=60)
    assert isinstance(info.value, ResultNotPicklableError)


def test_worker_dying_while_it_sends_its_result_is_a_broken_process_pool(make_pool):
    pool = make_pool(1)
    future = pool.submit(tasks.return_instance, tasks.ExitAtPickle)
    with pytest.raises(BrokenProcessPool) as info:
        future.result(timeout=60)
    error = info.value
    assert isinstance(error, WorkerCrashedError) and isinstance(error, TaskError)
    assert error.exitcode == 9
    # Unlike the stdlib's pool, ours is not broken: the worker was replaced.
    assert pool.submit(tasks.add, 2, 3).result(timeout=60) == 5


def test_sys_exit_while_pickling_the_result_is_the_tasks_outcome(make_pool):
    pool = make_pool(1)
    pid = pool.submit(tasks.getpid).result(timeout=60)
    with pytest.raises(SystemExit):
        pool.submit(tasks.return_instance, tasks.SysExitAtPickle).result(timeout=60)
    assert pool.submit(tasks.getpid).result(timeout=60) == pid, "the worker went on"


def test_max_workers_is_accepted_with_cpythons_error_text():
    with Pool(max_workers=2) as pool:
        assert pool.workers == 2
        assert pool.submit(tasks.add, 1, 2).result(timeout=60) == 3
    for number in (0, -1):
        with pytest.raises(ValueError, match="max_workers must be greater than 0"):
            Pool(max_workers=number)
    with pytest.raises(TypeError, match="not both"):
        Pool(2, max_workers=2)
    with pytest.raises(TypeError, match="integer"):
        Pool(max_workers=2.5)  # type: ignore[arg-type]
