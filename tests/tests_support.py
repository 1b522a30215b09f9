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
    """Run ``command`` in a session of its own; kill the whole session above ``cap`` processes.

    A watchdog for code that might be a fork bomb (a frozen app whose children start the app
    again): the session is counted every 20 ms, orphans included, and killed (repeatedly, until
    empty) when it exceeds ``cap`` or outlives ``timeout``, so the machine never fills up. The
    named semaphores and joblib folders that killed processes leave in /dev/shm are removed.
    """
    import signal
    import subprocess
    import tempfile
    import time

    import psutil

    before = shm_entries()
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        started = time.monotonic()
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        session, peak, runaway_after = process.pid, 0, None
        pids: set[int] = {process.pid}
        while True:
            try:
                process.wait(timeout=0.02)
                break
            except subprocess.TimeoutExpired:
                pass
            members = _session_members(session, psutil)
            pids.update(member.pid for member in members)  # type: ignore[attr-defined]
            peak = max(peak, len(members))
            if len(members) > cap:
                runaway_after = time.monotonic() - started
                break
            if time.monotonic() - started > timeout:
                break
        # Whatever is left of the session (the app, or a bomb's remains) dies now.
        for _attempt in range(50):
            members = _session_members(session, psutil)
            if not members:
                break
            pids.update(member.pid for member in members)  # type: ignore[attr-defined]
            try:
                os.killpg(session, signal.SIGKILL)
            except OSError:
                pass
            psutil.wait_procs(members, timeout=1)
        process.wait()
        _remove_leaked_shm(shm_entries() - before, pids)
        out.seek(0)
        return Bounded(process.returncode, out.read(), peak, runaway_after)


def _session_members(session: int, psutil: object) -> list[object]:
    members = []
    for process in psutil.process_iter():  # type: ignore[attr-defined]
        try:
            if os.getsid(process.pid) == session and process.status() != "zombie":
                members.append(process)
        except (OSError, psutil.Error):  # type: ignore[attr-defined]
            continue
    return members


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
