"""qtcompute.joblib as a module: its public names, and the hint when joblib is missing."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("joblib")


def test_all_is_sorted_and_complete() -> None:
    import qtcompute.joblib as qj

    assert qj.__all__ == ["BACKEND_NAME", "QtComputeBackend", "default_pool", "register"]
    for name in qj.__all__:
        assert hasattr(qj, name)


def test_without_joblib_the_import_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['joblib'] = None\n"  # what an environment without joblib sees
        "try:\n"
        "    import qtcompute.joblib\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "pip install 'qtcompute[joblib]'" in done.stdout


def test_importing_qtcompute_does_not_import_joblib() -> None:
    code = "import sys, qtcompute, qtcompute.freeze; print('joblib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False"], done.stderr
