"""Which Qt binding and which Qt modules an app uses, read from its source (never imported).

The binding decides what to leave out: the other bindings, whose hooks would otherwise abort
PyInstaller ("attempt to collect multiple Qt bindings packages") or bloat the bundle, and the
heavy Qt modules the app never names (QML/Quick, WebEngine, Multimedia, 3D, ...).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("qtcompute.bundle")

BINDINGS = ("PyQt5", "PySide6", "PyQt6", "PySide2")
# qtpy's cascade (qtpy/__init__.py, 2.4): it tries QT_API's binding (default pyqt5), then only
# the ones after it here; so pyqt6 falls back to PySide6, and pyside6 to nothing.
_QTPY_ORDER = ("PyQt5", "PySide2", "PyQt6", "PySide6")
_SHIBOKEN = {"PySide6": "shiboken6", "PySide2": "shiboken2"}

# Qt modules left out unless the app's source names them: the heavy ones, and two that
# PyInstaller collects for Qt 6 apps that never import them. ``QtNetwork``: PySide6/__init__.py
# imports it (on Windows, inside try/except ImportError, to preload its OpenSSL), which
# PyInstaller follows for every PySide6 app. ``QtDBus``: QtGui links libQt6DBus, and the hooks
# add the Python module of every Qt library linked. A shared library that is linked stays;
# the Python modules and their plugins (QtNetwork's tls and networkinformation) go.
HEAVY_MODULES = (
    "QtNetwork",
    "QtDBus",
    "QtQml",
    "QtQuick",
    "QtQuick3D",
    "QtQuickWidgets",
    "QtQuickControls2",
    "QtWebEngine",
    "QtWebEngineCore",
    "QtWebEngineWidgets",
    "QtWebEngineQuick",
    "QtWebChannel",
    "QtWebSockets",
    "QtMultimedia",
    "QtMultimediaWidgets",
    "QtDesigner",
    "QtBluetooth",
    "QtLocation",
    "QtPositioning",
    "QtSensors",
    "QtSerialPort",
    "QtSql",
    "QtTest",
    "QtTextToSpeech",
    "QtNetworkAuth",
    "QtRemoteObjects",
    "QtCharts",
    "QtDataVisualization",
    "Qt3DCore",
    "Qt3DRender",
    "Qt3DInput",
    "Qt3DLogic",
    "Qt3DExtras",
    "Qt3DAnimation",
    "QtPdf",
    "QtPdfWidgets",
)

_IMPORT_RE = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_][\w.]*)", re.MULTILINE)


@dataclass(frozen=True)
class QtUsage:
    """What the app's source says about Qt."""

    binding: str | None
    """The binding to bundle (``PyQt5``...), or None for an app without Qt."""
    via_qtpy: bool
    """The app imports ``qtpy`` (directly or through ``qtcompute.qt``)."""
    named_modules: frozenset[str]
    """Heavy Qt modules the source names; kept."""

    @property
    def excluded_bindings(self) -> list[str]:
        if self.binding is None:
            return []
        others = [b for b in BINDINGS if b != self.binding]
        return others + [_SHIBOKEN[b] for b in others if b in _SHIBOKEN]

    @property
    def excluded_modules(self) -> list[str]:
        if self.binding is None:
            return []
        return [f"{self.binding}.{m}" for m in HEAVY_MODULES if m not in self.named_modules]


def app_sources(script: Path) -> list[Path]:
    """The script and the Python files next to it and below (the app's own code)."""
    root = script.resolve().parent
    files = [script.resolve()]
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [
            d for d in dirnames if not d.startswith((".", "__pycache__", "build", "dist"))
        ]
        files += [Path(dirpath, f) for f in filenames if f.endswith(".py")]
        if len(files) > 500:  # a script in a huge folder: the script alone decides
            return [script.resolve()]
    return sorted(set(files))


def qtpy_binding(qt_api: str) -> str | None:
    """The binding qtpy will run for ``QT_API=qt_api``: that one if installed, else its fallback.

    qtpy falls back silently; the build says so (a warning), since the app then ships and runs
    on another binding than the one asked for.
    """
    chosen = {b.lower(): b for b in BINDINGS}.get(qt_api.lower())
    candidates = _QTPY_ORDER[_QTPY_ORDER.index(chosen) :] if chosen else _QTPY_ORDER
    binding = next((b for b in candidates if importlib.util.find_spec(b)), None)
    if chosen and binding != chosen:
        logger.warning(
            "QT_API=%s asks for %s, which is not installed: building with %s, the binding qtpy "
            "falls back to (install %s, or set QT_API to the binding you mean)",
            qt_api,
            chosen,
            binding or "no Qt binding",
            chosen,
        )
    return binding


def detect_qt(script: Path, env: dict[str, str] | None = None) -> QtUsage:
    """Read the app's source and decide its binding (``QT_API`` decides for qtpy apps)."""
    env = dict(os.environ if env is None else env)
    imported: set[str] = set()
    named: set[str] = set()
    for path in app_sources(script):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        imported.update(m.split(".")[0] for m in _IMPORT_RE.findall(text))
        if "qtcompute.qt" in text:
            imported.add("qtpy")
        named.update(m for m in HEAVY_MODULES if re.search(rf"\b{m}\b", text))
    direct = [b for b in BINDINGS if b in imported]
    via_qtpy = "qtpy" in imported
    binding: str | None = direct[0] if direct else None
    if binding is None and via_qtpy:
        binding = qtpy_binding(env.get("QT_API", ""))
    return QtUsage(binding=binding, via_qtpy=via_qtpy, named_modules=frozenset(named))
