"""Smoke mode, the Qt side: find the app's event loop, run the smoke script, settle, close.

The harness starts before the app's first line, long before there is a ``QApplication``, and
must not import a Qt binding itself (qtpy picks its binding from what is imported). A finder on
``sys.meta_path`` lets the app's import of ``<binding>.QtCore`` through and, right after it,
posts an event to an object of ours in the importing (GUI) thread. Qt keeps posted events until
that thread's event loop runs, so the event arrives once the app runs ``exec()`` (or
``processEvents()``), with the application object made. (Asking for the application object
from another thread instead crashes: the binding may be half-way through importing a module.)
From then on everything happens in the GUI thread, driven by a timer:

    WAIT_WINDOW  until a top-level window is visible (or the wait runs out: noted); a modal
                 dialog shown before any window (a welcome box) is dismissed and noted
    SCRIPT       the user's smoke script, once (it may wait on the loop through wait_until)
    SETTLE       until no task is in flight and the loop has not been busy for `settle` s;
                 at most the smoke timeout: a task running all along fails, periodic work
                 (a timer's tasks) is noted and the app closed anyway
    CLOSE        close() every visible top-level window (the app gets its close events);
                 if the app is still running some seconds later, QCoreApplication.quit()

An app that ends on its own before any of this is fine: the result is written at exit.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    from qtcompute.freeze._smoke import Harness

BINDINGS = ("PyQt5", "PySide6", "PyQt6", "PySide2")
_TICK_MS = 50
_LATE = 0.25  # a tick this late means the event loop was busy
_WINDOW_WAIT = 15.0
_QUIT_AFTER = 5.0
_MAX_DIALOGS = 5  # start-up dialogs dismissed before the one that comes is taken as the window

_keep: list[Any] = []  # the driver objects live as long as the process


def start_watcher(harness: Harness) -> None:
    """Arrange for the driver to start in the app's event loop, whichever binding it imports."""
    for binding in BINDINGS:
        core = sys.modules.get(f"{binding}.QtCore")
        if core is not None:  # imported before us (another runtime hook)
            _post_start(harness, binding, core)
            return
    sys.meta_path.insert(0, _QtCoreFinder(harness))


class _QtCoreFinder(importlib.abc.MetaPathFinder):
    """Lets the first import of a binding's QtCore through, then posts the start event."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.busy = False

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        binding, _, module = name.partition(".")
        if module != "QtCore" or binding not in BINDINGS or self.busy:
            return None
        self.busy = True  # find the real spec through the other finders
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.busy = False
        if spec is None or spec.loader is None:
            return None
        spec.loader = _ThenStart(spec.loader, self, binding)
        return spec

    def loaded(self, binding: str, core: ModuleType) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        _post_start(self.harness, binding, core)


class _ThenStart(importlib.abc.Loader):
    def __init__(self, loader: Any, finder: _QtCoreFinder, binding: str) -> None:
        self.loader = loader
        self.finder = finder
        self.binding = binding

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        self.finder.loaded(self.binding, module)


def _post_start(harness: Harness, binding: str, core: Any) -> None:
    """An event to an object of ours in this thread, delivered once its event loop runs."""
    event_type = getattr(getattr(core.QEvent, "Type", None), "User", None) or core.QEvent.User

    class Starter(core.QObject):  # type: ignore[misc, name-defined]
        def event(self, event: Any) -> bool:
            if event.type() == event_type:
                app = core.QCoreApplication.instance()
                if app is not None:
                    driver = Driver(harness, binding, core, app)
                    _keep.append(driver)
                    driver.begin()
                return True
            return bool(super().event(event))

    starter = Starter()
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
        self.dismissed = 0
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
            self.harness.fail_with("smoke harness", exc)
            self.state = "CLOSE"

    def _wait_window(self, now: float) -> None:
        windows = self.top_level()
        dialog = self.start_up_dialog(windows)
        if dialog is not None:  # the user would answer it; the smoke script wants the main window
            self.harness.notes.append(f"dismissed a start-up dialog ({_title(dialog)})")
            self.dismissed += 1
            dialog.reject()
            self.since = now
            return
        if not windows and now - self.since < _WINDOW_WAIT:
            return
        if not windows:
            self.harness.notes.append(f"no window was shown within {_WINDOW_WAIT:.0f} s")
        self.harness.windows = [_title(w) for w in windows]
        self.harness.phase("window up")
        self.state = "SCRIPT" if self.harness.script else "SETTLE"
        self.since = now

    def start_up_dialog(self, windows: list[Any]) -> Any:
        """A modal dialog shown before any other window (a welcome box, a licence question)."""
        if self.widgets is None or self.dismissed >= _MAX_DIALOGS or len(windows) != 1:
            return None
        modal = self.app.activeModalWidget()
        if modal is windows[0] and isinstance(modal, self.widgets.QDialog):
            return modal
        return None

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
            self.give_up_settling(now)
            self.close_all()
            self.state = "CLOSE"
            self.since = now

    def give_up_settling(self, now: float) -> None:
        """Never idle: a task stuck all along fails; periodic work (a timer's tasks) is noted."""
        timeout = self.harness.timeout
        stuck = [name for name, started in self.harness.running() if now - started >= timeout]
        if stuck:
            self.harness.fail(
                "not idle",
                f"task {', '.join(stuck)} still running after {timeout:.0f} s, so the app never "
                "became idle: a task that never ends, or one slower than the smoke run allows "
                "(give a --smoke script that waits for it, or make the task end)",
            )
            return
        self.harness.notes.append(
            f"the app never stayed idle for {self.harness.settle:g} s within {timeout:.0f} s "
            f"({self.harness.tasks} task(s) ran; a timer's periodic work keeps it busy); "
            "closed it anyway. A shorter --settle lets such an app settle sooner"
        )

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
    path = harness.script or ""
    try:
        qttest = importlib.import_module(f"{driver.binding}.QtTest")
        source = Path(path).read_text(encoding="utf-8")
        code = compile(source, path, "exec")
    except BaseException as exc:
        harness.fail_with("smoke script", exc, f"cannot run the smoke script {path}")
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
        harness.fail_with("smoke script", exc, f"the smoke script {path} failed")
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
