"""Worker governance: ``memory_limit`` and ``max_tasks_per_child``.

Owns their checks and parsing, :class:`Governance` (the pool's side, the Windows job included),
:class:`WorkerSettings` (what each worker is started with: limit, crash log, log levels), and
:func:`apply` and :class:`MemoryGuard` (the worker's side). How each platform enforces the limit:
``docs/engine.md``, "Worker governance".
"""

from __future__ import annotations

import re
import sys
from typing import Any, NamedTuple

from qtcompute.engine import _crash_report, _winjob, _worker_logging
from qtcompute.engine.errors import MemoryLimitError

# Below this, Python and the engine cannot even start in a worker (spawn imports them anew).
MIN_MEMORY_LIMIT = 64 << 20

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kib": 1 << 10,
    "kb": 10**3,
    "m": 1 << 20,
    "mib": 1 << 20,
    "mb": 10**6,
    "g": 1 << 30,
    "gib": 1 << 30,
    "gb": 10**9,
    "t": 1 << 40,
    "tib": 1 << 40,
    "tb": 10**12,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*")


class WorkerSettings(NamedTuple):
    """What every worker receives at start (pickled with its arguments)."""

    memory_limit: int | None
    crash_log: Any  # the worker's end of its crash log (see _crash_report)
    log_levels: Any  # the parent's logging levels (see _worker_logging)


def parse_memory_limit(value: int | str | None) -> int | None:
    """Bytes from ``value``: an int, or a string such as ``"2 GiB"``, ``"512 MB"``, ``"1.5g"``.

    KB/MB/GB/TB are decimal, KiB/MiB/GiB/TiB and the single letters (as in ``docker --memory``)
    binary.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(
            f"memory_limit must be a number of bytes or a string such as '2 GiB', not "
            f"{type(value).__name__}"
        )
    if isinstance(value, str):
        match = _SIZE.fullmatch(value)
        unit = _UNITS.get(match.group(2).lower()) if match else None
        if match is None or unit is None:
            raise ValueError(
                f"memory_limit {value!r} is not a size: write a number of bytes, or a number and "
                "a unit, such as '2 GiB', '512 MB' or '1.5g' (units: B, KB, MB, GB, TB, KiB, "
                "MiB, GiB, TiB)"
            )
        value = int(float(match.group(1)) * unit)
    if value < MIN_MEMORY_LIMIT:
        raise ValueError(
            f"memory_limit must be at least {format_size(MIN_MEMORY_LIMIT)} (a worker needs that "
            f"much to start Python and the engine), not {format_size(value)}"
        )
    return value


def check_max_tasks_per_child(value: int | None, start_method: str) -> None:
    """Validate as CPython's ``ProcessPoolExecutor`` does, with its messages."""
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("max_tasks_per_child must be an integer")
    if value <= 0:
        raise ValueError("max_tasks_per_child must be >= 1")
    if start_method == "fork":
        # CPython's reason (gh-90622): forking replacements from a threaded parent may deadlock.
        raise ValueError(
            "max_tasks_per_child is incompatible with the 'fork' multiprocessing start method; "
            "supply a different start_method."
        )


def format_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover - the loop returns


class Governance:
    """The pool's side: the settings each new worker gets, its Windows job, its task budget."""

    def __init__(self, memory_limit: int | None, max_tasks_per_child: int | None) -> None:
        self.memory_limit = memory_limit
        self.max_tasks = max_tasks_per_child
        self.job = _winjob.make_job(memory_limit)  # None except on Windows

    def settings(self, crash_log: Any) -> WorkerSettings:
        levels = _worker_logging.snapshot(rearm=False)
        return WorkerSettings(self.memory_limit, crash_log, levels)

    def adopt(self, pid: int) -> None:
        """A worker just started: into the pool's job (Windows)."""
        if self.job is not None:
            self.job.assign(pid)

    def crash_hint(self, exitcode: int | None) -> str:
        """A sentence for a crash message when the memory limit may be its cause."""
        if self.memory_limit is None or exitcode in (0, None):
            return ""
        return (
            f" The pool's memory_limit of {format_size(self.memory_limit)} may be the cause: "
            "native code that cannot allocate memory may crash instead of raising MemoryError."
        )

    def close(self) -> None:
        if self.job is not None:
            self.job.close()


