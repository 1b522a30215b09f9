"""Real PyInstaller builds, each app built once per test session (``pyi_builder``'s idea).

Every build runs ``qtcompute build`` as a child process, in a session temp dir, with PyInstaller's
cache shared (builds after the first reuse its processed binaries). A build that fails is
recorded, not raised: the tests assert on its report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"
ADDER = ROOT / "examples" / "adder.py"


@dataclass
class Built:
    """One finished ``qtcompute build`` run."""

    returncode: int
    output: str
    report: dict[str, Any]
    seconds: float

    @property
    def executable(self) -> Path:
        return Path(self.report["executable"])


class Builder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[tuple[str, ...], Built] = {}

    def build(self, script: Path, *flags: str, name: str | None = None) -> Built:
        key = (str(script), *flags)
        if key in self.cache:
            return self.cache[key]
        name = name or f"{script.stem}-{'onefile' if '-F' in flags else 'onedir'}"
        out = self.root / name
        report = out / "report.json"
        command = [
            sys.executable, "-m", "qtcompute", "build", str(script), "-y", "-n", name,
            "--distpath", str(out / "dist"), "--workpath", str(out / "work"),
            "--report", str(report), *flags,
        ]  # fmt: skip
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        import time

        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        seconds = time.perf_counter() - started
        data = json.loads(report.read_text()) if report.exists() else {}
        built = Built(done.returncode, done.stdout + done.stderr, data, seconds)
        self.cache[key] = built
        return built


@pytest.fixture(scope="session")
def builder(tmp_path_factory: pytest.TempPathFactory) -> Builder:
    return Builder(tmp_path_factory.mktemp("builds"))


@pytest.fixture(scope="session")
def apps() -> Path:
    """The test apps' folder (tests/build/apps)."""
    return APPS


@pytest.fixture(scope="session")
def calculator() -> Path:
    """The calculator the issue asks for: examples/adder.py."""
    if not ADDER.exists():
        pytest.skip("examples/adder.py has not landed")
    return ADDER
