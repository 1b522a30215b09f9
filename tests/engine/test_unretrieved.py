"""A task error nobody retrieves is logged once, with the worker's traceback (as asyncio does)."""

from __future__ import annotations

import gc
import logging

import engine_tasks as tasks
import pytest

from qtcompute import Pool

MESSAGE = "Task exception was never retrieved"


def never_retrieved(caplog) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name.startswith("qtcompute") and r.getMessage().startswith(MESSAGE)
    ]


@pytest.fixture
def pool():
    pool = Pool(1, start_method="spawn")
    yield pool
    pool.shutdown(wait=True, cancel_futures=True, stop_running=True)


def test_a_collected_future_with_an_unseen_error_is_logged_once(pool, caplog):
    future = pool.submit(tasks.fail, "nobody looked")
    pool.submit(tasks.add, 1, 1).result(timeout=60)  # one worker: the failure came first
    assert future.done()
    del future
    gc.collect()
    (record,) = never_retrieved(caplog)
    assert record.levelno == logging.ERROR
    assert "task fail failed with ValueError" in record.getMessage()
    text = caplog.text
    assert "ValueError: nobody looked" in text
    assert "engine_tasks.py" in text and "in fail" in text, "the worker's traceback is logged"


@pytest.mark.parametrize("how", ["result", "exception", "done-callback"])
def test_a_retrieved_error_is_not_logged(pool, caplog, how):
    future = pool.submit(tasks.fail, "seen")
    if how == "result":
        with pytest.raises(ValueError):
            future.result(timeout=60)
    elif how == "exception":
        assert isinstance(future.exception(timeout=60), ValueError)
    else:
        seen = []
        future.add_done_callback(lambda f: seen.append(f.exception()))
        pool.submit(tasks.add, 1, 1).result(timeout=60)
        assert isinstance(seen[0], ValueError)
    del future
    gc.collect()
    pool.shutdown()
    assert never_retrieved(caplog) == []


def test_an_unseen_error_is_logged_when_the_pool_shuts_down_and_only_then(caplog):
    pool = Pool(1, start_method="spawn")
    future = pool.submit(tasks.fail, "kept but never looked at")
    pool.submit(tasks.add, 1, 1).result(timeout=60)
    assert never_retrieved(caplog) == []
    pool.shutdown(wait=True)
    assert len(never_retrieved(caplog)) == 1
    assert isinstance(future.exception(), ValueError)  # still there for a late look
    del future
    gc.collect()
    assert len(never_retrieved(caplog)) == 1, "logged once, not again when collected"


def test_a_pickling_failure_nobody_looks_at_is_logged(pool, caplog):
    pool.submit(tasks.identity, tasks.CrashAtPickle())
    gc.collect()
    (record,) = never_retrieved(caplog)
    assert "NotPicklableError" in record.getMessage()
    assert "argument 1" in caplog.text


def test_a_crashed_worker_nobody_looks_at_is_logged(pool, caplog):
    future = pool.submit(tasks.exit_now, 3)
    pool.submit(tasks.add, 1, 1).result(timeout=60)
    del future
    gc.collect()
    (record,) = never_retrieved(caplog)
    assert "WorkerCrashedError" in record.getMessage()
