"""Self-test mode: prove a (frozen) app can start its pool, without changing the app's code.

``qtcompute build`` runs the frozen executable with ``QTCOMPUTE_SELFTEST=<result file>``. The
first qtcompute call of the app's own process (``qtcompute.run()``, or ``Pool()`` when the app
forgot the entry point) then, instead of running the app:

1. starts a ``qtcompute.Pool`` and sends one task (time to the first worker result);
2. meanwhile, if the app imported a Qt binding, creates the application object and shows a
   widget on the platform plugin (``QT_QPA_PLATFORM=offscreen`` on a headless machine): this
   proves trimming left the plugins it needs;
3. round-trips a message through every worker (``Pool.ping``);
4. writes the result as JSON to the file, and exits 0 (1 if anything failed).

A file rather than stdout: a windowed build has no stdout.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qtcompute.engine import Pool

SELFTEST_ENV = "QTCOMPUTE_SELFTEST"
SELFTEST_WORKERS_ENV = "QTCOMPUTE_SELFTEST_WORKERS"
_TIMEOUT = 60.0

_active = False


def selftest_requested() -> str | None:
    """The result path if self-test mode is on and has not started yet in this process."""
    if _active:
        return None
    return os.environ.get(SELFTEST_ENV) or None


def probe(n: int) -> tuple[int, int]:
    """The self-test's task: a small computation, and which worker did it.

    It prints to stdout and stderr, as app tasks do: in a windowed build those are None, and
    the worker must survive that.
    """
    print(f"qtcompute self-test: worker {os.getpid()} computing")
    print(f"qtcompute self-test: worker {os.getpid()} stderr", file=sys.stderr)
    return os.getpid(), sum(i * i for i in range(n))


def run_selftest(path: str, pool_class: type[Pool]) -> int:
    """Run the self-test on a ``pool_class`` pool, write the result to ``path``, return the exit
    code (0 = passed). The caller names the class: the engine calls this module (through
    ``_guard``), so this module must not import the engine."""
    global _active
    _active = True
    os.environ.pop(SELFTEST_ENV, None)  # children must run normally
    result: dict[str, Any] = {
        "version": 1,
        "pid": os.getpid(),
        "frozen": bool(getattr(sys, "frozen", False)),
        "started_at": time.time(),
        "ok": False,
    }
    try:
        result.update(_exercise(pool_class))
        result["ok"] = True
    except BaseException as exc:  # a self-test reports every failure, including SystemExit
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        _write(path, result)
    return 0 if result["ok"] else 1


def _exercise(pool_class: type[Pool]) -> dict[str, Any]:
    workers_text = os.environ.get(SELFTEST_WORKERS_ENV)
    workers = int(workers_text) if workers_text else None
    with pool_class(workers) as pool:
        future = pool.submit(probe, 1000)
        qt = _qt_check()
        pid, value = future.result(timeout=_TIMEOUT)
        first_result_at = time.time()
        if value != sum(i * i for i in range(1000)):
            raise AssertionError(f"worker {pid} computed {value}")
        round_trips = pool.ping(timeout=_TIMEOUT)
        pids = sorted(pool.pids())
    return {
        "first_result_at": first_result_at,
        "first_result_pid": pid,
        "workers": len(round_trips),
        "round_trip_s": {str(k): v for k, v in round_trips.items()},
        "worker_pids": pids,
        "qt": qt,
        "finished_at": time.time(),
    }


def _qt_check() -> dict[str, Any] | None:
    """Start the Qt binding the app imported, if any, on its platform plugin."""
    for binding in ("PyQt5", "PySide6", "PyQt6", "PySide2"):
        if binding in sys.modules:
            break
    else:
        return None
    import importlib

    try:
        widgets = importlib.import_module(f"{binding}.QtWidgets")
    except ImportError:
        widgets = None
    if widgets is None:
        gui = importlib.import_module(f"{binding}.QtGui")
        app = gui.QGuiApplication.instance() or gui.QGuiApplication([sys.argv[0]])
    else:
        app = widgets.QApplication.instance() or widgets.QApplication([sys.argv[0]])
        widget = widgets.QLabel("qtcompute self-test")
        widget.show()
        app.processEvents()
        widget.close()
    return {"binding": binding, "platform": app.platformName()}


def _write(path: str, result: dict[str, Any]) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    os.replace(tmp, path)