# --- in the worker ---------------------------------------------------------------------------


def apply(settings: WorkerSettings | None, send_log: Any) -> MemoryGuard | None:
    """Install the settings in this worker (before its initializer runs); returns the memory
    guard the task loop consults, if there is a limit."""
    if settings is None:
        return None
    _crash_report.enable_in_worker(settings.crash_log)
    _worker_logging.install(send_log, settings.log_levels)
    return MemoryGuard(settings.memory_limit) if settings.memory_limit is not None else None


class MemoryGuard:
    """The worker's side of ``memory_limit``: installs the limit, and explains its failures."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # Where no rlimit is enforced (macOS), the peak is checked after each task instead.
        self.check_after_task = sys.platform == "darwin"
        _enforce(limit)

    def over_limit(self, fn: Any, cause: MemoryError | None) -> MemoryLimitError:
        """The error a task gets for a MemoryError (``cause``) or a peak over the limit."""
        task = getattr(fn, "__qualname__", None) or (
            repr(fn) if fn is not None else "(its arguments could not be loaded)"
        )
        peak = peak_memory()
        peak_text = "unknown" if peak is None else format_size(peak)
        what = "an allocation failed" if cause is not None else "its peak went over the limit"
        return MemoryLimitError(
            f"Task {task} went over the pool's memory_limit of {format_size(self.limit)} "
            f"({what}; the worker's peak memory use was {peak_text}). The worker was "
            "replaced and the pool goes on. Split the work into smaller tasks, or raise "
            "memory_limit.",
            limit=self.limit,
            task=task,
            peak=peak,
        )

    def peak_over(self) -> bool:
        peak = peak_memory()
        return peak is not None and peak > self.limit


def _enforce(limit: int) -> None:
    if sys.platform == "win32":
        return  # the pool's Job Object enforces it (see _winjob); nothing to do in here
    import resource

    # RLIMIT_DATA counts what a task allocates (Linux >= 4.7) and not what it merely maps
    # (shared libraries, the pool's argument segments). Soft and hard: a task cannot lift it.
    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)  # an unprivileged process cannot raise its hard limit
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    except (OSError, ValueError):
        if sys.platform != "darwin":
            raise
        # macOS may refuse: the peak check after each task still applies


def peak_memory() -> int | None:
    """The worker's own peak memory use in bytes; None if unknown.

    Linux: ``VmHWM`` of ``/proc/self/status``, the high-water mark of this process image's
    resident memory. Not ``getrusage``'s ``ru_maxrss``: the kernel carries it over ``fork`` and
    ``exec``, so a worker spawned by a 1 GB GUI reports 1 GB before its first task. macOS:
    ``ru_maxrss`` once it has grown past its value at the worker's start (so the same carried
    value never counts as the worker's), the current resident size before that. Windows:
    committed private bytes, what a job's process memory limit counts.
    """
    if sys.platform == "win32":
        try:
            import psutil

            return int(psutil.Process().memory_info().peak_pagefile)  # peak private bytes
        except Exception:
            return None
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/status", "rb") as status:
                for line in status:
                    if line.startswith(b"VmHWM:"):
                        return int(line.split()[1]) * 1024  # kB
        except (OSError, ValueError, IndexError):
            return None
        return None
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS
    if peak > _MAXRSS_AT_START:
        return peak
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:
        return None


def _maxrss_at_start() -> int:
    if sys.platform == "win32" or sys.platform.startswith("linux"):
        return 0
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# Read when a worker imports the engine, before any task: what exec carried over.
_MAXRSS_AT_START = _maxrss_at_start()
