"""Smoke mode, the Qt side: find the app's event loop, run the smoke script, settle, close.

The harness starts before the app's first line, long before there is a ``QApplication``, and
must not import a Qt binding itself (qtpy picks its binding from what is imported). A daemon
thread looks for the application object of whichever binding the app imported; once it exists,
the thread posts an event to an object moved to the GUI thread. The event is delivered when the
app's event loop runs (``exec()``, or ``processEvents()``), and from then on everything happens
in the GUI thread, driven by a timer:

    WAIT_WINDOW  until a top-level window is visible (or the wait runs out: noted)
    SCRIPT       the user's smoke script, once (it may wait on the loop through wait_until)
    SETTLE       until no task is in flight and the loop has not been busy for `settle` s
    CLOSE        close() every visible top-level window (the app gets its close events);
                 if the app is still running some seconds later, QCoreApplication.quit()

An app that ends on its own before any of this is fine: the result is written at exit.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qtcompute.freeze._smoke import Harness

BINDINGS = ("PyQt5", "PySide6", "PyQt6", "PySide2")
_POLL = 0.02  # seconds between looks for the application object (start-up only)
_TICK_MS = 50
_LATE = 0.25  # a tick this late means the event loop was busy
_WINDOW_WAIT = 15.0
_QUIT_AFTER = 5.0

_keep: list[Any] = []  # the driver objects live as long as the process


def start_watcher(harness: Harness) -> None:
    thread = threading.Thread(
        target=_find_app, args=(harness,), name="qtcompute-smoke", daemon=True
    )
    thread.start()


def _find_app(harness: Harness) -> None:
    while True:
        for binding in BINDINGS:
            core = sys.modules.get(f"{binding}.QtCore")
            if core is None:
                continue
            app = core.QCoreApplication.instance()
            if app is not None:
                _post_start(harness, binding, core, app)
                return
        time.sleep(_POLL)


def _post_start(harness: Harness, binding: str, core: Any, app: Any) -> None:
    """Hand over to the GUI thread: an event to an object living there."""
    event_type = getattr(getattr(core.QEvent, "Type", None), "User", None) or core.QEvent.User

    class Starter(core.QObject):  # type: ignore[misc, name-defined]
        def event(self, event: Any) -> bool:
            if event.type() == event_type:
                driver = Driver(harness, binding, core, app)
                _keep.append(driver)
                driver.begin()
                return True
            return bool(super().event(event))

    starter = Starter()
    starter.moveToThread(app.thread())
    _keep.append(starter)
    core.QCoreApplication.postEvent(starter, core.QEvent(event_type))


class Driver:
    """The smoke run's state machine, in the GUI thread (see the module docstring)."""

    def __init__(self, harness: Harness, binding: str, core: Any, app: Any) -> None:
        self.harness = harness
        self.binding = binding
        self.core = core
        self.app = app
        self.state = "WAIT_WINDOW"
        self.since = time.monotonic()
        self.last_tick = time.monotonic()
        self.busy_until = time.monotonic()
        self.timer = core.QTimer()
        self.timer.setInterval(_TICK_MS)
        self.timer.timeout.connect(self.tick)
        try:
            self.widgets: Any = importlib.import_module(f"{binding}.QtWidgets")
        except ImportError:
            self.widgets = None

    def begin(self) -> None:
        platform = getattr(self.app, "platformName", lambda: None)()
        self.harness.qt = {"binding": self.binding, "platform": platform}
        self.harness.phase("event loop")
        self.timer.start()

    def top_level(self) -> list[Any]:
        """Visible top-level windows: widgets first, then plain QWindows (QML, QWindow apps)."""
        shown: list[Any] = []
        if self.widgets is not None and isinstance(self.app, self.widgets.QApplication):
            shown += [w for w in self.app.topLevelWidgets() if w.isVisible() and w.isWindow()]
        windows = getattr(self.app, "topLevelWindows", None)
        if windows is not None and not shown:
            shown += [w for w in windows() if w.isVisible()]
        return shown

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.last_tick > _TICK_MS / 1000 + _LATE:
            self.busy_until = now  # the loop was blocked: not idle
        self.last_tick = now
        try:
            getattr(self, f"_{self.state.lower()}")(now)
        except BaseException as exc:  # the harness must never take the app down
            from qtcompute.freeze._smoke import describe

            self.harness.fail("smoke harness", describe(exc))
            self.state = "CLOSE"

    def _wait_window(self, now: float) -> None:
        windows = self.top_level()
        if not windows and now - self.since < _WINDOW_WAIT:
            return
        if not windows:
            self.harness.notes.append(f"no window was shown within {_WINDOW_WAIT:.0f} s")
        self.harness.windows = [_title(w) for w in windows]
        self.harness.phase("window up")
        self.state = "SCRIPT" if self.harness.script else "SETTLE"
        self.since = now

    def _script(self, now: float) -> None:
        self.timer.stop()  # the script runs nested event loops; no tick meanwhile
        try:
            self.harness.smoke_status = run_script(self.harness, self)
        finally:
            self.harness.phase("smoke script")
            self.state = "SETTLE"
            self.since = self.last_tick = self.busy_until = time.monotonic()
            self.timer.start()

    def _settle(self, now: float) -> None:
        quiet = min(self.harness.quiet_for(), now - self.busy_until)
        if quiet >= self.harness.settle:
            self.harness.phase("settled")
            self.close_all()
            self.state = "CLOSE"
            self.since = now
        elif now - self.since > self.harness.timeout:
            self.harness.fail(
                "not idle",
                f"the app did not become idle within {self.harness.timeout:.0f} s "
                f"({self.harness.in_flight} task(s) in flight)",
            )
            self.close_all()
            self.state = "CLOSE"
            self.since = now

    def close_all(self) -> None:
        for window in self.top_level():
            window.close()

    def _close(self, now: float) -> None:
        if now - self.since > _QUIT_AFTER:
            self.harness.notes.append(
                f"the app was still running {_QUIT_AFTER:.0f} s after its windows were closed; "
                "asked it to quit (QCoreApplication.quit())"
            )
            self.core.QCoreApplication.quit()
            self.timer.stop()


