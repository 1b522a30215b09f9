"""Helpers shared by the tests of every area (tests/ is on sys.path through its conftest)."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any


def shm_entries() -> set[str]:
    """Names in /dev/shm (POSIX semaphores and shared memory segments live there on Linux)."""
    from qtcompute.bundle._verify import shm_entries as listing  # imported late: 0.1 s

    return listing()


def new_shm(before: set[str]) -> set[str]:
    """The /dev/shm entries made since ``before`` that this test run is answerable for.

    Another test run on the same machine (a second checkout, a helper) makes and frees
    segments all the time, and a plain difference of listings counts them as this run's leaks.
    So an entry is left out while a live process outside this run's own tree maps it, or, for
    the engine's segments (named ``qtc<creator pid>_``), while their creator is such a process.
    A leak of this run is mapped by nobody, or only by this run, and so still counts.
    """
    new = shm_entries() - before
    if not new:
        return new  # the usual case: no need to read every process's maps
    import re

    import psutil

    from qtcompute.bundle._verify import _mapped_shm

    try:
        this_run = {os.getpid()} | {c.pid for c in psutil.Process().children(recursive=True)}
    except psutil.Error:
        return new
    others = set(psutil.pids()) - this_run
    in_use_elsewhere: set[str] = set()
    for pid in others:
        in_use_elsewhere |= _mapped_shm(pid)
    for name in new:
        creator = re.match(r"qtc(\d+)_", name)
        if creator and int(creator.group(1)) in others:
            in_use_elsewhere.add(name)
    return new - in_use_elsewhere


def open_fds() -> int:
    if sys.platform.startswith("linux"):
        return len(os.listdir("/proc/self/fd"))
    import psutil

    return psutil.Process().num_fds()


class Bounded:
    """What :func:`run_bounded` saw: output, exit code, largest tree, and when it hit the cap."""

    def __init__(
        self, returncode: int | None, output: str, peak: int, runaway_after: float | None
    ) -> None:
        self.returncode = returncode
        self.output = output
        self.peak = peak
        self.runaway_after = runaway_after  # seconds from start to the cap, None if never
        self.runaway = runaway_after is not None


def run_bounded(
    command: list[str], *, cap: int, timeout: float, env: dict[str, str] | None = None
) -> Bounded:
    """Run ``command``; kill its whole tree above ``cap`` processes or after ``timeout``.

    A watchdog for code that might be a fork bomb (a frozen app whose children start the app
    again). The tree is counted every 20 ms: on POSIX every process of the session the command
    was started in (orphans included), on Windows the command and its descendants. It is killed
    (repeatedly, until empty) above ``cap``, so the machine never fills up. The named
    semaphores and joblib folders that killed processes leave in /dev/shm are removed.
    """
    import subprocess
    import tempfile
    import time

    import psutil

    before = shm_entries()
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=hasattr(os, "getsid"),
        )
        tree = _Tree(process.pid, psutil)
        peak, runaway_after = 0, None
        while True:
            try:
                process.wait(timeout=0.02)
                break
            except subprocess.TimeoutExpired:
                pass
            count = len(tree.members())
            peak = max(peak, count)
            if count > cap:
                runaway_after = time.monotonic() - started
                break
            if time.monotonic() - started > timeout:
                break
        tree.kill()  # whatever is left (the app, or a bomb's remains) dies now
        process.wait()
        _remove_leaked_shm(shm_entries() - before, tree.pids)
        out.seek(0)
        return Bounded(process.returncode, out.read(), peak, runaway_after)


class _Tree:
    def __init__(self, root: int, psutil: Any) -> None:
        self.root, self.psutil = root, psutil
        self.pids: set[int] = {root}
        self.seen: dict[int, Any] = {}

    def members(self) -> list[Any]:
        psutil, found = self.psutil, {}
        if hasattr(os, "getsid"):
            for process in psutil.process_iter():
                try:
                    if os.getsid(process.pid) == self.root:
                        found[process.pid] = process
                except (OSError, psutil.Error):
                    continue
        else:  # Windows: the root and its descendants, and those seen before (orphans)
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(self.root)
                found[root.pid] = root
                found.update({child.pid: child for child in root.children(recursive=True)})
            found.update({pid: p for pid, p in self.seen.items() if _alive(p, psutil)})
        alive = {pid: p for pid, p in found.items() if _alive(p, psutil)}
        self.seen.update(alive)
        self.pids.update(alive)
        return list(alive.values())

    def kill(self) -> None:
        import signal

        for _attempt in range(50):
            members = self.members()
            if not members:
                return
            if hasattr(os, "killpg"):
                with contextlib.suppress(OSError):
                    os.killpg(self.root, signal.SIGKILL)
            for member in members:
                with contextlib.suppress(self.psutil.Error):
                    member.kill()
            self.psutil.wait_procs(members, timeout=1)


def _alive(process: Any, psutil: Any) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _remove_leaked_shm(new: set[str], pids: set[int]) -> None:
    """Remove /dev/shm entries named after a process of the killed tree (loky, joblib)."""
    import re
    import shutil

    for name in new:
        match = re.search(r"(?:loky-|joblib_memmapping_folder_)(\d+)", name)
        if match and int(match.group(1)) in pids:
            shutil.rmtree(f"/dev/shm/{name}", ignore_errors=True)
            if os.path.lexists(f"/dev/shm/{name}"):
                os.unlink(f"/dev/shm/{name}")
