"""Fixtures shared by every test area."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _isolate_environment() -> None:
    # Qt must never try to open a real display from the test run.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
