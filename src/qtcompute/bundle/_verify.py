"""Step 4: run the frozen app headless in self-test mode, under a process-tree watchdog.

The watchdog samples the app's whole process tree with psutil: the executable, every
descendant, and (POSIX) every process of the session it was started in, so a child that was
orphaned by its parent's death is still counted. A fork bomb that outruns one sampling period
still lands in the same session. Above the cap the tree is killed (the whole session, again
until it stays empty) and the build fails with "runaway process spawning".

Waiting is ``Popen.wait(timeout=period)``: it returns the moment the app exits, so the period
only bounds how late a runaway is seen, never how long a healthy app takes.

A killed multiprocessing app cannot unlink its named semaphores (``/dev/shm/sem.mp-*``, normally
the resource tracker's job, and the tracker was killed too). The entries the tree created are
removed: those seen mapped in its processes' ``/proc/<pid>/maps``, and new entries that no live
process maps any more.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from qtcompute.bundle._runaway import diagnose
from qtcompute.freeze._selftest import SELFTEST_ENV, SELFTEST_WORKERS_ENV

SHM = Path("/dev/shm")
_PERIOD = 0.02


@dataclass
class VerifyResult:
    """What the self-test run showed."""

    ok: bool
    message: str
    runaway: bool = False
    exit_code: int | None = None
    peak_processes: int = 0
    peak_rss_bytes: int = 0
    first_result_s: float | None = None
    """Self-test: seconds from the start to the first worker result."""
    wall_s: float = 0.0
    cap: int = 0
    workers: int | None = None
    qt: dict[str, Any] | None = None
    shm_removed: int = 0
    output_tail: str = ""
    selftest: dict[str, Any] = field(default_factory=dict)
    runaway_cmdlines: list[list[str]] = field(default_factory=list)
    started_at: float = 0.0


class _Tree:
    """The app's processes, tracked by (pid, create time) so reused pids never count."""

    def __init__(self, root: psutil.Popen) -> None:
        self.root = root
        self.session = os.getsid(root.pid) if hasattr(os, "getsid") else None
        # the Popen itself: reaped through another Process object, its __del__ would warn
        # "subprocess ... is still running" after a kill
        self.seen: dict[int, psutil.Process] = {root.pid: root}
        self.shm_names: set[str] = set()

    def members(self) -> list[psutil.Process]:
        found: dict[int, psutil.Process] = {}
        for process in list(self.seen.values()):
            try:
                if process.is_running():
                    found[process.pid] = process
                    for child in process.children(recursive=True):
                        found.setdefault(child.pid, child)
            except psutil.Error:
                continue
        if self.session is not None:
            for process in psutil.process_iter():
                try:
                    if process.pid not in found and os.getsid(process.pid) == self.session:
                        found[process.pid] = process
                except (OSError, psutil.Error):
                    continue
        self.seen.update(found)
        return list(found.values())

    def sample(self) -> tuple[int, int]:
        """(processes, summed RSS) of the live tree; records the shm files they map."""
        count = rss = 0
        for process in self.members():
            try:
                if process.status() == psutil.STATUS_ZOMBIE:
                    continue
                rss += process.memory_info().rss
                count += 1
            except psutil.Error:
                continue
            self.shm_names.update(_mapped_shm(process.pid))
        return count, rss

    def cmdlines(self) -> list[list[str]]:
        """The command lines of the tree's processes other than the one we started."""
        lines = []
        for process in self.members():
            if process.pid == self.root.pid:
                continue
            try:
                lines.append(process.cmdline())
            except psutil.Error:
                continue
        return lines

    def kill(self) -> None:
        """Kill every process of the tree, repeatedly, until none is left alive."""
        for _attempt in range(50):
            alive = [p for p in self.members() if _alive(p)]
            if not alive:
                return
            if self.session is not None:
                try:
                    os.killpg(self.session, signal.SIGKILL)
                except OSError:
                    pass
            for process in alive:
                try:
                    process.kill()
                except psutil.Error:
                    pass
            psutil.wait_procs(alive, timeout=1)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _mapped_shm(pid: int) -> set[str]:
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as fh:
            return {
                line.rsplit("/", 1)[-1].strip()
                for line in fh
                if "/dev/shm/" in line and not line.rstrip().endswith("(deleted)")
            }
    except OSError:
        return set()


def shm_entries() -> set[str]:
    try:
        return {entry.name for entry in SHM.iterdir()}
    except OSError:
        return set()


def _mapped_by_anyone() -> set[str]:
    names: set[str] = set()
    for pid in psutil.pids():
        names |= _mapped_shm(pid)
    return names


