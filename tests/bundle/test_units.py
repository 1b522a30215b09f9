"""The build's pure parts, without PyInstaller runs: UPX decisions, trimming rules, Qt detection."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from qtcompute.bundle import detect_qt, plan_upx
from qtcompute.bundle._elf import loadable, newest_versions, strip_binaries, system_libraries
from qtcompute.bundle._freeze import default_strip, exe_name, write_spec
from qtcompute.bundle._rthooks import lazy_inspect_hook
from qtcompute.bundle._trim import classify
from qtcompute.bundle._upx import UpxPlan, compressed_path, measure_saved, parse_upx_list

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


def _elf(path: Path, *needs: str) -> str:
    """A stand-in ELF file whose string table names the given symbol versions."""
    path.write_bytes(b"\x7fELF" + b"".join(n.encode() + b"\x00" for n in needs))
    return str(path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux system libraries")
def test_system_libraries_left_to_the_os_only_within_the_baseline(tmp_path: Path) -> None:
    libs = [
        ("libstdc++.so.6", _elf(tmp_path / "libstdc++.so.6"), "BINARY"),
        ("libgcc_s.so.1", _elf(tmp_path / "libgcc_s.so.1"), "BINARY"),
        ("libX11.so.6", _elf(tmp_path / "libX11.so.6"), "BINARY"),
        ("libfontconfig.so.1", _elf(tmp_path / "libfontconfig.so.1"), "BINARY"),
    ]
    qt = _elf(tmp_path / "libQt5Core.so.5", "GLIBCXX_3.4.15", "CXXABI_1.3.5", "GCC_3.0")
    core = [("PyQt5/Qt5/lib/libQt5Core.so.5", qt, "BINARY")]
    assert newest_versions(qt) == {"GLIBCXX": (3, 4, 15), "CXXABI": (1, 3, 5), "GCC": (3, 0)}
    assert system_libraries(core + libs) == {"libstdc++.so.6", "libgcc_s.so.1", "libX11.so.6"}
    # Something built on a newer system needs a newer libstdc++ than the baseline: keep it.
    newer = _elf(tmp_path / "_ext.so", "GLIBCXX_3.4.30")
    kept = system_libraries([*core, ("_ext.so", newer, "EXTENSION"), *libs])
    assert kept == {"libgcc_s.so.1", "libX11.so.6"}


def test_strip_defaults() -> None:
    assert not default_strip("win32")
    assert default_strip("linux") == (shutil.which("strip") is not None)


def test_spec_strips_and_stores_by_default(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text("from PyQt5.QtWidgets import QApplication\n")
    options = {"script": app, "name": "app", "windowed": False, "upx": False, "trim": True}
    spec, trim_config, _ = write_spec(
        **options,
        onefile=True,
        strip=True,
        qt=detect_qt(app),
        workpath=tmp_path / "w",
        platform="linux",
    )
    text, config = spec.read_text(), json.loads(trim_config.read_text())
    assert "cdict={'EXTENSION': False" in text and "strip=False" in text  # trimming strips
    assert config["strip_symbols"] and config["system_libraries"] and config["debug_strip"]
    spec, trim_config, _ = write_spec(
        **options,
        onefile=True,
        strip=False,
        qt=detect_qt(app),
        workpath=tmp_path / "w",
        compress=True,
        platform="darwin",
    )
    text, config = spec.read_text(), json.loads(trim_config.read_text())
    assert "cdict=None" in text
    assert not config["strip_symbols"] and not config["system_libraries"]


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("strip") is None, reason="ELF strip"
)
def test_strip_binaries_strips_a_copy_and_reuses_it(tmp_path: Path) -> None:
    import _struct

    original = tmp_path / "lib" / Path(_struct.__file__).name
    original.parent.mkdir()
    shutil.copy2(_struct.__file__, original)
    entries = [("_struct.so", str(original), "EXTENSION"), ("data.txt", __file__, "DATA")]
    stripped, debug, symbols = strip_binaries(entries, tmp_path / "cache", symbols=True)
    assert stripped[1] == entries[1]
    copy = Path(stripped[0][1])
    assert copy != original and original.stat().st_size == os.stat(_struct.__file__).st_size
    assert copy.stat().st_size == original.stat().st_size - debug - symbols
    if b".symtab\x00" in original.read_bytes():  # pyenv's builds keep a symbol table
        assert symbols > 0
    mtime = copy.stat().st_mtime_ns
    assert strip_binaries(entries, tmp_path / "cache", symbols=True)[0] == stripped
    assert copy.stat().st_mtime_ns == mtime  # cached, not stripped again
    only_debug = strip_binaries(entries, tmp_path / "cache", symbols=False)
    assert only_debug[2] == 0


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("strip") is None, reason="ELF strip"
)
def test_a_library_strip_would_break_ships_unstripped(tmp_path: Path) -> None:
    """numpy's vendored OpenBLAS (edited by auditwheel's patchelf): binutils' strip misplaces
    its segments and ld.so refuses the copy ("not page-aligned"); the original ships."""
    numpy = pytest.importorskip("numpy")
    libs = sorted(Path(numpy.__file__).parents[1].joinpath("numpy.libs").glob("*openblas*.so*"))
    if not libs:
        pytest.skip("this numpy has no vendored OpenBLAS")
    broken = tmp_path / "broken.so"
    subprocess.run(["strip", "-o", str(broken), str(libs[0])], check=True)
    if loadable(broken):
        pytest.skip("this binutils strips it correctly")
    assert loadable(libs[0])
    entries = [(f"numpy.libs/{libs[0].name}", str(libs[0]), "BINARY")]
    stripped, _debug, _symbols = strip_binaries(entries, tmp_path / "cache", symbols=True)
    assert loadable(stripped[0][1])
    assert Path(stripped[0][1]).stat().st_size == libs[0].stat().st_size  # the original bytes


def test_lazy_inspect_hook_runs_pyinstallers_hook_on_first_call(
    tmp_path: Path, monkeypatch
) -> None:
    import inspect

    original = tmp_path / "pyi_rth_inspect.py"  # stands for PyInstaller's hook: counts its runs
    original.write_text(
        "import inspect, sys\n"
        "sys.hook_runs = getattr(sys, 'hook_runs', 0) + 1\n"
        "_orig = inspect.getsourcefile\n"
        "inspect.getsourcefile = lambda obj: 'frozen:' + _orig(obj)\n"
    )
    scripts = [("pyi_rth_inspect", str(original), "PYSOURCE"), ("app", "app.py", "PYSOURCE")]
    lazy = lazy_inspect_hook(scripts, tmp_path)
    assert [s[0] for s in lazy] == ["pyi_rth_inspect", "app"] and lazy[1] == scripts[1]
    monkeypatch.setattr(inspect, "getsourcefile", inspect.getsourcefile)
    monkeypatch.setattr(sys, "hook_runs", 0, raising=False)
    exec(compile(Path(lazy[0][1]).read_text(), "hook", "exec"), {"__name__": "hook"})
    stand_in = inspect.getsourcefile
    assert sys.hook_runs == 0  # nothing done at start-up
    expected = "frozen:" + str(Path(__file__))
    assert stand_in(test_exe_names) == expected  # first call: the hook runs, then answers
    assert inspect.getsourcefile(test_exe_names) == expected
    assert stand_in(test_exe_names) == expected  # an early `from inspect import ...` copy
    assert sys.hook_runs == 1
