"""Fixtures for the Qt bridge and the calculator; every test here runs under each binding.

The binding is chosen with ``QT_API`` (``make test`` runs this folder under PyQt5, then PySide6).
pytest-qt reads ``PYTEST_QT_API`` instead and, when it is unset, prefers PySide6; two bindings in
one process would give two Qt libraries and widgets from the wrong one, so both are pinned to the
same binding here, before any Qt object exists.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

os.environ.setdefault("QT_API", "pyqt5")  # the seed's binding when none is chosen
os.environ.setdefault("PYTEST_QT_API", os.environ["QT_API"].lower())

from pytestqt.qt_compat import qt_api

if getattr(qt_api, "pytest_qt_api", None) not in (None, os.environ["PYTEST_QT_API"]):
    # This conftest was loaded after pytest-qt configured itself (a run of the whole suite).
    qt_api.set_qt_api(os.environ["PYTEST_QT_API"])

from qtcompute import Pool

HERE = Path(__file__).parent
EXAMPLES = HERE.parent.parent / "examples"

# Task functions for workers live in qt_tasks.py next to this file; spawned workers import them
# by name, so this folder (and examples/) must be on sys.path, which workers inherit.
for path in (str(HERE), str(EXAMPLES)):
    if path not in sys.path:
        sys.path.insert(0, path)


@pytest.fixture
def pool() -> Iterator[Pool]:
    """A one-worker qtcompute pool, shut down (running tasks stopped) after the test."""
    p = Pool(workers=1)
    yield p
    p.shutdown(wait=True, cancel_futures=True, stop_running=True)


@pytest.fixture(scope="session")
def adder() -> ModuleType:
    """``examples/adder.py``, imported the way its workers import it (as ``adder``)."""
    return importlib.import_module("adder")


@pytest.fixture
def window(qtbot, adder):  # type: ignore[no-untyped-def]
    """The calculator window on a fresh one-worker pool; closing it shuts the pool down."""
    w = adder.CalculatorWindow(Pool(workers=1))
    qtbot.addWidget(w)
    w.show()
    yield w
    w.runner.shutdown()
