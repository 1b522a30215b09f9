"""`qtcompute demo`, and the promise that the engine never imports Qt."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from qtcompute.demo_cli import NO_DISPLAY, demo, display_problem, example_path

QT_MODULES = ("qtpy", "PyQt5", "PyQt6", "PySide6", "PySide2", "shiboken6", "sip")


def test_importing_the_engine_imports_no_qt_binding() -> None:
    code = (
        "import sys, qtcompute, qtcompute.engine\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r})\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""


def test_demo_lists_adder() -> None:
    result = CliRunner().invoke(demo, ["--help"])
    assert result.exit_code == 0
    assert "adder" in result.output


def test_demo_finds_the_example_script() -> None:
    path = example_path("adder")
    assert path.name == "adder.py" and "def main()" in path.read_text(encoding="utf-8")


def test_without_a_display_the_demo_says_how_to_run_headless(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "platform", "linux")
    env = {"DISPLAY": None, "WAYLAND_DISPLAY": None, "QT_QPA_PLATFORM": None}
    result = CliRunner().invoke(demo, ["adder"], env=env)
    assert result.exit_code != 0
    assert "No display found" in result.output
    assert "QT_QPA_PLATFORM=offscreen qtcompute demo adder" in result.output
    assert "xvfb-run" in result.output


def test_display_detection() -> None:
    on_linux = sys.platform.startswith("linux")
    assert display_problem({}) is on_linux
    assert not display_problem({"DISPLAY": ":0"})
    assert not display_problem({"WAYLAND_DISPLAY": "wayland-0"})
    assert not display_problem({"QT_QPA_PLATFORM": "offscreen"})
    assert "{name}" in NO_DISPLAY


def test_pytest_qt_and_qtpy_use_the_same_binding(qapp) -> None:  # type: ignore[no-untyped-def]
    """Widgets, qtbot and the bridge all come from the binding chosen with QT_API."""
    import qtpy
    from pytestqt.qt_compat import qt_api

    assert qt_api.pytest_qt_api == qtpy.API
    assert type(qapp).__module__.split(".")[0] == qtpy.API_NAME
