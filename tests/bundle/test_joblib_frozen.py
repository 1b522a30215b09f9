"""joblib in a frozen Qt app: built with ``qtcompute build``, run for real, the tree bounded.

The app (tests/joblib/apps/joblib_slot_app.py) calls ``joblib.Parallel(n_jobs=2)`` from a slot,
on loky (joblib's default) and on the "qtcompute" back end. Every run is under a watchdog that
kills the app's session above a few processes, so a regression is a failed test, not a bomb.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("joblib")

from tests_support import run_bounded

pytestmark = [pytest.mark.build, pytest.mark.slow]

APPS = Path(__file__).resolve().parents[1] / "joblib" / "apps"
TOTAL = sum(i * i for i in range(1000))
CAP = 16


def _bound(processes: int) -> int:
    """The largest tree allowed: on Linux each frozen process is one process; elsewhere allow a
    bootloader process beside each (PyInstaller's onefile, and its macOS launcher)."""
    return processes if sys.platform.startswith("linux") else 2 * processes


# The app, loky's 2 workers and resource tracker, multiprocessing's tracker, 2 pool workers.
EXPECTED_PEAK = _bound(7)


@pytest.fixture(scope="module")
def joblib_app(builder: Any) -> Any:
    built = builder.build(APPS / "joblib_slot_app.py", "-D")
    assert built.returncode == 0, built.output
    return built


@pytest.mark.timeout(900)
def test_the_joblib_app_builds_and_verifies(joblib_app: Any) -> None:
    report = joblib_app.report
    assert report["verdict"] == "verified"
    assert report["verify"]["ok"] and not report["verify"]["runaway"]


@pytest.mark.timeout(300)
def test_frozen_joblib_from_a_slot_computes_and_stays_bounded(joblib_app: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTCOMPUTE_")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    done = run_bounded([str(joblib_app.executable)], cap=CAP, timeout=180, env=env)
    assert not done.runaway, done.output
    assert done.returncode == 0, done.output
    assert f"loky total {TOTAL}" in done.output
    assert f"qtcompute total {TOTAL}" in done.output
    assert "APP RAN AGAIN" not in done.output
    assert done.peak <= EXPECTED_PEAK, done.output
    if sys.platform.startswith("linux"):
        assert done.peak >= 3, "loky's workers ran (in this executable)"


# --- scikit-learn: cross_val_score(..., n_jobs=2) from a slot ---------------------------------

# numpy's OpenBLAS (a patchelf'ed wheel library) does not load once GNU strip has rewritten it
# ("ELF load command address/offset not page-aligned"); until the build skips such copies,
# this app is built unstripped and untrimmed.
SKLEARN_FLAGS = ("-D", "--no-strip", "--no-trim")


@pytest.mark.timeout(900)
def test_frozen_scikit_learn_with_n_jobs_computes_and_stays_bounded(builder: Any) -> None:
    pytest.importorskip("sklearn")
    built = builder.build(APPS / "sklearn_slot_app.py", *SKLEARN_FLAGS)
    assert built.returncode == 0, built.output
    assert built.report["verdict"] == "verified"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTCOMPUTE_")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    done = run_bounded([str(built.executable)], cap=CAP, timeout=240, env=env)
    assert not done.runaway, done.output
    assert done.returncode == 0, done.output
    assert "folds 4 mean accuracy" in done.output
    assert "APP RAN AGAIN" not in done.output
    assert done.peak <= _bound(5), done.output  # the app, loky's 2 workers and tracker, mp's


# --- plain PyInstaller (not `qtcompute build`): the entry point alone does it --------------------


@pytest.fixture(scope="session")
def plain_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The plain joblib script and the issue's bomb, each frozen once with PyInstaller itself."""
    root = tmp_path_factory.mktemp("plain-pyinstaller")
    built = {}
    for script in ("plain_joblib_script.py", "plain_joblib_bomb.py"):
        name = Path(script).stem
        command = [
            sys.executable, "-m", "PyInstaller", str(APPS / script), "--onedir", "-y",
            "--log-level", "WARN", "--distpath", str(root / "dist"),
            "--workpath", str(root / "work"), "--specpath", str(root),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        exe = root / "dist" / name / (name + (".exe" if sys.platform == "win32" else ""))
        built[name] = exe
    return built


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("QTCOMPUTE_")}


@pytest.mark.timeout(600)
def test_plain_pyinstaller_joblib_script_with_run_stays_bounded(plain_builds: Any) -> None:
    done = run_bounded([str(plain_builds["plain_joblib_script"])], cap=CAP, timeout=120, env=_env())
    assert not done.runaway, done.output
    assert done.returncode == 0, done.output
    assert f"total {sum(i * i for i in range(100))}" in done.output
    assert "APP RAN AGAIN" not in done.output
    assert done.peak <= _bound(5), done.output  # the app, 2 loky workers, loky's and mp's trackers


@pytest.mark.skipif(
    sys.platform == "win32",
    reason="on Windows an unfixed loky worker dies in freeze_support()'s arg.split (loky #236)",
)
@pytest.mark.timeout(600)
def test_plain_pyinstaller_bomb_without_run_is_a_fork_bomb(plain_builds: Any) -> None:
    """The control, under a strict watchdog: freeze_support() alone does not stop loky's bomb."""
    done = run_bounded([str(plain_builds["plain_joblib_bomb"])], cap=20, timeout=120, env=_env())
    assert done.runaway, f"expected a runaway, the tree peaked at {done.peak}: {done.output}"
    assert str(sum(i * i for i in range(100))) not in done.output
