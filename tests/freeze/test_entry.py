"""The entry point with real processes: run(), @main, self-test, runaway guard, bad argv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ENV = {k: v for k, v in os.environ.items() if not k.startswith("QTCOMPUTE_")}


def _script(tmp_path: Path, body: str, name: str = "app.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**ENV, **(env or {})},
        check=False,
    )


def test_run_returns_what_main_returns_and_sets_spawn(tmp_path: Path) -> None:
    app = _script(
        tmp_path,
        """
        import multiprocessing, sys, qtcompute

        def main():
            return 7 if multiprocessing.get_start_method() == "spawn" else 1

        if __name__ == "__main__":
            sys.exit(qtcompute.run(main))
        """,
    )
    assert _run(str(app)).returncode == 7


def test_main_decorator_runs_only_as_the_program(tmp_path: Path) -> None:
    _script(
        tmp_path,
        """
        import qtcompute

        @qtcompute.main
        def main():
            print("ran")
            return 5
        """,
        name="decorated.py",
    )
    assert _run(str(tmp_path / "decorated.py")).returncode == 5
    imported = _run("-c", "import decorated; print('imported')", env={"PYTHONPATH": str(tmp_path)})
    assert imported.returncode == 0
    assert imported.stdout.split() == ["imported"]


def test_selftest_mode_replaces_main_and_reports(tmp_path: Path) -> None:
    app = _script(
        tmp_path,
        """
        import sys, qtcompute

        def main():
            raise AssertionError("main must not run in self-test mode")

        if __name__ == "__main__":
            sys.exit(qtcompute.run(main))
        """,
    )
    result = tmp_path / "result.json"
    done = _run(
        str(app), env={"QTCOMPUTE_SELFTEST": str(result), "QTCOMPUTE_SELFTEST_WORKERS": "2"}
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(result.read_text())
    assert data["ok"] and not data["frozen"]
    assert data["workers"] == 2 and len(data["worker_pids"]) == 2
    assert data["first_result_pid"] in data["worker_pids"]
    assert data["started_at"] <= data["first_result_at"] <= data["finished_at"]


def test_selftest_through_pool_when_the_app_forgot_run(tmp_path: Path) -> None:
    app = _script(
        tmp_path,
        """
        import qtcompute

        if __name__ == "__main__":
            qtcompute.Pool(1)
            raise AssertionError("the self-test must have exited at Pool()")
        """,
    )
    result = tmp_path / "result.json"
    done = _run(str(app), env={"QTCOMPUTE_SELFTEST": str(result)})
    assert done.returncode == 0, done.stderr
    assert json.loads(result.read_text())["ok"]


def test_runaway_guard_stops_the_app_started_below_a_worker(tmp_path: Path) -> None:
    """A task that starts the app's own program again: the grandchild refuses, exit 3."""
    app = _script(
        tmp_path,
        """
        import subprocess, sys, qtcompute

        def relaunch():
            done = subprocess.run([sys.executable, __file__], capture_output=True, text=True)
            return done.returncode, done.stderr

        def main():
            with qtcompute.Pool(1) as pool:
                code, err = pool.submit(relaunch).result(timeout=60)
            print(code)
            print(err)
            return 0

        if __name__ == "__main__":
            sys.exit(qtcompute.run(main))
        """,
    )
    done = _run(str(app))
    assert done.returncode == 0, done.stderr
    code, _, err = done.stdout.partition("\n")
    assert code == "3"
    assert "refusing to start the app" in err
    assert "runaway process spawning" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_relaunching_from_the_gui_process_is_allowed(tmp_path: Path) -> None:
    """Not every relaunch is a runaway: the pool owner may start its own program again."""
    app = _script(
        tmp_path,
        """
        import os, subprocess, sys, qtcompute

        def main():
            if os.environ.get("CHILD"):
                return 4
            with qtcompute.Pool(1):
                env = dict(os.environ, CHILD="1")
                return subprocess.run([sys.executable, __file__], env=env).returncode

        if __name__ == "__main__":
            sys.exit(qtcompute.run(main))
        """,
    )
    assert _run(str(app)).returncode == 4


def _fake_frozen(argv: list[str]) -> str:
    """A child interpreter that looks frozen (sys.frozen, argv) and calls qtcompute.run()."""
    return (
        "import sys; sys.frozen = True; "
        f"sys.argv = {argv!r}; "
        "import qtcompute; qtcompute.run(lambda: print('THE APP RAN'))"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["pipe_handle=xyz"],
        ["tracker_fd=5", "pipe_handle=nope"],
        ["pipe_handle"],
        pytest.param(
            ["pipe_handle=987"],  # an integer, but no such descriptor was passed
            marks=pytest.mark.skipif(sys.platform == "win32", reason="handles are not checked"),
        ),
    ],
)
def test_malformed_worker_arguments_end_in_one_line(args: list[str]) -> None:
    done = _run("-c", _fake_frozen(["app", "--multiprocessing-fork", *args]))
    assert done.returncode == 2
    assert "THE APP RAN" not in done.stdout
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("app: error: not a valid multiprocessing worker command line")
