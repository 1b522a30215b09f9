"""UPX: where it is, whether PyInstaller will use it here, and what it saved.

PyInstaller (``configure.get_config``) uses UPX only on Windows: on Linux and macOS compressed
shared libraries crash or break code signing, so it ignores UPX unless ``PYINSTALLER_FORCE_UPX``
is set. We say so instead of pretending. Qt plugins are never compressed: Qt's plugin loader
reads metadata UPX would pack away (PyInstaller skips them itself; we pass explicit
``upx_exclude`` patterns too, so the rule does not depend on PyInstaller's detection).

What UPX saved is measured, not estimated: PyInstaller logs every file it compresses
(``Executing: upx ... <cached copy>``); ``upx -l`` on each copy reports original and packed sizes.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Qt plugins (every platform's naming) and the Windows runtime DLLs UPX is known to break.
UPX_EXCLUDE = [
    "qwindows.dll",
    "qoffscreen.dll",
    "qminimal.dll",
    "qwindowsvistastyle.dll",
    "qmodernwindowsstyle.dll",
    "vcruntime140.dll",
    "vcruntime140_1.dll",
    "msvcp140.dll",
    "ucrtbase.dll",
]


def upx_name() -> str:
    return "upx.exe" if sys.platform == "win32" else "upx"


@dataclass
class UpxPlan:
    """What the build will do about UPX, and why."""

    executable: str | None
    applied: bool
    reason: str
    compressed: list[str] = field(default_factory=list)
    saved_bytes: int | None = None


def find_upx(upx_dir: str | None) -> str | None:
    """``DIR/upx`` for ``--upx-dir DIR`` (None if missing), else ``upx`` on PATH."""
    if upx_dir:
        candidate = Path(upx_dir) / upx_name()
        return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None
    return shutil.which("upx")


def plan_upx(*, noupx: bool, upx_dir: str | None, platform: str = sys.platform) -> UpxPlan:
    """Decide, the way PyInstaller will, whether UPX is applied; explain it in one sentence."""
    if noupx:
        return UpxPlan(None, False, "disabled (--noupx)")
    executable = find_upx(upx_dir)
    if executable is None:
        where = f"in {upx_dir}" if upx_dir else "on PATH"
        return UpxPlan(None, False, f"not used: no {upx_name()} found {where}")
    if platform.startswith(("win", "cygwin")):
        return UpxPlan(executable, True, f"applied with {executable} (Qt plugins excluded)")
    if os.environ.get("PYINSTALLER_FORCE_UPX", "0") != "0":
        return UpxPlan(
            executable,
            True,
            f"force-applied with {executable} (PYINSTALLER_FORCE_UPX is set; at your own risk)",
        )
    return UpxPlan(
        executable,
        False,
        f"not applied: found {executable}, but PyInstaller uses UPX only on Windows (compressed "
        "shared libraries crash on Linux and break signing on macOS); set "
        "PYINSTALLER_FORCE_UPX=1 to force it at your own risk",
    )


_EXECUTING = re.compile(r"^Executing: (?P<cmd>.*\bupx(?:\.exe)?\b.*)$")


class UpxLogRecorder(logging.Handler):
    """Records the files PyInstaller compresses (its ``Executing: upx ...`` log lines)."""

    def __init__(self, plan: UpxPlan) -> None:
        super().__init__(logging.INFO)
        self.plan = plan

    def emit(self, record: logging.LogRecord) -> None:
        match = _EXECUTING.match(record.getMessage())
        if match:
            self.plan.compressed.append(compressed_path(match.group("cmd")))


def compressed_path(command: str) -> str:
    """The file of PyInstaller's ``upx --compress-icons=0 --lzma -q [--strip-loadconf] FILE``.

    The options are fixed (``PyInstaller/building/utils.py``), so everything after them is the
    path, spaces included.
    """
    rest = command.split(" -q ", 1)[-1]
    return rest.removeprefix("--strip-loadconf ")


# `upx -l` prints: "  uncompressed  compressed  ratio  format  name" rows.
_LIST_ROW = re.compile(
    r"^\s*(\d+)\s+->\s+(\d+)\s+[\d.]+%\s+\S+\s+(.+)$|^\s*(\d+)\s+(\d+)\s+[\d.]+%"
)


def parse_upx_list(text: str) -> tuple[int, int]:
    """Sum (original, packed) bytes over the rows of ``upx -l`` output."""
    original = packed = 0
    for line in text.splitlines():
        match = _LIST_ROW.match(line)
        if not match:
            continue
        original += int(match.group(1))
        packed += int(match.group(2))
    return original, packed


def measure_saved(plan: UpxPlan) -> int | None:
    """Bytes UPX saved over the files it compressed (None if nothing can be measured)."""
    if not plan.applied or not plan.executable or not plan.compressed:
        return None
    saved = 0
    for path in plan.compressed:
        done = subprocess.run(
            [plan.executable, "-l", path], capture_output=True, text=True, check=False
        )
        original, packed = parse_upx_list(done.stdout)
        saved += original - packed
    return saved
