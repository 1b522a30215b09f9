"""Reading a process's command line: is this the app, a worker, or a multiprocessing helper?

The shapes multiprocessing writes (CPython ``multiprocessing/spawn.py``, ``resource_tracker.py``,
``forkserver.py``) and how PyInstaller's runtime hook reads them back
(``PyInstaller/hooks/rthooks/pyi_rth_multiprocessing.py``)::

    worker, frozen, POSIX    app --multiprocessing-fork tracker_fd=5 pipe_handle=7
    worker, frozen, Windows  app.exe --multiprocessing-fork parent_pid=1234 pipe_handle=668
    worker, not frozen       python -c 'from multiprocessing.spawn import spawn_main; ...'
                             --multiprocessing-fork          (sys.argv == ['-c', '--multi...'])
    helper (tracker)         app [interpreter flags] -c 'from multiprocessing.resource_tracker
                             import main;main(5)'
    helper (forkserver)      app [interpreter flags] -c 'from multiprocessing.forkserver import
                             main; main(...)'

The runtime hook parses worker arguments with ``name, value = arg.split('=')`` and ``int(value)``:
anything else is a ``ValueError`` traceback. We validate first, so that a mistyped command line
ends with one line instead.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

FORK_FLAG = "--multiprocessing-fork"

# The keyword arguments spawn_main() accepts (CPython 3.8 through 3.14).
_WORKER_KEYS = frozenset({"pipe_handle", "parent_pid", "tracker_fd"})

_HELPER_PREFIXES = (
    "from multiprocessing.resource_tracker import main",
    "from multiprocessing.forkserver import main",
    "import sys; from multiprocessing.forkserver import main",
)


class Role(enum.Enum):
    """What the command line of this process says it is."""

    APP = "app"
    """Started by a user or a launcher: run the app."""
    WORKER = "worker"
    """Spawned by multiprocessing to run a ``Process`` target (argv[1] is the fork flag)."""
    HELPER = "helper"
    """Spawned by multiprocessing to run its resource tracker or fork server (``-c`` + import)."""


def role_of(argv: Sequence[str]) -> Role:
    """Classify a command line (``sys.argv``) the way multiprocessing itself would."""
    if len(argv) >= 2 and argv[1] == FORK_FLAG:
        return Role.WORKER
    if helper_command(argv) is not None:
        return Role.HELPER
    return Role.APP


def helper_command(argv: Sequence[str]) -> str | None:
    """The ``-c`` command of a resource-tracker or fork-server command line, else None."""
    try:
        index = list(argv).index("-c", 1)
    except ValueError:
        return None
    if index + 1 >= len(argv):
        return None
    flags = argv[1:index]
    if any(not flag.startswith("-") for flag in flags):
        return None  # a user's positional argument happens to be "-c": not multiprocessing's
    command = argv[index + 1]
    return command if command.startswith(_HELPER_PREFIXES) else None


def parse_worker_arguments(argv: Sequence[str]) -> dict[str, int | None]:
    """The keyword arguments for ``spawn_main()`` from a frozen worker's command line.

    Raises:
        MalformedWorkerArgumentsError: an argument is not ``name=<int>`` / ``name=None`` with a
            name spawn_main() knows, or ``pipe_handle`` is missing.
    """
    from qtcompute.freeze._errors import MalformedWorkerArgumentsError

    def bad(reason: str) -> MalformedWorkerArgumentsError:
        shown = " ".join(argv[1:])
        return MalformedWorkerArgumentsError(
            f"not a valid multiprocessing worker command line ({reason}): {shown!r}. "
            f"{FORK_FLAG} is reserved for processes started by multiprocessing; "
            "start the app without it."
        )

    kwargs: dict[str, int | None] = {}
    for arg in argv[2:]:
        name, sep, value = arg.partition("=")
        if not sep or name not in _WORKER_KEYS:
            raise bad(f"unexpected argument {arg!r}")
        if name in kwargs:
            raise bad(f"{name} given twice")
        if value == "None":
            kwargs[name] = None
            continue
        try:
            kwargs[name] = int(value)
        except ValueError:
            raise bad(f"{name} must be an integer, not {value!r}") from None
        if kwargs[name] < 0:
            raise bad(f"{name} must not be negative")
    if kwargs.get("pipe_handle") is None:
        raise bad("pipe_handle is missing")
    return kwargs
