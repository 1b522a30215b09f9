"""The calculator and friends, frozen for real and run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

pytestmark = [pytest.mark.build, pytest.mark.slow]

WORKERS = os.cpu_count() or 1
# The calculator's flags: the `calculator_flags` fixture (conftest.py). The check step itself is
# tested on the seed's bug (test_seed_bug.py).


def _assert_verified(built: Any, mode: str) -> None:
    assert built.returncode == 0, built.output
    report = built.report
    assert report["verdict"] == "verified"
    assert report["mode"] == mode
    verify = report["verify"]
    assert verify["ok"] and not verify["runaway"]
    assert verify["workers"] == WORKERS
    assert 1 <= verify["peak_processes"] <= WORKERS + 3
    assert verify["first_result_s"] is not None
    assert verify["qt"] == {"binding": "PyQt5", "platform": "offscreen"}
    assert report["trimmed_bytes"]["translations"] > 0
    assert report["trimmed_bytes"]["plugins"] > 0
    if sys.platform.startswith("linux"):  # stripped by default, PEP 599 libraries left to the OS
        assert report["trimmed_bytes"]["symbols"] > 0
        assert report["trimmed_bytes"]["system libraries"] > 0


@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", ["onedir", "onefile"])
def test_calculator_builds_verified_and_bounded(
    builder: Any, calculator: Path, calculator_flags: tuple[str, ...], mode: str
) -> None:
    flags = (*calculator_flags, "-F" if mode == "onefile" else "-D")
    built = builder.build(calculator, *flags)
    _assert_verified(built, mode)
    target = Path(built.report["target"])
    assert built.report["size_bytes"] > 0
    assert target.is_file() if mode == "onefile" else target.is_dir()
    if mode == "onedir":
        internal = target / "_internal"
        assert not list(internal.rglob("*.qm")), "translations were trimmed"
        assert not list(internal.rglob("libqwebgl*")), "unused platform plugins were trimmed"
        assert list(internal.rglob("libqoffscreen*")), "the headless platform plugin stays"
        dangling = [p.name for p in internal.iterdir() if p.is_symlink() and not p.exists()]
        assert not dangling, "links to trimmed libraries go too"
        if sys.platform.startswith("linux"):
            assert not list(internal.glob("libstdc++.so*")), "left to the OS (PEP 599)"


@pytest.mark.timeout(600)
def test_frozen_calculator_computes(
    builder: Any, calculator: Path, calculator_flags: tuple[str, ...], tmp_path: Path
) -> None:
    """Run the frozen calculator's self-test again by hand: its frozen workers compute."""
    built = builder.build(calculator, *calculator_flags, "-D")
    assert built.returncode == 0, built.output
    result = tmp_path / "selftest.json"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QTCOMPUTE_SELFTEST": str(result)}
    done = subprocess.run(
        [str(built.executable)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(result.read_text())
    assert data["ok"] and data["frozen"]
    assert data["first_result_pid"] in data["worker_pids"]
    assert data["first_result_pid"] != data["pid"]
    assert len(data["round_trip_s"]) == WORKERS
    assert "qtcompute self-test: worker" in done.stdout


@pytest.mark.timeout(600)
def test_forgotten_entry_point_is_diverted_automatically(
    builder: Any, apps: Path, tmp_path: Path
) -> None:
    built = builder.build(apps / "forgot_entry_point.py", "--no-check")
    _assert_verified(built, "onedir")
    # And the app itself, not only its self-test: its own Pool(2) computes, bounded.
    out = tmp_path / "result.txt"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "APP_RESULT_FILE": str(out)}
    with psutil.Popen(
        [str(built.executable)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as proc:
        output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 0, output
    assert out.read_text() == "285"
    assert "did not call multiprocessing.freeze_support()" in output  # the warning names it
    assert "qtcompute.run(main)" in output


@pytest.mark.timeout(600)
def test_windowed_build_with_printing_worker_does_not_crash(
    builder: Any, apps: Path, tmp_path: Path
) -> None:
    built = builder.build(apps / "windowed_printer.py", "-w", "--no-check")
    _assert_verified(built, "onedir")
    # What a windowed app gets on Windows: no stdout, no stderr at all (fds 1 and 2 closed).
    out = tmp_path / "result.txt"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "APP_RESULT_FILE": str(out)}

    if sys.platform == "win32":
        command = [str(built.executable)]  # -w on Windows: really no console, no std streams
    else:
        command = ["sh", "-c", 'exec "$0" 1>&- 2>&-', str(built.executable)]
    proc = subprocess.run(command, env=env, timeout=120)
    assert proc.returncode == 0
    assert out.read_text() == "1,2,3,4"
