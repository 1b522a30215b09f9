"""Fixtures shared by every test area."""

from __future__ import annotations

import os

import pytest

# One Qt binding per test run: qtpy and pytest-qt must agree, or both bindings get imported.
os.environ.setdefault("QT_API", "pyqt5")
os.environ.setdefault("PYTEST_QT_API", os.environ["QT_API"].lower())


@pytest.fixture(scope="session", autouse=True)
def _isolate_environment() -> None:
    # Qt must never try to open a real display from the test run.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
