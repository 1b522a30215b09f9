"""Helpers shared by the tests of every area (tests/ is on sys.path through its conftest)."""

from __future__ import annotations

import os
import sys


def shm_entries() -> set[str]:
    """Names in /dev/shm (POSIX semaphores and shared memory segments live there on Linux)."""
    try:
        return set(os.listdir("/dev/shm"))
    except FileNotFoundError:
        return set()


def open_fds() -> int:
    if sys.platform.startswith("linux"):
        return len(os.listdir("/proc/self/fd"))
    import psutil

    return psutil.Process().num_fds()


class Bounded:
    """What :func:`run_bounded` saw: the process's output, exit code and largest tree."""

    def __init__(self, returncode: int | None, output: str, peak: int, runaway: bool) -> None:
        self.returncode = returncode
        self.output = output
        self.peak = peak
        self.runaway = runaway


def run_bounded(
    command: list[str], *, cap: int, timeout: float, env: dict[str, str] | None = None
) -> Bounded:
    """Run ``command`` in a session of its own; kill the whole session above ``cap`` processes.

    A watchdog for code that might be a fork bomb (a frozen app whose children start the app
    again): the session is counted every 20 ms, orphans included, and killed (repeatedly, until
    empty) when it exceeds ``cap`` or outlives ``timeout``, so the machine never fills up.
    """
    import signal
    import subprocess
    import tempfile
    import time

    import psutil

    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        session, peak, runaway = process.pid, 0, False
        deadline = time.monotonic() + timeout
        while True:
            try:
                process.wait(timeout=0.02)
                break
            except subprocess.TimeoutExpired:
                pass
            members = _session_members(session, psutil)
            peak = max(peak, len(members))
            if len(members) > cap or time.monotonic() > deadline:
                runaway = len(members) > cap
                break
        # Whatever is left of the session (the app, or a bomb's remains) dies now.
        for _attempt in range(50):
            members = _session_members(session, psutil)
            if not members:
                break
            try:
                os.killpg(session, signal.SIGKILL)
            except OSError:
                pass
            psutil.wait_procs(members, timeout=1)
        code = process.poll()
        out.seek(0)
        return Bounded(code, out.read(), peak, runaway)


def _session_members(session: int, psutil: object) -> list[object]:
    members = []
    for process in psutil.process_iter():  # type: ignore[attr-defined]
        try:
            if os.getsid(process.pid) == session and process.status() != "zombie":
                members.append(process)
        except (OSError, psutil.Error):  # type: ignore[attr-defined]
            continue
    return members
