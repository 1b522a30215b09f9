"""loky's children in a "frozen" app on Linux, without PyInstaller: real joblib, real loky.

A frozen app is an executable that is both the app and the interpreter. Here it is a shell
script that runs ``python app.py "$@"``, and ``app.py`` sets ``sys.frozen`` and points
``sys.executable`` at the script before importing joblib. loky then starts its workers and its
resource tracker by running that script with its own arguments, exactly as it runs a PyInstaller
executable, and each child starts at the top of ``app.py``: the code path of a frozen app.

Every app refuses to compute in a child (``main`` exits 99 when it gets arguments), and every run
is under a watchdog that kills the session above a few processes: an undiverted child can never
become a fork bomb.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("joblib")

from tests_support import run_bounded

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell script as the app")

ENV = {k: v for k, v in os.environ.items() if not k.startswith("QTCOMPUTE_")}
EXPECTED = sum(i * i for i in range(200))
CAP = 12  # the app, two loky workers, loky's and multiprocessing's trackers, and margin

PRELUDE = """\
import os, sys
sys.frozen = True
sys.executable = os.environ["FAKE_FROZEN_EXE"]
"""

MAIN = """
def square(i):
    return i * i

def main():
    if len(sys.argv) > 1:  # a loky child that was not diverted: never compute, never loop
        print("APP RAN AGAIN:", sys.argv[1:], file=sys.stderr, flush=True)
        return 99
    from joblib import Parallel, delayed
    print("total", sum(Parallel(n_jobs=2)(delayed(square)(i) for i in range(200))), flush=True)
    return 0
"""


def _frozen_app(tmp_path: Path, body: str) -> tuple[Path, dict[str, str]]:
    script = tmp_path / "app.py"
    script.write_text(PRELUDE + textwrap.dedent(body), encoding="utf-8")
    exe = tmp_path / "app"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n', encoding="utf-8")
    exe.chmod(0o755)
    return exe, {**ENV, "FAKE_FROZEN_EXE": str(exe), "PYTHONUNBUFFERED": "1"}


@pytest.mark.timeout(120)
def test_loky_children_become_loky_workers_through_run(tmp_path: Path) -> None:
    exe, env = _frozen_app(
        tmp_path,
        MAIN
        + """
import qtcompute, joblib
if __name__ == "__main__":
    sys.exit(qtcompute.run(main))
""",
    )
    done = run_bounded([str(exe)], cap=CAP, timeout=90, env=env)
    assert not done.runaway, done.output
    assert done.returncode == 0, done.output
    assert f"total {EXPECTED}" in done.output
    assert "APP RAN AGAIN" not in done.output
    assert done.peak <= 6, done.output  # app + 2 workers + 2 trackers (+ the shell, briefly)


@pytest.mark.timeout(120)
def test_loky_children_reaching_pool_are_diverted_with_a_warning(tmp_path: Path) -> None:
    """The app forgot qtcompute.run() but starts a qtcompute Pool first: diverted there."""
    exe, env = _frozen_app(
        tmp_path,
        MAIN
        + """
import logging, qtcompute, joblib
logging.basicConfig()
if __name__ == "__main__":
    pool = qtcompute.Pool(1)
    code = main()
    pool.shutdown()
    sys.exit(code)
""",
    )
    done = run_bounded([str(exe)], cap=CAP + 2, timeout=90, env=env)
    assert not done.runaway, done.output
    assert done.returncode == 0, done.output
    assert f"total {EXPECTED}" in done.output
    assert "APP RAN AGAIN" not in done.output
    assert "frozen loky (joblib) worker process" in done.output
    assert "qtcompute.run(main)" in done.output


@pytest.mark.timeout(120)
def test_without_the_entry_point_the_children_run_the_app_again(tmp_path: Path) -> None:
    """The control: the same app with multiprocessing.freeze_support() only, as the seed's blog
    post says. loky's children run main() again (refused here with exit 99, a bomb otherwise)."""
    exe, env = _frozen_app(
        tmp_path,
        MAIN
        + """
import multiprocessing
if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
""",
    )
    done = run_bounded([str(exe)], cap=CAP, timeout=60, env=env)
    assert "APP RAN AGAIN: ['-m'" in done.output
    assert f"total {EXPECTED}" not in done.output


@pytest.mark.parametrize(
    "args",
    [
        ["--process-name", "LokyProcess-1"],
        ["--process-name", "LokyProcess-1", "--pipe", "seven"],
        ["--process-name", "LokyProcess-1", "--pipe", "987"],
    ],
)
def test_a_typed_loky_worker_command_line_ends_in_one_line(tmp_path: Path, args: list[str]) -> None:
    exe, env = _frozen_app(
        tmp_path,
        MAIN
        + """
import qtcompute
if __name__ == "__main__":
    sys.exit(qtcompute.run(main))
""",
    )
    module = "joblib.externals.loky.backend.popen_loky_posix"
    done = run_bounded([str(exe), "-m", module, *args], cap=3, timeout=60, env=env)
    assert done.returncode == 2, done.output
    lines = done.output.strip().splitlines()
    assert len(lines) == 1, done.output
    assert "error: not a valid loky worker command line" in lines[0]
    assert "Traceback" not in done.output
