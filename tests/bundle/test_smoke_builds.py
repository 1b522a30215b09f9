"""The smoke run of the real app, the coverage from source and its fixes, on real builds.

Each app either verifies and then works when the test runs the frozen app itself, or is refused
with the cause named. Apps that fail from source are refused before anything is frozen.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.build, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _run_frozen(executable: Path, tmp_path: Path, **env: str) -> tuple[int, str]:
    full = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **env}
    full.pop("QTCOMPUTE_POOL_OWNER", None)
    done = subprocess.run(
        [str(executable)], env=full, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    return done.returncode, done.stdout + done.stderr


def _verified(built: Any) -> dict[str, Any]:
    assert built.returncode == 0, built.output
    report = built.report
    assert report["verdict"] == "verified"
    assert report["smoke"]["source"]["ok"] and report["smoke"]["frozen"]["ok"]
    return report


@pytest.mark.timeout(600)
def test_data_file_beside_the_script_is_added_and_found_frozen(
    builder: Any, apps: Path, tmp_path: Path
) -> None:
    built = builder.build(apps / "settings_beside" / "settings_app.py")
    report = _verified(built)
    added = report["additions"]
    assert [(Path(src).name, dest) for src, dest in added["data_files"]] == [("settings.json", ".")]
    assert "1 data file(s): settings.json" in built.output
    out = tmp_path / "result.txt"
    code, output = _run_frozen(built.executable, tmp_path, APP_RESULT_FILE=str(out))
    assert code == 0, output
    assert out.read_text() == "settings from beside the script:42"


@pytest.mark.timeout(600)
def test_modules_imported_by_name_are_added_and_work_frozen(
    builder: Any, apps: Path, tmp_path: Path
) -> None:
    built = builder.build(apps / "by_name_imports.py")
    report = _verified(built)
    added = report["additions"]["hidden_imports"]
    assert "sqlite3" in added  # imported by name in the worker
    assert "difflib" in added  # imported by name in a slot
    assert report["additions"]["not_added"] == []
    assert "hidden import(s)" in built.output and "sqlite3" in built.output
    out = tmp_path / "result.txt"
    code, output = _run_frozen(built.executable, tmp_path, APP_RESULT_FILE=str(out))
    assert code == 0, output
    assert out.read_text() == "0.95 3"


@pytest.mark.timeout(600)
def test_no_fix_names_each_option_and_the_frozen_smoke_catches_the_failure(
    builder: Any, apps: Path
) -> None:
    built = builder.build(apps / "by_name_imports.py", "--no-fix", name="by-name-nofix")
    assert built.returncode == 1, built.output
    report = built.report
    assert report["verdict"] == "smoke failed"
    assert "--hidden-import=sqlite3" in report["additions"]["options"]
    assert "--hidden-import=difflib" in report["additions"]["options"]
    assert "--hidden-import=difflib" in built.output
    frozen = report["smoke"]["frozen"]
    assert not frozen["ok"]
    # Frozen, the slot's by-name import fails in the GUI thread: named, not a silent window.
    assert "uncaught exception (GUI thread)" in frozen["message"]
    assert "No module named 'difflib'" in frozen["message"]


@pytest.mark.timeout(300)
def test_a_slot_that_raises_is_refused_before_freezing(builder: Any, apps: Path) -> None:
    built = builder.build(apps / "slot_raises.py")
    assert built.returncode == 1, built.output
    report = built.report
    assert report["verdict"] == "fails from source"
    assert report["executable"] is None  # refused before PyInstaller ran
    message = report["smoke"]["source"]["message"]
    assert "uncaught exception (GUI thread): KeyError: 'font'" in message
    assert 'print(settings["font"])' in built.output  # the traceback, in the error


@pytest.mark.timeout(300)
def test_a_task_failing_with_nobody_listening_is_refused(builder: Any, apps: Path) -> None:
    built = builder.build(apps / "task_fails_unheard.py")
    assert built.returncode == 1, built.output
    report = built.report
    assert report["verdict"] == "fails from source"
    message = report["smoke"]["source"]["message"]
    assert "task load_model failed" in message
    assert "FileNotFoundError" in message
    assert "/nonexistent/model.bin" in built.output
    # And the engine's own word for it, counted as a failure once (through the qtcompute logger).
    assert "Task exception was never retrieved" in built.output
    failures = report["smoke"]["source"]["harness"]["failures"]
    assert [f["kind"] for f in failures].count("logged error") == 1


@pytest.mark.timeout(600)
def test_the_calculator_smoke_script_runs_from_source_and_frozen(
    builder: Any, calculator: Path, calculator_flags: tuple[str, ...], tmp_path: Path
) -> None:
    built = builder.build(calculator, *calculator_flags, "-D")
    report = _verified(built)
    for where in ("source", "frozen"):
        harness = report["smoke"][where]["harness"]
        assert harness["smoke_status"] == 0, report["smoke"][where]
        assert harness["tasks"] >= 1
        assert harness["windows"] == ["CalculatorWindow: qtcompute: addition in a worker process"]
    assert report["smoke"]["frozen"]["harness"]["frozen"] is True
    # The frozen calculator itself, started by the test: the script clicks, the worker adds.
    result = tmp_path / "smoke.json"
    code, output = _run_frozen(
        built.executable,
        tmp_path,
        QTCOMPUTE_SMOKE=str(result),
        QTCOMPUTE_SMOKE_SCRIPT=str(ROOT / "examples" / "adder_smoke.py"),
        QTCOMPUTE_SMOKE_SETTLE="0.5",
    )
    assert code == 0, output
    data = json.loads(result.read_text())
    assert data["failures"] == [] and data["smoke_status"] == 0 and data["tasks"] == 1


@pytest.mark.timeout(600)
def test_the_fractal_explorer_still_verifies(builder: Any) -> None:
    built = builder.build(ROOT / "examples" / "mandelbrot.py")
    report = _verified(built)
    assert report["smoke"]["frozen"]["harness"]["tasks"] >= 1  # it renders on show


@pytest.mark.timeout(600)
def test_a_loky_bomb_is_stopped_and_loky_named(builder: Any, apps: Path) -> None:
    built = builder.build(apps / "loky_bomb.py", "--no-check")
    assert built.returncode == 1, built.output
    report = built.report
    assert report["verdict"] == "runaway"
    message = report["verify"]["message"]
    assert "loky worker processes" in message
    assert "does not call multiprocessing.freeze_support()" not in message
    assert any("popen_loky_posix" in " ".join(c) for c in report["verify"]["runaway_cmdlines"])