def _title(window: Any) -> str:
    title = window.windowTitle() if hasattr(window, "windowTitle") else ""
    return f"{type(window).__name__}: {title}" if title else type(window).__name__


def run_script(harness: Harness, driver: Driver) -> int:
    """Run the user's smoke script in the GUI thread; its exit status (0 passed)."""
    from qtcompute.freeze._smoke import describe

    path = harness.script or ""
    try:
        qttest = importlib.import_module(f"{driver.binding}.QtTest")
        source = Path(path).read_text(encoding="utf-8")
        code = compile(source, path, "exec")
    except BaseException as exc:
        harness.fail("smoke script", f"cannot run the smoke script {path}: {describe(exc)}")
        return 2
    windows = driver.top_level()
    namespace = {
        "__name__": "__smoke__",
        "__file__": path,
        "app": driver.app,
        "windows": windows,
        "window": windows[0] if windows else None,
        "QTest": qttest.QTest,
        "Qt": driver.core.Qt,
        "wait_until": _make_wait_until(qttest.QTest),
    }
    try:
        exec(code, namespace)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if status:
            harness.fail("smoke script", f"the smoke script {path} exited with status {status}")
        return status
    except BaseException as exc:
        harness.fail("smoke script", f"the smoke script {path} failed: {describe(exc)}")
        return 1
    return 0


def _make_wait_until(qtest: Any) -> Any:
    def wait_until(condition: Any, timeout: float = 10.0, message: str = "") -> None:
        """Keep the event loop running until ``condition()`` is true; raise after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                what = message or getattr(condition, "__name__", "the condition")
                raise TimeoutError(f"{what} did not become true within {timeout:g} s")
            qtest.qWait(10)

    return wait_until
