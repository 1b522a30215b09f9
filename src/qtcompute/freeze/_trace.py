"""Coverage of a run from source: which modules each process loaded, which project files it read.

``qtcompute build`` runs the app (and its smoke script) from source before freezing it, with
``QTCOMPUTE_TRACE=<folder>`` and ``QTCOMPUTE_TRACE_ROOT=<project folder>`` set and a
``sitecustomize`` of ours on ``PYTHONPATH`` (``qtcompute/bundle/_inject``). Every Python process
of the run imports that ``sitecustomize`` at start-up, the app's and each spawned worker (they
inherit the environment), and calls :func:`start`.

- Files: an audit hook (``sys.addaudithook``) sees every ``open`` event: ``open()``,
  ``Path.read_text()``, ``os.open()``... Paths below the project folder are kept.
- Modules: ``sys.modules`` at exit, minus what was loaded before :func:`start`. The audit
  ``import`` event alone would miss ``importlib.import_module()``, which loads through
  importlib's Python code and raises no event for the module itself.

At exit (``atexit``: spawned workers end through ``sys.exit`` and get it too) each process
writes ``trace-<pid>.json`` into the folder. A process killed before exit leaves no file; the
reader says how many workers it heard from.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
from typing import Any

TRACE_ENV = "QTCOMPUTE_TRACE"
TRACE_ROOT_ENV = "QTCOMPUTE_TRACE_ROOT"

_started = False


def start() -> None:
    """Record this process's imports and project-file reads; write them at exit."""
    global _started
    folder = os.environ.get(TRACE_ENV)
    root = os.environ.get(TRACE_ROOT_ENV)
    if _started or not folder or not root:
        return
    _started = True
    root = os.path.normcase(os.path.abspath(root)) + os.sep
    baseline = set(sys.modules)
    opened: set[str] = set()

    def hook(event: str, args: tuple[Any, ...]) -> None:
        # Called for every audited event of the process: keep the common path two compares.
        if event != "open":
            return
        path, mode = args[0], args[1]
        if isinstance(path, int) or (mode is not None and any(c in mode for c in "wax+")):
            return
        try:
            text = os.path.normcase(os.path.abspath(os.fsdecode(path)))
        except (TypeError, ValueError):
            return
        if text.startswith(root):
            opened.add(text)

    sys.addaudithook(hook)
    atexit.register(_write, folder, baseline, opened)


def _role() -> str:
    argv = list(getattr(sys, "orig_argv", sys.argv))
    if "--multiprocessing-fork" in argv:
        return "worker"
    if any("resource_tracker" in arg or "forkserver" in arg for arg in argv):
        return "helper"
    return "app"


def _write(folder: str, baseline: set[str], opened: set[str]) -> None:
    # Only real modules under their own name: not aliases (``os.path`` is posixpath) nor the
    # placeholders some packages put into sys.modules.
    modules = sorted(
        name
        for name, module in list(sys.modules.items())
        if name not in baseline and getattr(getattr(module, "__spec__", None), "name", None) == name
    )
    files = sorted(path for path in opened if os.path.isfile(path))
    data = {"pid": os.getpid(), "role": _role(), "modules": modules, "files": files}
    path = os.path.join(folder, f"trace-{os.getpid()}.json")
    try:
        with open(f"{path}.tmp", "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(f"{path}.tmp", path)
    except OSError:
        pass  # the folder went away: the build is over
