"""Reading command lines: app, worker, helper; malformed worker arguments."""

from __future__ import annotations

import pytest

from qtcompute.freeze import MalformedWorkerArgumentsError, Role, role_of
from qtcompute.freeze._argv import parse_worker_arguments

TRACKER = "from multiprocessing.resource_tracker import main;main(5)"


@pytest.mark.parametrize(
    ("argv", "role"),
    [
        (["app"], Role.APP),
        (["app", "--verbose", "file.txt"], Role.APP),
        (["app", "--multiprocessing-fork", "tracker_fd=5", "pipe_handle=7"], Role.WORKER),
        (["app.exe", "--multiprocessing-fork", "parent_pid=12", "pipe_handle=668"], Role.WORKER),
        (["-c", "--multiprocessing-fork"], Role.WORKER),
        (["app", "-B", "-S", "-I", "-c", TRACKER], Role.HELPER),
        (["app", "-c", "from multiprocessing.forkserver import main; main(3)"], Role.HELPER),
        (["app", "-c", "print('hi')"], Role.APP),
        (["app", "input.txt", "-c", TRACKER], Role.APP),
    ],
)
def test_role_of(argv: list[str], role: Role) -> None:
    assert role_of(argv) is role


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["app", "--multiprocessing-fork", "tracker_fd=5", "pipe_handle=7"], {"tracker_fd": 5}),
        (
            ["app.exe", "--multiprocessing-fork", "parent_pid=None", "pipe_handle=8"],
            {"parent_pid": None},
        ),
    ],
)
def test_parse_worker_arguments(argv: list[str], expected: dict[str, int | None]) -> None:
    assert parse_worker_arguments(argv) == {**expected, "pipe_handle": int(argv[-1][12:])}


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["pipe_handle=xyz"], "must be an integer"),
        (["pipe_handle"], "unexpected argument"),
        (["evil=1", "pipe_handle=3"], "unexpected argument"),
        (["tracker_fd=3"], "pipe_handle is missing"),
        (["pipe_handle=3", "pipe_handle=4"], "given twice"),
        (["pipe_handle=-1"], "negative"),
        (["pipe_handle=a=b"], "must be an integer"),
    ],
)
def test_malformed_worker_arguments(args: list[str], reason: str) -> None:
    with pytest.raises(MalformedWorkerArgumentsError, match=reason) as info:
        parse_worker_arguments(["app", "--multiprocessing-fork", *args])
    assert "\n" not in str(info.value)
