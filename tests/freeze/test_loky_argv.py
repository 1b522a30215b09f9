"""loky's command lines, as loky writes them (loky/backend/popen_loky_*.py, resource_tracker.py)."""

from __future__ import annotations

import pytest

from qtcompute.freeze import Role, role_of
from qtcompute.freeze._argv import helper_command, loky_posix_worker, loky_windows_pipe
from qtcompute.freeze._loky import is_loky_command

VENDORED = "joblib.externals.loky.backend.popen_loky_posix"
TRACKER = "from joblib.externals.loky.backend.resource_tracker import main; main(3, False)"


@pytest.mark.parametrize(
    ("argv", "role"),
    [
        (
            ["app", "-m", VENDORED, "--process-name", "LokyProcess-1", "--pipe", "14"],
            Role.LOKY_WORKER,
        ),
        (["app", "-m", "loky.backend.popen_loky_posix", "--pipe", "9"], Role.LOKY_WORKER),
        (["app.exe", "--multiprocessing-fork", "668"], Role.LOKY_WORKER),
        (["app.exe", "--multiprocessing-fork", "parent_pid=12", "pipe_handle=668"], Role.WORKER),
        (["app", "-B", "-c", TRACKER], Role.HELPER),
        (
            ["app", "-c", "from loky.backend.resource_tracker import main; main(5, False)"],
            Role.HELPER,
        ),
        # Look-alikes that are the user's own arguments: the app.
        (["app", "-m", "mymodule", "--pipe", "3"], Role.APP),
        (["app", "-m", "evil.popen_loky_posix_x", "--pipe", "3"], Role.APP),
        (["app", "--pipe", "3"], Role.APP),
        (["app", "-c", "from loky.backend.resource_tracker import mainly"], Role.APP),
        (["app.exe", "--multiprocessing-fork", "668", "extra"], Role.WORKER),
    ],
)
def test_role_of_loky_command_lines(argv: list[str], role: Role) -> None:
    assert role_of(argv) is role


def test_the_parts_of_a_loky_command_line() -> None:
    argv = ["app", "-m", VENDORED, "--process-name", "LokyProcess-1", "--pipe", "14"]
    assert loky_posix_worker(argv) == (
        VENDORED,
        ["--process-name", "LokyProcess-1", "--pipe", "14"],
    )
    assert loky_windows_pipe(["app.exe", "--multiprocessing-fork", "668"]) == 668
    assert loky_windows_pipe(["app.exe", "--multiprocessing-fork", "pipe_handle=668"]) is None
    command = helper_command(["app", "-B", "-c", TRACKER])
    assert command == TRACKER and is_loky_command(command)
    mp_tracker = "from multiprocessing.resource_tracker import main;main(5)"
    assert not is_loky_command(helper_command(["app", "-c", mp_tracker]) or "")
