"""A test run on another binding than QT_API asks for stops at once (tests/conftest.py).

qtpy falls back to another installed binding, silently, when the one asked for is missing: a
run "under PyQt6" could then pass on PySide6. Here the binding asked for is made unimportable
(a package of its name that raises ImportError, first on the path), as on a machine without it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUESTED = os.environ["QT_API"].lower()


def _pytest_session(tmp_path: Path, qt_api: str, *, pytest_qt_api: str, block: str | None):
    env = {**os.environ, "QT_API": qt_api, "PYTEST_QT_API": pytest_qt_api}
    if block:
        package = tmp_path / "block" / block
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(f"raise ImportError('{block} blocked by the test')\n")
        env["PYTHONPATH"] = os.pathsep.join([str(package.parent), env.get("PYTHONPATH", "")])
    # Not pytest-qt: it would import the blocked binding itself, before our check runs.
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:pytest-qt"]
    command += ["--collect-only", "-q", str(ROOT / "tests" / "test_public_api.py")]
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_fallback_binding_stops_the_run(tmp_path: Path) -> None:
    """The issue's case: QT_API=pyqt6 without PyQt6, which qtpy ran on another binding."""
    done = _pytest_session(tmp_path, "pyqt6", pytest_qt_api="pyqt6", block="PyQt6")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "QT_API=pyqt6 asks for PyQt6, but qtpy runs" in done.stderr
    assert "pip install -e '.[pyqt6]'" in done.stderr


def test_a_missing_binding_stops_the_run(tmp_path: Path) -> None:
    # qtpy 2.4 does not fall back from PySide6 to a PyQt: it finds "no Qt bindings".
    done = _pytest_session(tmp_path, "pyside6", pytest_qt_api="pyside6", block="PySide6")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "QT_API=pyside6" in done.stderr
    assert "pip install -e '.[pyside6]'" in done.stderr


def test_pytest_qt_must_ask_for_the_same_binding(tmp_path: Path) -> None:
    done = _pytest_session(tmp_path, "pyqt6", pytest_qt_api="pyside6", block=None)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "PYTEST_QT_API=pyside6 but QT_API=pyqt6" in done.stderr


def test_an_installed_binding_passes_the_check(tmp_path: Path) -> None:
    done = _pytest_session(tmp_path, REQUESTED, pytest_qt_api=REQUESTED, block=None)
    assert done.returncode == 0, done.stdout + done.stderr


def test_this_run_is_on_the_binding_it_asks_for() -> None:
    import qtpy

    assert qtpy.API_NAME.lower() == REQUESTED
