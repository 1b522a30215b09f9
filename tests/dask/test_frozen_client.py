"""An app frozen with ``qtcompute build`` as a Dask client: built once per session (heavy: it
bundles ``distributed``), then run against a ``LocalCluster`` that this test starts. Its task is
a function of the frozen script's ``__main__``, which reaches the workers by value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PyInstaller")

APP = Path(__file__).resolve().parent / "apps" / "dask_client.py"

pytestmark = [pytest.mark.slow, pytest.mark.build, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")  # the cluster's scope: the build's smoke runs use it too
def frozen_client(tmp_path_factory: pytest.TempPathFactory, cluster) -> Path:
    out = tmp_path_factory.mktemp("dask-client")
    report = out / "report.json"
    command = [
        sys.executable, "-m", "qtcompute", "build", str(APP), "-y", "-n", "dask_client",
        "--distpath", str(out / "dist"), "--workpath", str(out / "work"),
        "--report", str(report),
    ]  # fmt: skip
    # The smoke runs (from source, then frozen) start the app with no arguments: it finds the
    # scheduler the way Dask's own clients do.
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "DASK_SCHEDULER_ADDRESS": cluster.scheduler_address,
    }
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return Path(json.loads(report.read_text())["executable"])


def test_a_frozen_app_runs_its_tasks_on_a_cluster(frozen_client, cluster):
    done = subprocess.run(
        [str(frozen_client), cluster.scheduler_address],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {
        "result": 42,
        "progress": ["tripling"],
        "error": ["KeyError", "'from the cluster'", True],
    }
