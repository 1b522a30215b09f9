"""The seed's fork bomb: refused by the check step, caught and cleaned up by the verify step."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from qtcompute.bundle._verify import _mapped_by_anyone, shm_entries

pytestmark = [pytest.mark.build, pytest.mark.slow]

SEED_SPAWN = "seed_calculator_spawn_no_freeze_support.py"


def _checker_available() -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "qtcompute", "check", "--help"], capture_output=True, check=False
    )
    return done.returncode == 0


@pytest.mark.timeout(300)
def test_check_step_refuses_the_seed_bug(builder: Any, apps: Path) -> None:
    if not _checker_available():
        pytest.skip("qtcompute check has not landed")
    built = builder.build(apps / SEED_SPAWN)
    assert built.returncode == 1, built.output
    assert built.report["verdict"] == "check failed"
    assert built.report["check"]["findings"]
    assert "QC" in built.output
    assert "executable" not in built.report or built.report["executable"] is None


@pytest.mark.timeout(600)
def test_verify_catches_the_runaway_and_leaves_nothing_behind(builder: Any, apps: Path) -> None:
    before = shm_entries()
    built = builder.build(apps / SEED_SPAWN, "--no-check")
    assert built.returncode == 1, built.output
    report = built.report
    assert report["verdict"] == "runaway"
    assert "runaway process spawning" in built.output
    verify = report["verify"]
    assert verify["runaway"]
    assert verify["peak_processes"] > verify["cap"]
    # The culprit, from the children's command lines: multiprocessing workers running the app.
    assert "multiprocessing worker processes (`" in verify["message"]
    assert "--multiprocessing-fork" in verify["message"]
    # No process of the frozen app survives...
    exe = Path(report["executable"]).resolve()
    survivors = []
    for process in psutil.process_iter(["exe"]):
        if process.info["exe"] and Path(process.info["exe"]) == exe:
            survivors.append(process.pid)
    assert survivors == []
    # ...and no semaphore it created stays in /dev/shm (entries other live programs map are
    # theirs: this machine is shared).
    leaked = {n for n in shm_entries() - before if n.startswith("sem.mp-")}
    assert leaked <= _mapped_by_anyone(), sorted(leaked - _mapped_by_anyone())
