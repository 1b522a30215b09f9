"""``BuildOptions``: the options of ``qtcompute build``, shared by the steps of a build."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qtcompute.freeze._smoke import DEFAULT_SETTLE

# A step's progress: (step name, "start" | "done" | "skip", one-line summary).
ProgressCallback = Callable[[str, str, str], None]

# PyInstaller's own default, kept on purpose: users know ./build from `pyinstaller app.py`, the
# usual Python .gitignore ignores it, and the source scans skip it (see _qt.detect_qt). Since
# the package is `qtcompute.bundle`, "build" names only this folder of intermediate files.
DEFAULT_WORKPATH = Path("build")


@dataclass
class BuildOptions:
    """The options of ``qtcompute build`` (the CLI flags, one to one)."""

    script: Path
    onefile: bool = False
    windowed: bool = False
    name: str | None = None
    noconfirm: bool = False
    upx_dir: str | None = None
    noupx: bool = False
    strip: bool | None = None
    """Strip symbol tables (None: where ``strip`` exists and not on Windows)."""
    compress: bool = False
    """Onefile: keep PyInstaller's zlib compression of binaries (smaller, slower to start)."""
    check: bool = True
    verify: bool = True
    trim: bool = True
    max_processes: int | None = None
    workers: int | None = None
    distpath: Path = Path("dist")
    workpath: Path = DEFAULT_WORKPATH
    report: Path | None = None
    verify_timeout: float = 120.0
    verbose: bool = False
    smoke: bool = True
    """Run the app itself (from source, then frozen) besides the self-test."""
    smoke_script: Path | None = None
    settle: float = DEFAULT_SETTLE
    fix: bool = True
    """Add what the run from source used and the bundle lacks (else: report it and fail)."""
    hidden_imports: list[str] = field(default_factory=list)
    add_data: list[tuple[str, str]] = field(default_factory=list)

    @property
    def app_name(self) -> str:
        return self.name or self.script.stem

    @property
    def report_path(self) -> Path:
        return self.report or self.distpath / f"{self.app_name}-build-report.json"
