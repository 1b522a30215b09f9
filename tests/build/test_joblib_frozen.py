"""joblib in a frozen Qt app: built with ``qtcompute build``, run for real, the tree bounded.

The app (tests/joblib/apps/joblib_slot_app.py) calls ``joblib.Parallel(n_jobs=2)`` from a slot,
on loky (joblib's default) and on the "qtcompute" back end. Every run is under a watchdog that
kills the app's session above a few processes, so a regression is a failed test, not a bomb.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("joblib")

from tests_support import run_bounded

pytestmark = [pytest.mark.build, pytest.mark.slow]

APPS = Path(__file__).resolve().parents[1] / "joblib" / "apps"
TOTAL = sum(i * i for i in range(1000))
# The app, loky's 2 workers and resource tracker, multiprocessing's tracker, 2 pool workers.
EXPECTED_PEAK = 7
CAP = 16


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
