"""``qtcompute demo --binding``: the demo runs on the binding asked for, or says which it runs.

Each demo is started for real, as a user starts it, in its self-test mode (``QTCOMPUTE_SELFTEST``:
the app's ``qtcompute.run(main)`` starts its pool, shows a widget on the binding it imported and
writes what it saw), so the binding reported is the one the app's widgets came from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qtcompute.demo_cli import BINDINGS, demo, fallback_message, requested_binding

LINE = "qtcompute demo: running on"


def _run_demo(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[Any, dict]:
    result = tmp_path / "selftest.json"
    full_env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QTCOMPUTE_SELFTEST": str(result)}
    full_env.pop("QT_API", None)
    full_env.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "qtcompute", "demo", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done, json.loads(result.read_text(encoding="utf-8"))


@pytest.mark.parametrize("binding", sorted(BINDINGS))
def test_the_adder_runs_on_the_binding_asked_for(tmp_path: Path, binding: str) -> None:
    done, selftest = _run_demo(tmp_path, "adder", "--binding", binding)
    assert selftest["ok"], selftest
    assert selftest["qt"] == {"binding": BINDINGS[binding], "platform": "offscreen"}
    assert selftest["first_result_pid"] in selftest["worker_pids"]
    assert LINE not in done.stderr, "no fallback line when the binding asked for runs"


def test_the_group_option_and_qt_api_choose_too(tmp_path: Path) -> None:
    _done, selftest = _run_demo(tmp_path, "--binding", "pyqt6", "mandelbrot")
    assert selftest["qt"]["binding"] == "PyQt6"
    _done, selftest = _run_demo(tmp_path, "adder", env={"QT_API": "pyside6"})
    assert selftest["qt"]["binding"] == "PySide6"
    # The command's option wins over the environment (and is what the workers inherit).
    _done, selftest = _run_demo(tmp_path, "adder", "--binding", "pyqt6", env={"QT_API": "pyqt5"})
    assert selftest["qt"]["binding"] == "PyQt6"


def test_a_missing_binding_is_named_in_one_line(tmp_path: Path) -> None:
    """PyQt6 made unimportable (a package of its name that raises, first on the path)."""
    block = tmp_path / "block" / "PyQt6"
    block.mkdir(parents=True)
    (block / "__init__.py").write_text("raise ImportError('PyQt6 blocked by the test')\n")
    done, selftest = _run_demo(
        tmp_path, "adder", "--binding", "pyqt6", env={"PYTHONPATH": str(block.parent)}
    )
    running = selftest["qt"]["binding"]
    assert running in ("PyQt5", "PySide6")
    lines = [line for line in done.stderr.splitlines() if line.startswith(LINE)]
    assert lines == [
        f"qtcompute demo: running on {running}, not PyQt6 (--binding pyqt6): PyQt6 is not "
        "installed or failed to import, so qtpy fell back. Install it: "
        "pip install 'qtcompute[pyqt6]'"
    ]
    assert "PythonQtWarning" not in done.stderr, "qtpy's own warning is replaced, not doubled"


def test_an_unknown_binding_is_refused_with_the_choices() -> None:
    result = CliRunner().invoke(demo, ["adder", "--binding", "tkinter"])
    assert result.exit_code == 2
    assert "pyqt5" in result.output and "pyqt6" in result.output and "pyside6" in result.output
    assert "--binding" in CliRunner().invoke(demo, ["adder", "--help"]).output
    assert "--binding" in CliRunner().invoke(demo, ["--help"]).output


def test_the_request_and_the_message() -> None:
    assert requested_binding("PyQt6", {"QT_API": "pyqt5"}) == ("pyqt6", "--binding pyqt6")
    assert requested_binding(None, {"QT_API": "PySide6"}) == ("pyside6", "QT_API=pyside6")
    assert requested_binding(None, {}) == (None, "")
    assert fallback_message(None, "", "PyQt5") is None
    assert fallback_message("pyside6", "QT_API=pyside6", "PySide6") is None
    message = fallback_message("pyside6", "QT_API=pyside6", "PyQt5")
    assert message is not None and "\n" not in message
    assert "running on PyQt5, not PySide6 (QT_API=pyside6)" in message
