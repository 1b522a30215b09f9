"""Smoke mode: the app's own ``main()`` runs headless, watched, and is closed as a user would.

``qtcompute build`` starts the app (frozen, and before that from source) with
``QTCOMPUTE_SMOKE=<result file>``. A PyInstaller runtime hook in the bundle (from source: a
``sitecustomize``; both in ``qtcompute/bundle/_inject``) calls :func:`activate` before the app's
first line. Without the variable it does nothing, so the shipped app behaves normally. The
variable is removed at once, so the app's children (workers, helpers, a relaunch) run normally.

What is watched, from the first line of the app to its exit:

- ``sys.excepthook``: an exception nobody caught in the GUI thread, including in a slot (PyQt5
  would abort the app; with a hook installed it carries on, and the failure is recorded);
- ``threading.excepthook``: the same in any other thread;
- every task submitted through a ``qtcompute.Pool`` (``submit``, ``schedule``, ``map``, and so
  ``TaskRunner``): one that ends with an exception is a failure, handled or not; a worker that
  crashes or cannot start is one too;
- ``logging.getLogger("qtcompute")``: an ERROR record is a failure (the engine logs a task
  exception that was never retrieved there);
- the Qt side (``_smoke_qt``): once the app's event loop runs and a window is up, the user's
  smoke script (``QTCOMPUTE_SMOKE_SCRIPT``), then idle (no task in flight, the loop not busy)
  for the settle time (``QTCOMPUTE_SMOKE_SETTLE``, seconds), then close events to the
  top-level windows, and the app's normal exit path.

The result is written as JSON at exit (and after each phase, in case the app is killed): a file,
because a windowed build has no stdout.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import threading
import time
import traceback
from typing import Any

SMOKE_ENV = "QTCOMPUTE_SMOKE"
SMOKE_SCRIPT_ENV = "QTCOMPUTE_SMOKE_SCRIPT"
SMOKE_SETTLE_ENV = "QTCOMPUTE_SMOKE_SETTLE"
SMOKE_TIMEOUT_ENV = "QTCOMPUTE_SMOKE_TIMEOUT"
DEFAULT_SETTLE = 2.0

_harness: Harness | None = None


def activate() -> None:
    """Start smoke mode in this process if ``QTCOMPUTE_SMOKE`` asks for it (else nothing)."""
    global _harness
    path = os.environ.pop(SMOKE_ENV, None)
    script = os.environ.pop(SMOKE_SCRIPT_ENV, None)
    settle = os.environ.pop(SMOKE_SETTLE_ENV, None)
    timeout = os.environ.pop(SMOKE_TIMEOUT_ENV, None)
    if not path or _harness is not None:
        return
    _harness = Harness(
        path,
        script=script or None,
        settle=float(settle) if settle else DEFAULT_SETTLE,
        timeout=float(timeout) if timeout else 60.0,
    )
    _harness.install()


def describe(exc: BaseException) -> str:
    """The exception and its chain (a task's ``__cause__`` holds the worker's traceback)."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()


def _task_name(fn: Any, args: tuple[Any, ...]) -> str:
    if getattr(fn, "__name__", "") == "_run_chunk" and args:  # Pool.map's chunks
        fn = args[0]
    return getattr(fn, "__qualname__", None) or repr(fn)


def _error_of(future: Any) -> BaseException | None:
    """A finished future's exception, read without retrieving it.

    ``future.exception()`` would mark it retrieved and silence the engine's "never retrieved"
    log: the app would behave differently under the smoke. ``_exception`` is where CPython's
    ``concurrent.futures.Future`` keeps it (3.2 to 3.14).
    """
    if future.cancelled():
        return None
    return getattr(future, "_exception", None)


class _LogCounter(logging.Handler):
    def __init__(self, harness: Harness) -> None:
        super().__init__(logging.ERROR)
        self.harness = harness

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += "\n" + describe(record.exc_info[1])
        except Exception:
            text = str(record.msg)
        self.harness.fail("logged error", f"{record.name}: {text}")
        if not self._others(record) and logging.lastResort is not None:
            logging.lastResort.handle(record)  # what the app prints without us: stderr

    def _others(self, record: logging.LogRecord) -> bool:
        """True if a handler besides us sees ``record`` (else Python's last resort would)."""
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None:
            if any(handler is not self for handler in logger.handlers):
                return True
            if not logger.propagate:
                return False
            logger = logger.parent
        return False


