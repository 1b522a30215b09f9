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


def test_a_nested_function_fails_its_future_with_an_explanation(make_pool):
    def fn(x):
        return x

    pool = make_pool(1)
    error = pool.submit(fn, 1).exception()
    assert isinstance(error, NotPicklableError)
    assert "defined inside another function" in str(error) and "module level" in str(error)
    assert error.__traceback__ is None, "no frame (and so no argument) is kept alive"
    assert pool.submit(tasks.add, 1, 1).result(timeout=30) == 2, "the pool is unaffected"


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
