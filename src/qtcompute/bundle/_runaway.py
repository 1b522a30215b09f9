"""Who is spawning: the runaway children's command lines, read before the tree is killed.

A frozen app's children all run the app's executable; what tells them apart is what follows it.
The shapes (CPython ``multiprocessing/spawn.py``; loky 3.4-3.7 ``backend/popen_loky_posix.py``,
``popen_loky_win32.py``, ``resource_tracker.py``, also vendored as
``joblib.externals.loky``)::

    loky worker, POSIX        app -m loky.backend.popen_loky_posix --process-name N --pipe FD
    loky worker, Windows      app --multiprocessing-fork 668          (a bare handle)
    loky resource tracker     app [flags] -c 'from loky.backend.resource_tracker import main; ...'
    multiprocessing worker    app --multiprocessing-fork [tracker_fd=5] pipe_handle=7
                              (Windows: parent_pid=1234 pipe_handle=668)
    multiprocessing helper    app [flags] -c 'from multiprocessing.resource_tracker import main...'
    plain re-run of the app   app [the user's own arguments]

``multiprocessing.freeze_support()`` handles multiprocessing's shapes only: a loky child runs
the app again even in an app that calls it (loky #236). Only plain re-runs point at a missing
``freeze_support()``.
"""

from __future__ import annotations

import enum
import os
from collections import Counter
from collections.abc import Sequence

FORK_FLAG = "--multiprocessing-fork"


class Culprit(enum.Enum):
    """What the runaway children are."""

    LOKY = "loky"
    MULTIPROCESSING = "multiprocessing"
    RERUN = "re-run"


def classify(argv: Sequence[str]) -> Culprit | None:
    """The kind of one child's command line."""
    args = list(argv[1:])
    if not args:
        return Culprit.RERUN
    joined = " ".join(args)
    if "popen_loky" in joined or "loky.backend.resource_tracker" in joined:
        return Culprit.LOKY
    if args[0] == FORK_FLAG:
        rest = args[1:]
        if len(rest) == 1 and rest[0].isdigit():
            return Culprit.LOKY  # loky's Windows worker: a bare pipe handle
        return Culprit.MULTIPROCESSING
    if "-c" in args and "multiprocessing." in joined:
        return Culprit.MULTIPROCESSING
    return Culprit.RERUN


_WHY = {
    Culprit.LOKY: (
        "they are loky worker processes (joblib's default process back end), started as "
        "`{example}`: loky starts its workers by running sys.executable with its own "
        "arguments, which multiprocessing.freeze_support() does not recognise, and in a frozen "
        "app sys.executable is the app, so every worker starts the app again (loky #236; "
        "calling freeze_support() does not help). Fix: start the app with qtcompute.run(main), "
        "which turns loky's children into the workers they were meant to be, or run joblib on "
        "qtcompute's pool (parallel_config(backend='qtcompute'))"
    ),
    Culprit.MULTIPROCESSING: (
        "they are multiprocessing worker processes (`{example}`) that ran the app's start-up "
        "code instead of their task: nothing diverted them before the app started more "
        "processes. The module-level multiprocessing.freeze_support() must run first, before "
        "any process is started (get_context(...).freeze_support() is not the patched one). "
        "Fix: start the app with qtcompute.run(main)"
    ),
    Culprit.RERUN: (
        "they are plain re-runs of the app (`{example}`, no worker arguments). Probable cause: "
        "the app does not call multiprocessing.freeze_support() first (use qtcompute.run(main)), "
        "or its code starts its own executable (sys.executable is the app when frozen)"
    ),
}


def diagnose(cmdlines: Sequence[Sequence[str]]) -> str:
    """One sentence naming what the children are and what to do, from their command lines.

    ``cmdlines`` are the tree's processes other than the one the verifier started.
    """
    kinds: Counter[Culprit] = Counter()
    examples: dict[Culprit, Sequence[str]] = {}
    for argv in cmdlines:
        if not argv:
            continue
        kind = classify(argv)
        kinds[kind] += 1
        # A worker's line tells more than a resource tracker's: shown if there is one.
        if kind not in examples or (_is_worker(argv) and not _is_worker(examples[kind])):
            examples[kind] = argv
    if not kinds:
        return (
            "Probable cause: the app does not call multiprocessing.freeze_support() first "
            "(use qtcompute.run)."
        )
    # Any loky child names loky: its workers are what re-run the app (their resource trackers
    # and multiprocessing's own helpers come along). Multiprocessing's before plain re-runs.
    order = [Culprit.LOKY, Culprit.MULTIPROCESSING, Culprit.RERUN]
    culprit = next(k for k in order if kinds[k])
    example = " ".join(_short(examples[culprit]))
    counts = ", ".join(f"{kinds[k]} {k.value}" for k in order if kinds[k])
    return f"Children by kind: {counts}; " + _WHY[culprit].format(example=example) + "."


def _is_worker(argv: Sequence[str]) -> bool:
    return FORK_FLAG in argv or any("popen_loky" in arg for arg in argv)


def _short(argv: Sequence[str]) -> list[str]:
    shown = [os.path.basename(argv[0]), *argv[1:]]
    return [arg if len(arg) <= 80 else arg[:77] + "..." for arg in shown]