class Harness:
    """The watch over one app process in smoke mode (see the module docstring)."""

    def __init__(self, path: str, *, script: str | None, settle: float, timeout: float) -> None:
        self.path = path
        self.script = script
        self.settle = settle
        self.timeout = timeout
        self.lock = threading.Lock()
        self.failures: list[dict[str, str]] = []
        self.notes: list[str] = []
        self.phases: dict[str, float] = {}
        self.in_flight = 0
        self.tasks = 0
        self.pools = 0
        self._running: dict[int, tuple[str, float]] = {}
        self.last_activity = time.monotonic()
        self.started = time.time()
        self.smoke_status: int | None = None
        self.qt: dict[str, Any] | None = None
        self.windows: list[str] = []

    # --- what goes wrong --------------------------------------------------------------------

    def fail(self, kind: str, message: str) -> None:
        with self.lock:
            self.failures.append({"kind": kind, "message": message, "at": f"{self.elapsed():.2f}"})
        self.write()  # at once: an app that hangs on its way out is killed before atexit

    def fail_with(self, kind: str, exc: BaseException, context: str = "") -> None:
        """A failure whose message is ``context: `` and the exception with its traceback."""
        self.fail(kind, f"{context}: {describe(exc)}" if context else describe(exc))

    def phase(self, name: str) -> None:
        self.phases[name] = round(self.elapsed(), 3)
        self.write()

    def elapsed(self) -> float:
        return time.time() - self.started

    def install(self) -> None:
        previous_hook = sys.excepthook
        previous_thread_hook = threading.excepthook

        def excepthook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
            if not issubclass(kind, (SystemExit, KeyboardInterrupt)):
                where = (
                    "GUI thread"
                    if threading.current_thread() is threading.main_thread()
                    else (f"thread {threading.current_thread().name}")
                )
                self.fail_with(f"uncaught exception ({where})", exc)
            previous_hook(kind, exc, tb)

        def thread_excepthook(args: threading.ExceptHookArgs) -> None:
            if args.exc_value is not None and not isinstance(args.exc_value, SystemExit):
                name = args.thread.name if args.thread is not None else "?"
                self.fail_with(f"uncaught exception (thread {name})", args.exc_value)
            previous_thread_hook(args)

        sys.excepthook = excepthook
        threading.excepthook = thread_excepthook
        logging.getLogger("qtcompute").addHandler(_LogCounter(self))
        self._watch_pools()
        atexit.register(self._at_exit)
        from qtcompute.freeze import _smoke_qt

        _smoke_qt.start_watcher(self)
        self.phase("installed")

    # --- tasks ------------------------------------------------------------------------------

    def _watch_pools(self) -> None:
        from qtcompute.engine import Pool, WorkerState

        harness = self
        original_init, original_submit = Pool.__init__, Pool.submit
        original_schedule = Pool.schedule

        def init(pool: Any, *args: Any, **kwargs: Any) -> None:
            original_init(pool, *args, **kwargs)
            with harness.lock:
                harness.pools += 1

            def on_event(event: Any) -> None:
                if event.kind is WorkerState.CRASHED:
                    detail = event.detail or "no detail"
                    harness.fail("worker crashed", f"worker process {event.pid} died: {detail}")

            pool.subscribe(on_event)

        def submit(pool: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            return harness.track(original_submit(pool, fn, *args, **kwargs), fn, args)

        def schedule(pool: Any, fn: Any, args: Any = (), *rest: Any, **kwargs: Any) -> Any:
            args = tuple(args)
            return harness.track(original_schedule(pool, fn, args, *rest, **kwargs), fn, args)

        Pool.__init__ = init  # type: ignore[method-assign]
        Pool.submit = submit  # type: ignore[method-assign]
        Pool.schedule = schedule  # type: ignore[method-assign]

    def track(self, future: Any, fn: Any, args: tuple[Any, ...]) -> Any:
        name = _task_name(fn, args)
        with self.lock:
            self.in_flight += 1
            self.tasks += 1
            self.last_activity = time.monotonic()
            self._running[id(future)] = (name, self.last_activity)

        def done(finished: Any) -> None:
            error = _error_of(finished)
            with self.lock:
                self.in_flight -= 1
                self._running.pop(id(finished), None)
                self.last_activity = time.monotonic()
            if error is not None:
                self.fail_with("task failed", error, f"task {name} failed")

        future.add_done_callback(done)
        return future

    def running(self) -> list[tuple[str, float]]:
        """The tasks in flight: name and ``time.monotonic()`` of submission."""
        with self.lock:
            return list(self._running.values())

    def quiet_for(self) -> float:
        """Seconds since the last task started or ended, 0 while one is in flight."""
        with self.lock:
            if self.in_flight:
                return 0.0
            return time.monotonic() - self.last_activity

    # --- the result -------------------------------------------------------------------------

    def _at_exit(self) -> None:
        self.phase("exited")

    def write(self) -> None:
        with self.lock:
            data = {
                "version": 1,
                "pid": os.getpid(),
                "frozen": bool(getattr(sys, "frozen", False)),
                "failures": list(self.failures),
                "notes": list(self.notes),
                "phases": dict(self.phases),
                "tasks": self.tasks,
                "pools": self.pools,
                "in_flight": self.in_flight,
                "smoke_script": self.script,
                "smoke_status": self.smoke_status,
                "qt": self.qt,
                "windows": list(self.windows),
            }
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, self.path)
        except OSError:
            pass  # the verifier's folder is gone: nobody is listening any more
