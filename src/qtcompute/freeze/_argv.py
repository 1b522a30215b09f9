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

loky (standalone, or vendored as ``joblib.externals.loky``) starts its children itself, with
``sys.executable`` and arguments of its own (``loky/backend/popen_loky_posix.py``,
``popen_loky_win32.py``, ``resource_tracker.py``), which ``freeze_support()`` does not know::

    loky worker, POSIX       app -m <pkg>.backend.popen_loky_posix --process-name LokyProcess-1
                             --pipe 7
    loky worker, Windows     app.exe --multiprocessing-fork 668      (a bare pipe handle, frozen)
    loky helper (tracker)    app [interpreter flags] -c 'from <pkg>.backend.resource_tracker
                             import main; main(5, False)'

The runtime hook parses worker arguments with ``name, value = arg.split('=')`` and ``int(value)``:
anything else is a ``ValueError`` traceback. We validate first, so that a mistyped command line
ends with one line instead.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence

FORK_FLAG = "--multiprocessing-fork"

# The keyword arguments spawn_main() accepts (CPython 3.8 through 3.14).
_WORKER_KEYS = frozenset({"pipe_handle", "parent_pid", "tracker_fd"})

_HELPER_PREFIXES = (
    "from multiprocessing.resource_tracker import main",
    "from multiprocessing.forkserver import main",
    "import sys; from multiprocessing.forkserver import main",
)
# <pkg> is "loky" or a package that vendors it ("joblib.externals.loky").
_LOKY_PACKAGE = r"(?:[A-Za-z_]\w*\.)*loky"
_LOKY_TRACKER = re.compile(rf"from {_LOKY_PACKAGE}\.backend\.resource_tracker import main\b")
_LOKY_POSIX_WORKER = re.compile(rf"{_LOKY_PACKAGE}\.backend\.popen_loky_posix")


class Role(enum.Enum):
    """What the command line of this process says it is."""

    APP = "app"
    """Started by a user or a launcher: run the app."""
    WORKER = "worker"
    """Spawned by multiprocessing to run a ``Process`` target (argv[1] is the fork flag)."""
    HELPER = "helper"
    """Spawned by multiprocessing (or loky) to run a resource tracker or fork server (``-c``)."""
    LOKY_WORKER = "loky worker"
    """Spawned by loky (joblib's default back end) to run one of its executor's workers."""


def role_of(argv: Sequence[str]) -> Role:
    """Classify a command line (``sys.argv``) the way multiprocessing itself would."""
    if len(argv) >= 2 and argv[1] == FORK_FLAG:
        return Role.LOKY_WORKER if loky_windows_pipe(argv) is not None else Role.WORKER
    if loky_posix_worker(argv) is not None:
        return Role.LOKY_WORKER
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
    if command.startswith(_HELPER_PREFIXES) or _LOKY_TRACKER.match(command):
        return command
    return None


def loky_posix_worker(argv: Sequence[str]) -> tuple[str, list[str]] | None:
    """``(module, arguments)`` of a loky worker's POSIX command line, else None.

    loky runs ``sys.executable -m <pkg>.backend.popen_loky_posix --process-name N --pipe FD``;
    the module's ``__main__`` block reads the process object from the pipe.
    """
    if len(argv) < 3 or argv[1] != "-m" or not _LOKY_POSIX_WORKER.fullmatch(argv[2]):
        return None
    return argv[2], list(argv[3:])


def loky_windows_pipe(argv: Sequence[str]) -> int | None:
    """The pipe handle of a frozen loky worker's Windows command line, else None.

    Frozen, loky's ``get_command_line()`` writes ``[sys.executable, "--multiprocessing-fork",
    handle]``: a bare integer where multiprocessing writes ``name=value`` pairs (and where the
    stock ``freeze_support()`` fails with ``ValueError`` on ``arg.split('=')``).
    """
    if len(argv) == 3 and argv[1] == FORK_FLAG and argv[2].isdigit():
        return int(argv[2])
    return None


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
