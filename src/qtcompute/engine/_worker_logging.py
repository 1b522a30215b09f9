"""Worker ``logging`` calls arrive in the parent as ``LogRecord``s, handled by its loggers.

Owns the worker's handler that sends records (:func:`install`), the parent's side that handles
them (:func:`handle`), and the parent's levels sent to the workers (:func:`snapshot`,
:func:`levels_now`, :func:`apply`). The design, and how a change of levels is noticed:
``docs/engine.md``, "Worker logging".
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from typing import Any, NamedTuple

_PROBE = logging.getLogger("qtcompute._level_probe")
# Empty when levels may have changed since the last snapshot (see the module docstring).
PROBE_CACHE: dict[Any, Any] = getattr(_PROBE, "_cache", None)  # type: ignore[assignment]
if not isinstance(PROBE_CACHE, dict):
    PROBE_CACHE = {"no level cache": True}  # never empty: levels go at worker start only

_PLAIN = (str, int, float, bool, type(None))


class LogLevels(NamedTuple):
    """The parent's logging levels: the root's, ``logging.disable``'s, and every logger's that
    has one of its own."""

    root: int
    disable: int
    loggers: tuple[tuple[str, int], ...]


# --- in the parent ---------------------------------------------------------------------------


def snapshot(*, rearm: bool = True) -> LogLevels:
    """The parent's levels now. ``rearm``: for every worker (sent by ``submit``), so a change
    after this one is seen; not for one new worker, which must not hide a change from the
    others."""
    if rearm:
        # Before reading: a change made while we read clears the cache, and is seen next time.
        # A disabled logger fills no cache, and dictConfig/fileConfig disable existing loggers.
        _PROBE.disabled = False
        _PROBE.isEnabledFor(logging.CRITICAL)
    manager = logging.Logger.manager
    loggers = tuple(
        (name, logger.level)
        for name, logger in list(manager.loggerDict.items())
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET
    )
    return LogLevels(logging.root.level, manager.disable, loggers)


_changes = threading.Lock()
generation = 0
"""Bumped each time the probe finds that levels may have changed. The probe is one for the
process, so each pool compares this with the generation its workers have: the first pool to
submit after a change must not hide it from the others."""
_latest: LogLevels | None = None


def levels_now() -> tuple[int, LogLevels]:
    """The parent's levels and their generation (a new snapshot only if they may have
    changed since the last one)."""
    global generation, _latest
    with _changes:
        if not PROBE_CACHE or _latest is None:
            _latest = snapshot()
            generation += 1
        return generation, _latest


def handle(record_fields: dict[str, Any]) -> None:
    """Hand a worker's record to the parent's logger of the same name."""
    record = logging.makeLogRecord(record_fields)
    logger = logging.getLogger(record.name) if record.name != "root" else logging.root
    # Checked again: the level may have changed here since the worker decided to send it.
    if logger.isEnabledFor(record.levelno):
        try:
            logger.handle(record)
        except Exception:
            # A handler that raises (a log view whose widget is gone) must not take the pool's
            # thread and its tasks with it; nor can it be logged through the same handlers.
            _report_handler_error(record)


def _report_handler_error(record: logging.LogRecord) -> None:
    """What ``logging.Handler.handleError`` does: the traceback on stderr, if there is one."""
    stream = sys.stderr
    if not logging.raiseExceptions or stream is None:
        return
    try:
        stream.write(
            f"--- Logging error: a handler of logger {record.name!r} raised while handling a "
            f"worker's record ({record.getMessage()!r}) ---\n"
        )
        traceback.print_exc(file=stream)
    except Exception:
        pass  # stderr itself is broken: nowhere left to say it


# --- in the worker ---------------------------------------------------------------------------

_applied: set[str] = set()  # loggers whose level the parent set (reset when it unsets them)


def install(send: Any, levels: LogLevels | None) -> None:
    """Forward the worker's records with ``send(fields)``; take the parent's levels.

    Handlers already there go: they are copies of the parent's (``fork``) or were added by the
    main module's import-time code (``spawn`` re-imports it), and each record would otherwise be
    written twice, once here and once by the parent. Handlers the initializer adds stay.
    """
    if levels is not None:
        apply(levels)
    loggers = [logging.root, *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        if isinstance(logger, logging.Logger):
            for handler in list(logger.handlers):
                if not isinstance(handler, logging.NullHandler):
                    logger.removeHandler(handler)
    logging.root.addHandler(_ForwardHandler(send))


def apply(levels: LogLevels) -> None:
    named = dict(levels.loggers)
    for name in _applied - named.keys():
        logging.getLogger(name).setLevel(logging.NOTSET)
    for name, level in named.items():
        logging.getLogger(name).setLevel(level)
    _applied.clear()
    _applied.update(named)
    logging.root.setLevel(levels.root)
    logging.disable(levels.disable)


class _ForwardHandler(logging.Handler):
    """Sends every record that reaches the worker's root logger to the pool."""

    def __init__(self, send: Any) -> None:
        super().__init__()
        self._send = send
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._send(_fields(record, self._formatter))
        except Exception:
            pass  # the parent is gone or the pipe is closing: dropped, never fatal to the task

    def handleError(self, record: logging.LogRecord) -> None:
        pass  # would print to the worker's stderr, which may be the very thing that failed


def _fields(record: logging.LogRecord, formatter: logging.Formatter) -> dict[str, Any]:
    """The record as plain data (QueueHandler.prepare's rules): the message formatted once
    here, exception and stack as text; extra attributes kept when they are plain values."""
    fields = {key: value for key, value in record.__dict__.items() if type(value) in _PLAIN}
    try:
        fields["msg"] = record.getMessage()
    except Exception as exc:  # a bug in the logging call: said, as logging says it in-process
        fields["msg"] = (
            f"(logging could not format this message: {type(exc).__name__}: {exc}) "
            f"{record.msg!r} % {record.args!r}"
        )
    fields["args"] = None
    fields["exc_info"] = None
    if record.exc_info and not record.exc_text:
        fields["exc_text"] = formatter.formatException(record.exc_info)
    return fields
