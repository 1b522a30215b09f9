"""Fixtures shared by every test area, and the check that the run is on the binding it asks for."""

from __future__ import annotations

import importlib.util
import os
import warnings

import pytest

# One Qt binding per test run: qtpy and pytest-qt must agree, or both bindings get imported.
os.environ.setdefault("QT_API", "pyqt5")
os.environ.setdefault("PYTEST_QT_API", os.environ["QT_API"].lower())
# Read now: when qtpy falls back, it rewrites os.environ["QT_API"] to the binding it took.
REQUESTED_QT_API = os.environ["QT_API"].lower()

# QT_API value -> the binding qtpy must then run (qtpy.API_NAME).
BINDINGS = {"pyqt5": "PyQt5", "pyqt6": "PyQt6", "pyside6": "PySide6"}


def running_binding() -> str:
    """The binding qtpy runs in this process; raises ``pytest.UsageError`` if it is not QT_API's.

    qtpy falls back to another installed binding, silently, when the one asked for is missing or
    fails to import: without this check a run "under PyQt6" could pass on PySide6.
    """
    wanted = REQUESTED_QT_API
    if wanted not in BINDINGS:
        raise pytest.UsageError(f"QT_API={wanted!r} is not one of: {', '.join(BINDINGS)}")
    try:
        with warnings.catch_warnings():
            # qtpy's own fallback warning ("falling back to ..."); the check below says more.
            warnings.simplefilter("ignore")
            import qtpy
    except ImportError as exc:  # qtpy.QtBindingsNotFoundError: no binding at all
        raise pytest.UsageError(
            f"QT_API={wanted}: no Qt binding imports ({exc}). "
            f"Install one: pip install -e '.[{wanted}]'"
        ) from exc
    running: str = qtpy.API_NAME
    if running != BINDINGS[wanted]:
        raise pytest.UsageError(
            f"QT_API={wanted} asks for {BINDINGS[wanted]}, but qtpy runs {running}: "
            f"{BINDINGS[wanted]} is not installed or failed to import, and qtpy fell back. "
            f"Install it: pip install -e '.[{wanted}]'"
        )
    return running


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop the run before any test when it would run on another binding than it says."""
    # pytest-qt imports its binding first, and qtpy then takes the one already imported.
    pytest_qt_api = os.environ["PYTEST_QT_API"].lower()
    if pytest_qt_api != REQUESTED_QT_API:
        raise pytest.UsageError(
            f"PYTEST_QT_API={pytest_qt_api} but QT_API={REQUESTED_QT_API}: pytest-qt and qtpy "
            "would load two bindings; set both to the same value"
        )
    if importlib.util.find_spec("qtpy") is not None:  # without qtpy nothing here runs on Qt
        running_binding()


@pytest.fixture(scope="session", autouse=True)
def _isolate_environment() -> None:
    # Qt must never try to open a real display from the test run.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
