"""The build's pure parts, without PyInstaller runs: UPX decisions, trimming rules, Qt detection."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from qtcompute.build import detect_qt, plan_upx
from qtcompute.build._freeze import exe_name
from qtcompute.build._trim import classify
from qtcompute.build._upx import UpxPlan, compressed_path, measure_saved, parse_upx_list

UPX_LIST = """\
                       Ultimate Packer for eXecutables
                          Copyright (C) 1996 - 2024
UPX 4.2.4       Markus Oberhumer, Laszlo Molnar & John Reiser    May 9th 2024

        File size         Ratio      Format      Name
   --------------------   ------   -----------   -----------
   6070784 ->   2195456   36.16%    win64/pe     Qt5Core.dll
"""


@pytest.fixture
def fake_upx(tmp_path: Path) -> Path:
    """A stand-in ``upx`` (no real binary on this machine): answers -V and -l like UPX 4."""
    folder = tmp_path / "upx-4.2.4"
    folder.mkdir()
    script = folder / ("upx.exe" if sys.platform == "win32" else "upx")
    listing = tmp_path / "listing.txt"
    listing.write_text(UPX_LIST)
    script.write_text(
        f'#!/bin/sh\nif [ "$1" = "-l" ]; then cat {listing}; else echo "upx 4.2.4"; fi\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


def test_noupx_wins() -> None:
    assert plan_upx(noupx=True, upx_dir=None).reason == "disabled (--noupx)"


def test_missing_upx_dir_is_said(tmp_path: Path) -> None:
    plan = plan_upx(noupx=False, upx_dir=str(tmp_path))
    assert not plan.applied and "no upx" in plan.reason and str(tmp_path) in plan.reason


@pytest.mark.skipif(sys.platform == "win32", reason="a shell-script stand-in")
def test_upx_on_linux_is_found_but_not_pretended(fake_upx: Path, monkeypatch) -> None:
    monkeypatch.delenv("PYINSTALLER_FORCE_UPX", raising=False)
    plan = plan_upx(noupx=False, upx_dir=str(fake_upx), platform="linux")
    assert plan.executable == str(fake_upx / "upx")
    assert not plan.applied
    assert "PyInstaller uses UPX only on Windows" in plan.reason


@pytest.mark.skipif(sys.platform == "win32", reason="a shell-script stand-in")
def test_upx_on_windows_is_applied_and_measured(fake_upx: Path) -> None:
    plan = plan_upx(noupx=False, upx_dir=str(fake_upx), platform="win32")
    assert plan.applied
    plan.compressed = ["C:\\cache dir\\Qt5Core.dll"]
    assert measure_saved(plan) == 6070784 - 2195456


def test_upx_from_path(fake_upx: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(fake_upx) + os.pathsep + os.environ["PATH"])
    assert plan_upx(noupx=False, upx_dir=None, platform="win32").applied


def test_upx_parsing() -> None:
    assert parse_upx_list(UPX_LIST) == (6070784, 2195456)
    windows = "upx --compress-icons=0 --lzma -q --strip-loadconf C:\\Users\\A B\\bincache\\x.dll"
    assert compressed_path(windows) == "C:\\Users\\A B\\bincache\\x.dll"
    assert compressed_path("upx --compress-icons=0 --lzma -q /c/x.so") == "/c/x.so"
    assert measure_saved(UpxPlan(None, False, "off")) is None


def test_exe_names() -> None:
    assert exe_name("adder", "win32") == "adder.exe"
    assert exe_name("adder", "linux") == "adder"


@pytest.mark.parametrize(
    ("dest", "reason"),
    [
        ("PyQt5/Qt5/translations/qtbase_de.qm", "translations"),
        ("PyQt5/Qt5/plugins/platforms/libqwebgl.so", "plugins"),
        ("PyQt5/Qt5/plugins/platforms/libqxcb.so", None),
        ("PyQt5/Qt5/plugins/platforms/libqoffscreen.so", None),
        ("PyQt5\\Qt5\\plugins\\platforms\\qwindows.dll", None),
        ("PyQt5\\Qt5\\plugins\\styles\\qwindowsvistastyle.dll", None),
        ("PyQt5/Qt5/plugins/platforms/libqcocoa.dylib", None),
        ("PyQt5/Qt5/plugins/generic/libqevdevmouseplugin.so", "plugins"),
        ("PyQt5/Qt5/plugins/imageformats/libqtiff.so", "plugins"),
        ("PyQt5/Qt5/plugins/imageformats/libqico.so", None),
        ("PyQt5/Qt5/lib/libQt5Core.so.5", None),
        ("PySide6/Qt/plugins/platforms/libqeglfs.so", None),  # not the app's binding
    ],
)
def test_trim_rules(dest: str, reason: str | None) -> None:
    assert classify(dest, "PyQt5") == reason


def test_detect_qt(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text("from PyQt5.QtWidgets import QApplication\n")
    usage = detect_qt(app)
    assert usage.binding == "PyQt5"
    assert "PySide6" in usage.excluded_bindings and "shiboken6" in usage.excluded_bindings
    assert "PyQt5.QtQml" in usage.excluded_modules
    (tmp_path / "view.py").write_text("from qtpy.QtQml import QQmlEngine\n")
    assert "PyQt5.QtQml" not in detect_qt(app).excluded_modules
    via = tmp_path / "other" / "main.py"
    via.parent.mkdir()
    via.write_text("from qtcompute.qt import TaskRunner\n")
    assert detect_qt(via, env={"QT_API": "pyside6"}).binding == "PySide6"
    assert detect_qt(via, env={}).binding == "PyQt5"
