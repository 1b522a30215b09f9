"""Worker ``logging`` calls arrive in the parent as records, handled by the parent's loggers."""

from __future__ import annotations

import logging
import threading

import governance_tasks as tasks
import pytest

from qtcompute import Pool
from qtcompute.engine import _worker_logging


class Collect(logging.Handler):
    """A real handler in the parent: keeps what reaches it, and can be waited on.

    Records are handled by whichever pool thread read them: one logged just before a task
    returned may be handled just after ``result()`` returned, so tests wait for them.
    """

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self._arrived = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._arrived:
            self.records.append(record)
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[logging.LogRecord]:
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.records) >= count, timeout), (
                f"{len(self.records)} of {count} records arrived"
            )
            return list(self.records)


@pytest.fixture
def make_collector():
    """A handler on a logger (not propagating) at a level; all restored afterwards."""
    made: list[tuple[logging.Logger, Collect, int]] = []

    def make(name: str, level: int = logging.INFO) -> Collect:
        logger = logging.getLogger(name)
        handler = Collect()
        made.append((logger, handler, logger.level))
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
        return handler

    yield make
    for logger, handler, level in made:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = True


@pytest.fixture
def collect(make_collector):
    """A handler on logger ``app`` at INFO."""
    return make_collector("app")


def test_records_reach_the_parents_handler_with_their_fields(make_pool, collect):
    pool = make_pool(1)
    pid = pool.submit(tasks.log_at_every_level, "app.worker").result(timeout=60)
    records = collect.wait_for(3)
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


def test_a_library_logging_in_the_worker_reaches_the_parent(make_pool, make_collector):
    """asyncio's own debug() call, in a worker, at the level the parent set for asyncio."""
    collect = make_collector("asyncio", logging.DEBUG)
    pool = make_pool(1)
    pid = pool.submit(tasks.make_an_event_loop).result(timeout=60)
    (record,) = collect.wait_for(1)
    assert record.levelno == logging.DEBUG and record.getMessage().startswith("Using selector")
    assert record.process == pid and "asyncio" in record.pathname


def test_exception_text_travels_with_the_record(make_pool, collect):
    pool = make_pool(1)
    pool.submit(tasks.log_exception, "app.errors").result(timeout=60)
    (record,) = collect.wait_for(1)
    assert record.levelno == logging.ERROR and record.exc_info is None
    assert "KeyError: 'missing'" in record.exc_text and "log_exception" in record.exc_text
    text = logging.Formatter().format(record)
    assert "lookup failed in the worker" in text and "KeyError: 'missing'" in text, "formatted"


def test_plain_extra_attributes_travel_and_others_are_dropped(make_pool, collect):
    pool = make_pool(1)
    pool.submit(tasks.log_with_extra, "app.extra").result(timeout=60)
    (record,) = collect.wait_for(1)
    assert record.job == "j-42" and not hasattr(record, "obj")


def test_the_worker_follows_the_parents_levels_and_their_changes(make_pool, collect):
    pool = make_pool(2)
    assert not pool.submit(tasks.logger_enabled_for, "app.x", logging.DEBUG).result(timeout=60)
    assert pool.submit(tasks.logger_enabled_for, "app.x", logging.INFO).result(timeout=60)
    logging.getLogger("app").setLevel(logging.DEBUG)  # after the workers started
    futures = [pool.submit(tasks.logger_enabled_for, "app.x", logging.DEBUG) for _ in range(4)]
    assert all(f.result(timeout=60) for f in futures), "the change reached every worker"
    pool.submit(tasks.log_at_every_level, "app.y").result(timeout=60)
    assert [r.levelname for r in collect.wait_for(4)] == ["DEBUG", "INFO", "WARNING", "ERROR"]
    logging.getLogger("app").setLevel(logging.ERROR)
    assert not pool.submit(tasks.logger_enabled_for, "app.x", logging.WARNING).result(timeout=60)


def test_a_silent_logger_sends_nothing(make_pool, collect):
    pool = make_pool(1)
    assert pool.submit(tasks.debug_in_a_loop, "app.loop", 100_000).result(timeout=60) == 100_000
    pool.submit(tasks.log_and_print, "app.loop").result(timeout=60)  # a WARNING as a marker
    assert [r.getMessage() for r in collect.wait_for(1)] == ["logged by the worker"]


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


