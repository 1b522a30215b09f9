"""The calculator frozen for the binding of the run: built, verified, run, and trimmed right.

``make test`` runs this file three times: with the whole suite under PyQt5, then under PySide6
and under PyQt6 (``QT_API``; tests/conftest.py stops a run that qtpy would put on another
binding). Each session builds ``examples/adder.py`` once, onedir, with ``qtcompute build`` (the
``builder`` fixture caches it: under PyQt5 it is the very build test_build_apps.py checks).

The Qt 6 wheels lay out their files differently from PyQt5's (``PyQt6/Qt6/``, ``PySide6/Qt/``, a
gtk3 platform theme, QtNetwork pulled in by PySide6's ``__init__``): the trimming tests check
both sides, what must go and what the binding needs to start.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from qtcompute.bundle._qt import detect_qt, qtpy_binding
from qtcompute.bundle._trim import classify

QT_API = os.environ["QT_API"].lower()
BINDING = {"pyqt5": "PyQt5", "pyqt6": "PyQt6", "pyside6": "PySide6"}[QT_API]
# Where each binding's wheel keeps Qt itself, relative to the package.
QT_DIR = {"PyQt5": "Qt5", "PyQt6": "Qt6", "PySide6": "Qt"}
WORKERS = os.cpu_count() or 1
LINUX = sys.platform.startswith("linux")

F = TypeVar("F", bound=Callable[..., Any])


def on_the_build(fn: F) -> F:
    """The marks of a test on the real build (the session's one build; 600 s for it)."""
    for mark in (pytest.mark.build, pytest.mark.slow, pytest.mark.timeout(600)):
        fn = mark(fn)
    return fn


@pytest.fixture(scope="session")
def frozen_calculator(builder: Any, calculator: Path) -> Any:
    """examples/adder.py built once per session (onedir) for the binding of the run."""
    built = builder.build(calculator, "--no-check", "-D")
    assert built.returncode == 0, built.output
    return built


@pytest.fixture(scope="session")
def internal(frozen_calculator: Any) -> Path:
    """The bundle's ``_internal`` folder (PyInstaller 6 onedir layout)."""
    return Path(frozen_calculator.report["target"]) / "_internal"


@pytest.fixture(scope="session")
def qt_root(internal: Path) -> Path:
    """The bundled Qt of the binding: ``<binding>/<Qt dir>`` inside the bundle."""
    return internal / BINDING / QT_DIR[BINDING]


@on_the_build
def test_the_calculator_builds_and_verifies_on_the_binding(frozen_calculator: Any) -> None:
    report = frozen_calculator.report
    assert report["binding"] == BINDING
    assert report["verdict"] == "verified", frozen_calculator.output
    verify = report["verify"]
    assert verify["ok"] and not verify["runaway"]
    assert verify["qt"] == {"binding": BINDING, "platform": "offscreen"}
    assert verify["workers"] == WORKERS
    trimmed = report["trimmed_bytes"]
    assert trimmed["translations"] > 0 and trimmed["plugins"] > 0


@on_the_build
def test_the_frozen_calculator_computes_on_the_binding(
    frozen_calculator: Any, tmp_path: Path
) -> None:
    """The frozen executable itself, started by hand: its workers compute, its widgets are
    the binding's (the self-test shows a widget on the binding the app imported)."""
    result = tmp_path / "selftest.json"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QTCOMPUTE_SELFTEST": str(result)}
    env.pop("QT_API", None)  # the frozen app carries one binding; nothing chooses it from outside
    done = subprocess.run(
        [str(frozen_calculator.executable)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(result.read_text(encoding="utf-8"))
    assert data["ok"] and data["frozen"], data
    assert data["qt"] == {"binding": BINDING, "platform": "offscreen"}
    # The self-test's task is a sum (of squares up to 1000), checked against its value there.
    assert data["first_result_pid"] in data["worker_pids"]
    assert data["first_result_pid"] != data["pid"]
    assert len(data["round_trip_s"]) == WORKERS


@on_the_build
def test_trimming_keeps_what_the_binding_needs(internal: Path, qt_root: Path) -> None:
    plugins = qt_root / "plugins"
    names = {p.relative_to(plugins).as_posix() for p in plugins.rglob("*") if p.is_file()}
    suffix = {"linux": ".so", "darwin": ".dylib", "win32": ".dll"}.get(sys.platform, ".so")
    prefix = "lib" if suffix != ".dll" else ""
    needed = ["platforms/{p}qoffscreen", "platforms/{p}qminimal", "imageformats/{p}qsvg"]
    if LINUX:
        wayland = "libqwayland-generic" if BINDING == "PyQt5" else "libqwayland"  # Qt 6: one
        needed += [
            f"platforms/{wayland}",
            "platforms/libqxcb",
            "xcbglintegrations/libqxcb-glx-integration",
        ]
        needed += ["platformthemes/libqxdgdesktopportal"]
    for plugin in needed:
        assert f"{plugin.format(p=prefix)}{suffix}" in names, f"{plugin} was trimmed ({BINDING})"
    for module in ("QtCore", "QtGui", "QtWidgets"):
        assert list((internal / BINDING).glob(f"{module}.*")), f"{BINDING}.{module} is missing"
    major = "5" if BINDING == "PyQt5" else "6"
    # libQt6Core.so.6 (Linux), Qt6Core.dll (Windows), QtCore.framework (macOS).
    names = {p.name for p in internal.rglob("*")}
    for library in ("Core", "Gui", "Widgets", *(["XcbQpa", "DBus"] if LINUX else [])):
        forms = (f"libQt{major}{library}.", f"Qt{major}{library}.", f"Qt{library}.framework")
        assert any(name.startswith(forms) for name in names), f"Qt {library} is missing"


@on_the_build
def test_trimming_drops_what_a_widgets_app_does_not_use(internal: Path, qt_root: Path) -> None:
    files = [p for p in internal.rglob("*") if p.is_file()]
    rel = [p.relative_to(internal).as_posix() for p in files]
    unwanted = re.compile(
        r"Qt\d?(Qml|Quick|WebEngine|WebChannel|WebSockets|Multimedia|Pdf|3D|VirtualKeyboard)"
        r"|/qml/|\.qm$|qgtk3|qwebgl|qeglfs|qvnc|qlinuxfb|/tls/|/networkinformation/"
        r"|(^|/)(libcairo|libpango|libatk|libgdk_pixbuf|libharfbuzz)[.-]"
    )
    assert [name for name in rel if unwanted.search(name)] == []
    # QtNetwork: its library stays where PySide6 links it, its Python module does not.
    assert not list((internal / BINDING).glob("QtNetwork.*"))
    assert not list((internal / BINDING).glob("QtDBus.*"))


@on_the_build
@pytest.mark.skipif(not LINUX, reason="ldd: Linux")
def test_every_kept_qt_file_finds_its_libraries(internal: Path, qt_root: Path) -> None:
    """ldd on every Qt library and plugin kept, as the frozen app's loader sees them: nothing
    the binding's wheel ships may be "not found" (trimmed while still needed)."""
    spec = importlib.util.find_spec(BINDING)
    assert spec is not None and spec.submodule_search_locations
    wheel = Path(next(iter(spec.submodule_search_locations)))
    shipped = {p.name for p in wheel.rglob("*.so*")}
    env = {**os.environ, "LD_LIBRARY_PATH": str(internal)}  # what PyInstaller's bootloader sets
    missing: dict[str, list[str]] = {}
    kept = [p for p in qt_root.rglob("*.so*") if p.is_file()]
    kept += [p for p in (internal / BINDING).glob("*.so") if p.is_file()]
    assert len(kept) > 20
    for path in kept:
        out = subprocess.run(["ldd", str(path)], env=env, capture_output=True, text=True).stdout
        gone = re.findall(r"^\s*(\S+) => not found", out, re.MULTILINE)
        gone = [name for name in gone if name in shipped]
        if gone:
            missing[path.relative_to(internal).as_posix()] = gone
    assert missing == {}


# --- the rules themselves, per layout (no build) ----------------------------------------------


@pytest.mark.parametrize(
    ("binding", "qt_dir"), [("PyQt5", "Qt5"), ("PyQt6", "Qt6"), ("PySide6", "Qt")]
)
def test_the_plugin_rules_apply_to_every_layout(binding: str, qt_dir: str) -> None:
    plugins = f"{binding}/{qt_dir}/plugins"
    assert classify(f"{plugins}/platformthemes/libqgtk3.so", binding) == "plugins"
    assert classify(f"{plugins}/platformthemes/libqxdgdesktopportal.so", binding) is None
    assert classify(f"{plugins}/platforms/libqxcb.so", binding) is None
    assert classify(f"{plugins}/platforms/qwindows.dll", binding) is None
    assert classify(f"{plugins}/platforms/libqvnc.so", binding) == "plugins"
    assert classify(f"{plugins}/qmltooling/libqmldbg_debugger.so", binding) == "plugins"
    assert classify(f"{binding}/{qt_dir}/translations/qtbase_de.qm", binding) == "translations"
    # Another binding's files are never judged by this binding's rules.
    other = "PySide6" if binding != "PySide6" else "PyQt6"
    assert classify(f"{plugins}/platformthemes/libqgtk3.so", other) is None


def test_qtnetwork_and_qtdbus_stay_out_unless_the_app_names_them(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text("from PySide6.QtWidgets import QApplication\n", encoding="utf-8")
    excluded = detect_qt(app).excluded_modules
    assert "PySide6.QtNetwork" in excluded and "PySide6.QtDBus" in excluded
    app.write_text("from PySide6 import QtNetwork, QtWidgets\n", encoding="utf-8")
    excluded = detect_qt(app).excluded_modules
    assert "PySide6.QtNetwork" not in excluded and "PySide6.QtDBus" in excluded


@pytest.mark.parametrize("binding", ["PyQt5", "PyQt6", "PySide6"])
def test_qt_api_decides_a_qtpy_app_binding(tmp_path: Path, binding: str) -> None:
    app = tmp_path / "app.py"
    app.write_text("from qtpy.QtWidgets import QApplication\n", encoding="utf-8")
    assert detect_qt(app, env={"QT_API": binding.lower()}).binding == binding


@pytest.mark.skipif(importlib.util.find_spec("PySide2") is not None, reason="PySide2 installed")
def test_a_missing_qt_api_binding_builds_with_qtpy_fallback_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="qtcompute.bundle"):
        assert qtpy_binding("pyside2") == "PyQt6"  # qtpy's cascade: PySide2, then PyQt6
    assert "QT_API=pyside2 asks for PySide2, which is not installed: building with PyQt6" in (
        caplog.text
    )
    assert qtpy_binding("pyqt6") == "PyQt6"
    assert qtpy_binding("") == "PyQt5"
