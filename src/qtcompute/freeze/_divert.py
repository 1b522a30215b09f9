"""Diversion: a process that multiprocessing started becomes what it was started for.

In a frozen app every child process runs the app's executable, so every child starts at the top
of the app's main script. ``multiprocessing.freeze_support()`` (patched by PyInstaller's runtime
hook to work on every OS) turns such a child into the worker or helper it is meant to be and
exits, *if* the app calls it before doing anything else. When the app forgot, the child runs the
app's start-up code until it reaches qtcompute (``Pool()`` or ``qtcompute.run()``); there we
divert it ourselves, late but before it can start anything.
"""

from __future__ import annotations

import os
import sys

from qtcompute.freeze._argv import Role, helper_command, parse_worker_arguments, role_of
from qtcompute.freeze._errors import MalformedWorkerArgumentsError
from qtcompute.freeze._exit import logger, run_and_exit
from qtcompute.freeze._loky import loky_worker_job

FIX = (
    "start the app with qtcompute.run(main) (or call multiprocessing.freeze_support() first "
    "thing under `if __name__ == '__main__':`)"
)


def is_frozen() -> bool:
    """True in an app frozen by PyInstaller (or any freezer that sets ``sys.frozen``)."""
    return bool(getattr(sys, "frozen", False))


def validate_worker_argv(argv: list[str]) -> dict[str, int | None]:
    """Check a frozen worker's arguments before multiprocessing parses them.

    Beyond the syntax (see :func:`parse_worker_arguments`), on POSIX the descriptors must be open
    in this process: multiprocessing passes them on, a person typing the command line cannot.
    """
    kwargs = parse_worker_arguments(argv)
    if sys.platform != "win32":
        for name in ("pipe_handle", "tracker_fd"):
            fd = kwargs.get(name)
            if fd is None:
                continue
            try:
                os.fstat(fd)
            except OSError:
                raise MalformedWorkerArgumentsError(
                    f"not a valid multiprocessing worker command line ({name}={fd} is not an "
                    "open file descriptor): this process was not started by multiprocessing. "
                    "Start the app without --multiprocessing-fork."
                ) from None
    return kwargs


def divert_late(where: str) -> None:
    """Automatic diversion: if this frozen process is a multiprocessing child, become it, exit.

    Called where a child that should never have got this far first reaches qtcompute. Returns
    only in the app's own process (or when not frozen: an interpreter child never runs the
    app's main script as ``__main__``).
    """
    if not is_frozen():
        return
    role = role_of(sys.argv)
    if role is Role.APP:
        return
    if role is Role.LOKY_WORKER:
        job = loky_worker_job(sys.argv)
        logger.warning(
            "frozen loky (joblib) worker process %d reached %s: the app does not start with "
            "qtcompute.run(), so this worker ran the app's start-up code again before being "
            "diverted (multiprocessing.freeze_support() does not know loky's workers). "
            "Fix: start the app with qtcompute.run(main).",
            os.getpid(),
            where,
        )
        run_and_exit(*job)
    if role is Role.WORKER:
        kwargs = validate_worker_argv(sys.argv)
        logger.warning(
            "frozen worker process %d reached %s: the app did not call "
            "multiprocessing.freeze_support() before starting, so this worker ran the app's "
            "start-up code again before being diverted. Fix: %s.",
            os.getpid(),
            where,
            FIX,
        )
        run_and_exit(_spawn_main, kwargs)
    command = helper_command(sys.argv)
    logger.warning(
        "frozen multiprocessing helper process %d reached %s (the app did not call "
        "multiprocessing.freeze_support() first). Fix: %s.",
        os.getpid(),
        where,
        FIX,
    )
    run_and_exit(exec, command)


def _spawn_main(kwargs: dict[str, int | None]) -> None:
    from multiprocessing import spawn

    spawn.spawn_main(**kwargs)  # type: ignore[arg-type]
