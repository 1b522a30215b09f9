"""What a process passes before it starts workers: ``before_pool_start`` and the runaway guard.

``before_pool_start`` is what ``qtcompute.Pool()`` calls first; nothing here imports the engine
(the engine imports this module, and the self-test is handed the pool class it exercises).

The runaway guard refuses to start the app again below one of its own workers.

The fork bomb is a loop: the app starts workers, a worker runs the app's start-up again, which
starts workers... Automatic diversion breaks the loop where a worker's command line gives it away
(``--multiprocessing-fork``). The guard breaks it where it does not: a task that runs
``subprocess.run([sys.executable])`` in a frozen app, a helper started by hand, a launcher that
drops the flag.

How a process knows it is below a worker without any help from the worker: every process that
starts a pool exports ``QTCOMPUTE_POOL_OWNER=<pid>:<program>`` (its pid and what it runs: the
frozen executable, or the main script). Children inherit the environment, so a process that
finds the variable *with its own program*, but another pid, is the app started again by a
descendant of the owner. That alone is legitimate (an app may relaunch itself for a second
window); it is a runaway only if one of the processes between it and the owner is a worker,
which ``psutil`` tells from their command lines. The check costs one ``os.environ`` lookup
unless that variable is present.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from qtcompute.freeze import _selftest
from qtcompute.freeze._argv import FORK_FLAG
from qtcompute.freeze._divert import divert_late
from qtcompute.freeze._errors import RunawaySpawnError

if TYPE_CHECKING:
    from qtcompute.engine import Pool

OWNER_ENV = "QTCOMPUTE_POOL_OWNER"


def before_pool_start(selftest_pool: type[Pool]) -> None:
    """Called first thing by ``qtcompute.Pool()``: freeze safety for apps without ``run()``.

    - A frozen child that reached here (the app forgot ``freeze_support()``) becomes the worker
      or helper it was started as, and exits (automatic diversion, with a warning).
    - Below one of the app's workers, the app's own program starting a pool raises
      :class:`RunawaySpawnError` (the runaway guard).
    - In self-test mode (``QTCOMPUTE_SELFTEST``) the self-test runs on a ``selftest_pool``
      (the caller's pool class: this module cannot import the engine, which imports it) and
      the process exits.

    Not frozen and no marker in the environment, this costs two ``os.environ`` lookups.
    """
    divert_late("qtcompute.Pool()")
    ensure_std_fds()
    check_not_runaway("a pool")
    mark_pool_owner()
    path = _selftest.selftest_requested()
    if path is not None:
        raise SystemExit(_selftest.run_selftest(path, selftest_pool))


def ensure_std_fds() -> None:
    """On POSIX, point closed descriptors 0, 1 and 2 at ``/dev/null``.

    A GUI app may be started with them closed (a launcher, a windowed app's service). Then the
    next ``os.pipe()`` gets number 1 or 2, a spawned worker inherits that pipe as its stdout,
    and the worker's ``print()`` writes into the pool's protocol. Costs three ``fstat`` calls.
    """
    if sys.platform == "win32":
        return
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def program_identity() -> str:
    """What this process runs: the frozen executable, or the absolute path of the main script."""
    if getattr(sys, "frozen", False):
        return os.path.normcase(os.path.abspath(sys.executable))
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv else "")
    return os.path.normcase(os.path.abspath(path)) if path else "<interactive>"


def mark_pool_owner() -> None:
    """Export this process as a pool owner, for the guard in its descendants."""
    os.environ[OWNER_ENV] = f"{os.getpid()}:{program_identity()}"


def check_not_runaway(what: str) -> None:
    """Raise :class:`RunawaySpawnError` if this process is the app started again below a worker.

    Args:
        what: what was about to start, for the message ("the app", "a pool").
    """
    marker = os.environ.get(OWNER_ENV)
    if not marker:
        return
    owner_text, _, program = marker.partition(":")
    try:
        owner = int(owner_text)
    except ValueError:
        return
    if owner == os.getpid() or program != program_identity():
        return
    worker = _worker_between(owner)
    if worker is None:
        return
    raise RunawaySpawnError(
        f"refusing to start {what}: this process ({os.getpid()}) descends from worker process "
        f"{worker} of the app's pool (owner {owner}) and runs the same program, so starting it "
        "would start more workers that do the same (runaway process spawning). "
        "Probable cause: a task started the app's own executable, or the app was frozen "
        "without multiprocessing.freeze_support(). Fix: run tasks as functions in the pool, "
        "and start the app with qtcompute.run(main)."
    )


def _worker_between(owner: int) -> int | None:
    """The pid of a worker among this process's ancestors below ``owner``, or None."""
    import psutil

    try:
        ancestors = psutil.Process().parents()
    except psutil.Error:
        return None
    for process in ancestors:
        if process.pid == owner:
            return None
        try:
            cmdline = process.cmdline()
        except psutil.Error:
            continue
        if FORK_FLAG in cmdline:
            return process.pid
    return None
