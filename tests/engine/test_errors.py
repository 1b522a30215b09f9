"""Errors cross the process boundary as themselves, with the worker's traceback."""

from __future__ import annotations

import engine_tasks as tasks
import pytest

from qtcompute.errors import (
    NotPicklableError,
    RemoteError,
    RemoteTraceback,
    ResultNotPicklableError,
    WorkerCrashedError,
)


def test_exception_keeps_its_type_and_chains_the_worker_traceback(make_pool):
    future = make_pool(1).submit(tasks.fail, "bad input")
    with pytest.raises(ValueError, match="bad input") as info:
        future.result(timeout=30)
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "engine_tasks.py" in cause.tb and "in fail" in cause.tb
    assert "ValueError: bad input" in str(cause)
    assert isinstance(future.exception(), ValueError)


def test_exception_that_cannot_be_unpickled_becomes_remote_error(make_pool):
    future = make_pool(1).submit(tasks.raise_unpicklable_error)
    with pytest.raises(RemoteError) as info:
        future.result(timeout=30)
    assert info.value.type_name == "engine_tasks.UnpicklableError"
    assert "1-2" in str(info.value)
    assert "raise_unpicklable_error" in info.value.__cause__.tb


@pytest.mark.parametrize(
    ("fn", "args", "expected"),
    [
        (lambda x: x, (1,), "lambda"),
        (None, (1,), "defined inside another function"),
        (tasks.identity, (tasks.CrashAtPickle(),), "argument 1"),
    ],
    ids=["lambda", "closure", "poison-argument"],
)
def test_unpicklable_task_fails_at_submit_with_a_type_error(make_pool, fn, args, expected):
    if fn is None:

        def fn(x):
            return x

    pool = make_pool(1)
    with pytest.raises(TypeError) as info:
        pool.submit(fn, *args)
    assert isinstance(info.value, NotPicklableError)
    assert expected in str(info.value)
    assert "module level" in str(info.value)
    assert pool.submit(tasks.add, 1, 1).result(timeout=30) == 2, "the pool is unaffected"


def test_unpicklable_keyword_argument_is_named(make_pool):
    import threading

    with pytest.raises(NotPicklableError, match="keyword argument 'value'"):
        make_pool(1).submit(tasks.identity, value=threading.Lock())


def test_unpicklable_result_fails_the_task_and_the_worker_survives(make_pool):
    pool = make_pool(1)
    pid = pool.submit(tasks.getpid).result(timeout=60)
    with pytest.raises(ResultNotPicklableError, match="lock"):
        pool.submit(tasks.return_lock).result(timeout=30)
    assert pool.submit(tasks.getpid).result(timeout=30) == pid
    assert pool.stats().crashes == 0


def test_result_that_fails_to_unpickle_in_the_parent(make_pool):
    pool = make_pool(1)
    with pytest.raises(ResultNotPicklableError, match="could not be unpickled"):
        pool.submit(tasks.return_error_at_unpickle).result(timeout=30)
    assert pool.submit(tasks.add, 2, 2).result(timeout=30) == 4


def test_argument_that_fails_to_unpickle_in_the_worker(make_pool):
    pool = make_pool(1)
    with pytest.raises(RuntimeError, match="failed to unpickle on purpose"):
        pool.submit(tasks.identity, tasks.ErrorAtUnpickle()).result(timeout=30)
    assert pool.submit(tasks.add, 2, 2).result(timeout=30) == 4


def test_argument_that_exits_the_worker_at_unpickle(make_pool):
    pool = make_pool(1)
    with pytest.raises(WorkerCrashedError) as info:
        pool.submit(tasks.identity, tasks.ExitAtUnpickle()).result(timeout=30)
    assert info.value.exitcode == 7
    assert pool.submit(tasks.add, 2, 2).result(timeout=60) == 4