def _clean_shm(before: set[str], tree: _Tree, started: float) -> int:
    """Remove the /dev/shm entries the killed tree left behind; return how many."""
    if not SHM.is_dir():
        return 0
    new = shm_entries() - before
    still_used = _mapped_by_anyone()
    removed = 0
    for name in new:
        path = SHM / name
        ours = name in tree.shm_names
        orphan_of_run = name.startswith("sem.mp-") and name not in still_used
        if not (ours or orphan_of_run):
            continue
        try:
            if not ours and path.stat().st_mtime < started - 1:
                continue
            path.unlink()
            removed += 1
        except OSError:
            continue
    return removed


def _popen_kwargs() -> dict[str, Any]:
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def run_watched(
    command: list[str], *, env: dict[str, str], cwd: str, cap: int, timeout: float, log: Path
) -> VerifyResult:
    """Run ``command`` under the process-tree watchdog; output into ``log``; never raises."""
    before = shm_entries()
    started = time.time()
    with open(log, "wb") as out:
        root = psutil.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            **_popen_kwargs(),
        )
        tree = _Tree(root)
        result = _watch(root, tree, cap=cap, timeout=timeout, started=started)
    result.cap = cap
    result.wall_s = time.time() - started
    result.output_tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
    if result.runaway or not result.ok:
        tree.kill()
    result.shm_removed = _clean_shm(before, tree, started) if result.runaway else 0
    result.started_at = started
    return result


def headless_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("QTCOMPUTE_POOL_OWNER", None)
    env.update({"QT_QPA_PLATFORM": "offscreen", **extra})
    return env


def verify(
    executable: Path,
    *,
    workers: int,
    cap: int,
    timeout: float = 120.0,
    extra_env: dict[str, str] | None = None,
) -> VerifyResult:
    """Run ``executable`` in self-test mode; return what happened (never raises for the app)."""
    with tempfile.TemporaryDirectory(prefix="qtcompute-verify-") as tmp:
        result_file = Path(tmp, "selftest.json")
        selftest = {SELFTEST_ENV: str(result_file), SELFTEST_WORKERS_ENV: str(workers)}
        env = headless_env({**selftest, **(extra_env or {})})
        result = run_watched(
            [str(executable)],
            env=env,
            cwd=tmp,
            cap=cap,
            timeout=timeout,
            log=Path(tmp, "output.log"),
        )
        if not result.runaway:
            _read_selftest(result, result_file, result.started_at)
        return result


def _watch(
    root: psutil.Popen, tree: _Tree, *, cap: int, timeout: float, started: float
) -> VerifyResult:
    peak = peak_rss = 0
    deadline = time.monotonic() + timeout
    while True:
        count, rss = tree.sample()
        peak, peak_rss = max(peak, count), max(peak_rss, rss)
        if count > cap:
            children = tree.cmdlines()
            tree.kill()
            return VerifyResult(
                ok=False,
                runaway=True,
                message=(
                    f"runaway process spawning: {count} processes in the app's tree after "
                    f"{time.time() - started:.1f} s (cap {cap}); killed. {diagnose(children)}"
                ),
                peak_processes=peak,
                peak_rss_bytes=peak_rss,
                runaway_cmdlines=[list(c) for c in children[:5]],
            )
        try:
            code = root.wait(timeout=_PERIOD)
        except psutil.TimeoutExpired:
            if time.monotonic() > deadline:
                tree.kill()
                return VerifyResult(
                    ok=False,
                    message=f"the app did not finish within {timeout:.0f} s; killed",
                    peak_processes=peak,
                    peak_rss_bytes=peak_rss,
                )
            continue
        leftovers = [p for p in tree.members() if _alive(p)]
        if leftovers:
            psutil.wait_procs(leftovers, timeout=5)
            leftovers = [p for p in leftovers if _alive(p)]
        left = []
        for process in leftovers:
            try:
                left.append(f"{process.pid} ({' '.join(process.cmdline())[:160]})")
            except psutil.Error:
                left.append(str(process.pid))
        return VerifyResult(
            ok=code == 0 and not leftovers,
            exit_code=code,
            message=(
                f"left {len(leftovers)} process(es) running after exit: {', '.join(left)}"
                if leftovers
                else ("passed" if code == 0 else f"exited with status {code}")
            ),
            peak_processes=peak,
            peak_rss_bytes=peak_rss,
        )


def _read_selftest(result: VerifyResult, path: Path, started: float) -> None:
    if not path.exists():
        result.ok = False
        result.message = (
            f"{result.message}; no self-test result: the app never reached qtcompute.run() or "
            "qtcompute.Pool() (or crashed before)"
        )
        return
    data = json.loads(path.read_text(encoding="utf-8"))
    result.selftest = data
    result.workers = data.get("workers")
    result.qt = data.get("qt")
    if data.get("first_result_at"):
        result.first_result_s = data["first_result_at"] - started
    if not data.get("ok"):
        result.ok = False
        result.message = f"self-test failed: {data.get('error')}"
