"""loky's children in a frozen app become the loky processes they were started as.

loky, joblib's default process back end (and so scikit-learn's ``n_jobs=``), starts its workers
and its resource tracker itself, by running ``sys.executable`` with arguments of its own (the
shapes are in :mod:`qtcompute.freeze._argv`). ``multiprocessing.freeze_support()`` knows none of
them, so in a frozen app, where ``sys.executable`` is the app, every loky child starts the app
again: measured here, a joblib script frozen with plain PyInstaller reached 410 processes in
20 s. loky's own ``freeze_support()`` has been proposed (loky #375, #625) but not released.

At the entry point (``qtcompute.run``), a frozen process whose command line is loky's:

- calls the installed loky's own ``freeze_support()`` first, where it has one;
- a worker, POSIX: runs the module loky named (``<pkg>.backend.popen_loky_posix``) as
  ``python -m`` would, with ``runpy``, but leaves the app's ``__main__`` in place
  (``alter_sys=False``): loky's ``prepare()`` then finds ``__main__.__file__`` equal to the
  parent's and does not run the app's script a second time;
- a worker, Windows: calls ``<pkg>.backend.popen_loky_win32.main(handle, parent_pid)``. Frozen,
  loky leaves ``parent_pid`` out of the command line, and without it the pipe handle (valid
  only in the parent) cannot be duplicated ("the handle is invalid", loky #236). The parent is
  the nearest ancestor with another command line: a onefile app's bootloader, between the two,
  passes the same command line on;
- the resource tracker: ``exec`` of its ``-c`` command, as PyInstaller does for
  multiprocessing's.

Each ends the process right there (``os._exit`` after flushing, see ``_exit``).
"""

from __future__ import annotations

import importlib
import os
import runpy
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from qtcompute.freeze._argv import (
    Role,
    helper_command,
    loky_posix_worker,
    loky_windows_pipe,
    role_of,
)
from qtcompute.freeze._errors import MalformedWorkerArgumentsError
from qtcompute.freeze._exit import logger, run_and_exit

# Where loky lives: vendored by joblib (the usual case), or installed on its own.
LOKY_PACKAGES = ("joblib.externals.loky", "loky")


def divert_loky_child() -> None:
    """In a frozen child started by loky, become the loky worker or tracker, and exit.

    Returns in every other process. Raises :class:`MalformedWorkerArgumentsError` for a loky
    worker command line loky did not write (typed by hand).
    """
    for package in LOKY_PACKAGES:
        _call_own_freeze_support(package, import_it=False)
    role = role_of(sys.argv)
    if role is Role.LOKY_WORKER:
        run_and_exit(*loky_worker_job(sys.argv))
    command = helper_command(sys.argv) if role is Role.HELPER else None
    if command is not None and is_loky_command(command):
        logger.debug("frozen process %d: loky's resource tracker", os.getpid())
        run_and_exit(exec, command)


def is_loky_command(command: str) -> bool:
    """True if a helper's ``-c`` command is loky's (not multiprocessing's)."""
    return not command.startswith(("from multiprocessing", "import sys; from multiprocessing"))


def loky_worker_job(argv: Sequence[str]) -> tuple[Callable[[Any], object], Any]:
    """``(function, argument)`` that turns this process into the loky worker ``argv`` names.

    Validated first: a bad command line raises here, before anything runs.
    """
    posix = loky_posix_worker(argv)
    if posix is not None:
        module, arguments = posix
        _check_pipe(arguments, argv)
        _call_own_freeze_support(module.rsplit(".backend.", 1)[0], import_it=True)
        logger.debug("frozen process %d: loky worker (%s)", os.getpid(), module)
        return _run_posix_worker, (module, arguments)
    handle = loky_windows_pipe(argv)
    if handle is None:
        raise _bad(argv, "not a loky worker command line")
    package = windows_loky_package()
    _call_own_freeze_support(package, import_it=True)
    return _run_windows_worker, (package, handle)


def windows_loky_package() -> str:
    """The loky a Windows worker belongs to: its command line does not say.

    The one the app already imported (its main script's imports ran before the entry point),
    else the first importable. With both in use, a standalone-loky worker is prepared by
    joblib's copy: it then starts a resource tracker of its own when it needs one.
    """
    for package in LOKY_PACKAGES:
        if package in sys.modules:
            return package
    for package in LOKY_PACKAGES:
        try:
            importlib.import_module(package)
        except ImportError:
            continue
        return package
    return LOKY_PACKAGES[-1]


def spawner_pid() -> int:
    """The process that started this one: the nearest ancestor with another command line."""
    import psutil

    try:
        me = psutil.Process()
        cmdline = me.cmdline()
        for parent in me.parents():
            if parent.cmdline() != cmdline:
                return parent.pid
    except psutil.Error:
        pass
    return os.getppid()


def _run_posix_worker(target: tuple[str, list[str]]) -> None:
    module, arguments = target
    sys.argv = [module, *arguments]  # what `python -m module args` leaves for its argparse
    with warnings.catch_warnings():
        # runpy warns when the module was imported already (by the app's own imports).
        warnings.filterwarnings("ignore", "'.*' found in sys.modules", RuntimeWarning)
        runpy.run_module(module, run_name="__main__", alter_sys=False)


def _run_windows_worker(target: tuple[str, int]) -> None:  # pragma: no cover - Windows
    package, handle = target
    popen = importlib.import_module(f"{package}.backend.popen_loky_win32")
    popen.main(handle, parent_pid=spawner_pid())


def _call_own_freeze_support(package: str, *, import_it: bool) -> None:
    """Call ``<package>.freeze_support()`` if that loky has one (it never returns in a child)."""
    module = sys.modules.get(package)
    if module is None and import_it:
        try:
            module = importlib.import_module(package)
        except ImportError:
            return
    freeze_support = getattr(module, "freeze_support", None)
    if callable(freeze_support):
        freeze_support()


def _check_pipe(arguments: list[str], argv: Sequence[str]) -> None:
    """``--pipe FD`` is there, an integer, and (POSIX) open: loky passed it, a person cannot."""
    try:
        fd = int(arguments[arguments.index("--pipe") + 1])
    except (ValueError, IndexError):
        raise _bad(argv, "--pipe <file descriptor> is missing") from None
    if fd < 0:
        raise _bad(argv, "--pipe must not be negative")
    try:
        os.fstat(fd)
    except OSError:
        raise _bad(argv, f"--pipe {fd} is not an open file descriptor") from None


def _bad(argv: Sequence[str], reason: str) -> MalformedWorkerArgumentsError:
    shown = " ".join(argv[1:])
    return MalformedWorkerArgumentsError(
        f"not a valid loky worker command line ({reason}): {shown!r}. These arguments are "
        "reserved for processes started by loky (joblib); start the app without them."
    )
