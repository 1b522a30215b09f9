"""Worker ``logging`` calls arrive in the parent as records, handled by the parent's loggers."""

from __future__ import annotations

import logging

import governance_tasks as tasks
import pytest

from qtcompute import Pool
from qtcompute.engine import _worker_logging


class Collect(logging.Handler):
    """A real handler in the parent: keeps what reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collect():
    """A handler on logger ``app`` (not propagating) at INFO; levels restored afterwards."""
    logger = logging.getLogger("app")
    handler = Collect()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


def test_records_reach_the_parents_handler_with_their_fields(make_pool, collect):
    pool = make_pool(1)
    pid = pool.submit(tasks.log_at_every_level, "app.worker").result(timeout=60)
    records = collect.records
    assert [(r.name, r.levelname, r.getMessage()) for r in records] == [
        ("app.worker", "INFO", f"info from {pid}"),
        ("app.worker", "WARNING", f"warning from {pid}"),
        ("app.worker", "ERROR", f"error from {pid}"),
    ], "levels below the parent's (DEBUG) are not sent"
    record = records[0]
    assert record.process == pid and record.processName.startswith("qtcompute-worker")
    assert record.funcName == "log_at_every_level"
    assert record.pathname == tasks.__file__
    assert isinstance(record, logging.LogRecord)


def test_exception_text_travels_with_the_record(make_pool, caplog):
    caplog.set_level(logging.INFO)
    pool = make_pool(1)
    pool.submit(tasks.log_exception, "app.errors").result(timeout=60)
    (record,) = [r for r in caplog.records if r.name == "app.errors"]
    assert record.levelno == logging.ERROR and record.exc_info is None
    assert "KeyError: 'missing'" in record.exc_text and "log_exception" in record.exc_text
    assert "KeyError: 'missing'" in caplog.text, "formatted by the parent's handler"


def test_plain_extra_attributes_travel_and_others_are_dropped(make_pool, collect):
    pool = make_pool(1)
    pool.submit(tasks.log_with_extra, "app.extra").result(timeout=60)
    (record,) = collect.records
    assert record.job == "j-42" and not hasattr(record, "obj")


def test_the_worker_follows_the_parents_levels_and_their_changes(make_pool, collect):
    pool = make_pool(2)
    assert not pool.submit(tasks.logger_enabled_for, "app.x", logging.DEBUG).result(timeout=60)
    assert pool.submit(tasks.logger_enabled_for, "app.x", logging.INFO).result(timeout=60)
    logging.getLogger("app").setLevel(logging.DEBUG)  # after the workers started
    futures = [pool.submit(tasks.logger_enabled_for, "app.x", logging.DEBUG) for _ in range(4)]
    assert all(f.result(timeout=60) for f in futures), "the change reached every worker"
    pool.submit(tasks.log_at_every_level, "app.y").result(timeout=60)
    assert [r.levelname for r in collect.records][:1] == ["DEBUG"]
    logging.getLogger("app").setLevel(logging.ERROR)
    assert not pool.submit(tasks.logger_enabled_for, "app.x", logging.WARNING).result(timeout=60)


def test_a_silent_logger_sends_nothing(make_pool, collect):
    pool = make_pool(1)
    assert pool.submit(tasks.debug_in_a_loop, "app.loop", 100_000).result(timeout=60) == 100_000
    assert collect.records == []


def test_logging_disable_in_the_parent_reaches_the_worker(make_pool, collect):
    pool = make_pool(1)
    logging.disable(logging.CRITICAL)
    try:
        assert not pool.submit(tasks.logger_enabled_for, "app", logging.ERROR).result(timeout=60)
    finally:
        logging.disable(logging.NOTSET)
    assert pool.submit(tasks.logger_enabled_for, "app", logging.ERROR).result(timeout=60)


def test_print_still_goes_to_the_stream_and_logging_to_the_logger(capfd, collect):
    # spawn: forkserver workers inherit the server's descriptors, not this test's captured ones
    with Pool(1, start_method="spawn") as pool:
        pool.submit(tasks.log_and_print, "app.both").result(timeout=60)
    assert "printed by the worker" in capfd.readouterr().out
    assert [r.getMessage() for r in collect.records] == ["logged by the worker"]


def test_level_changes_are_seen_through_loggings_own_cache():
    """The change probe relies on Logger.setLevel clearing every logger's level cache
    (CPython 3.7+, checked on 3.10-3.13): if that ever stops, this fails."""
    _worker_logging.snapshot()
    assert _worker_logging.PROBE_CACHE, "armed by the snapshot"
    logger = logging.getLogger("app.probe")
    logger.setLevel(logging.DEBUG)
    try:
        assert not _worker_logging.PROBE_CACHE, "setLevel anywhere empties it"
    finally:
        logger.setLevel(logging.NOTSET)
    _worker_logging.snapshot()
    logging.disable(logging.NOTSET)
    assert not _worker_logging.PROBE_CACHE, "so does logging.disable"