def test_the_change_probe_survives_dict_config():
    """dictConfig (and fileConfig) disable every existing logger by default, the probe too; a
    disabled logger never fills its cache, so levels would be sent to every worker on every
    submit from then on."""
    import logging.config

    disabled = {
        name: logger.disabled
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    handlers, level = list(logging.root.handlers), logging.root.level
    try:
        logging.config.dictConfig({"version": 1, "root": {"level": "WARNING"}})
        _worker_logging.snapshot()
        assert _worker_logging.PROBE_CACHE, "armed by the snapshot after dictConfig"
    finally:
        for name, was in disabled.items():
            logging.getLogger(name).disabled = was
        logging.root.handlers[:] = handlers
        logging.root.setLevel(level)


class Raising(logging.Handler):
    """A handler that raises from emit (a Qt log view whose widget was deleted does:
    "wrapped C/C++ object has been deleted")."""

    def emit(self, record: logging.LogRecord) -> None:
        raise RuntimeError("wrapped C/C++ object of type QPlainTextEdit has been deleted")


def test_a_parent_handler_that_raises_loses_no_task(make_pool, capfd):
    handler = Raising()
    logging.root.addHandler(handler)
    try:
        pool = make_pool(1)
        futures = [pool.submit(tasks.log_warning_and_return, "app.raising", n) for n in range(3)]
        assert [f.result(timeout=60) for f in futures] == [0, 1, 2]
        assert pool.submit(tasks.square, 7).result(timeout=60) == 49
        pool.shutdown(wait=True)  # every record handled
    finally:
        logging.root.removeHandler(handler)
    err = capfd.readouterr().err
    assert "has been deleted" in err and "about to return 2" in err, "said, not lost"


def test_a_record_that_cannot_be_formatted_still_arrives(make_pool, collect):
    """In-process, logging reports such a call ("--- Logging error ---"); from a worker it must
    not vanish either: it arrives, its message saying what could not be formatted."""
    pool = make_pool(1)
    assert pool.submit(tasks.log_a_bad_format, "app.bad").result(timeout=60) == "went on"
    (record,) = collect.wait_for(1)
    message = record.getMessage()
    assert "%d items" in message and "not a number" in message and "TypeError" in message
    assert record.levelno == logging.WARNING and record.name == "app.bad"


def test_a_level_change_reaches_every_pool(make_pool, collect):
    """The change probe is one for the process: the first pool to submit after a change must
    not hide it from the others."""
    first, second = make_pool(1), make_pool(1)
    for pool in (first, second):
        assert not pool.submit(tasks.logger_enabled_for, "app.x", logging.DEBUG).result(60)
    logging.getLogger("app").setLevel(logging.DEBUG)
    assert first.submit(tasks.logger_enabled_for, "app.x", logging.DEBUG).result(timeout=60)
    assert second.submit(tasks.logger_enabled_for, "app.x", logging.DEBUG).result(timeout=60)


def test_records_logged_at_worker_exit_and_by_its_threads_arrive(make_pool, collect):
    """A worker replaced after its task (max_tasks_per_child) still sends what it logs on its
    way out: from a thread that outlived the task, and from an atexit handler."""
    pool = make_pool(1, max_tasks_per_child=1)
    pool.submit(tasks.log_at_exit_and_from_a_thread, "app.exit").result(timeout=60)
    expected = ["logged by a thread"]
    if pool.start_method == "spawn":
        expected.insert(0, "logged at exit")
    messages = sorted(r.getMessage() for r in collect.wait_for(len(expected)))
    assert messages == expected


@pytest.mark.skipif(not hasattr(__import__("signal"), "setitimer"), reason="POSIX timers")
def test_a_signal_handler_that_logs_in_the_middle_of_a_send_does_not_hang_the_worker(
    make_pool, make_collector
):
    collect = make_collector("app.signal", logging.WARNING)
    pool = make_pool(1, task_timeout=30)  # a hung worker fails the test instead of hanging it
    total = pool.submit(tasks.log_while_a_signal_handler_logs, 20_000).result(timeout=60)
    assert total > 20_000, "the handler ran"
    assert len(collect.wait_for(total)) == total, "every record arrived"
