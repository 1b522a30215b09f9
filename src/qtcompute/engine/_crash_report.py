"""Where a worker was when it crashed: ``faulthandler`` in every worker, read by the pool.

Owns :class:`CrashLog` (the descriptor each worker's ``faulthandler`` writes to, a pipe on POSIX
and a file on Windows, read once the worker is dead) and :func:`describe_stack` (the crashed
thread's stack, for the error message). Why never stderr, and the platforms: ``docs/engine.md``,
"Crash stacks".
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import re
import sys
from typing import Any

_MAX_DUMP = 1 << 20  # bytes read from a crash log at most
_HEAD_LINES = 30  # lines of a dump without the crashed thread's stack that go into a message
# A frame line as faulthandler writes it; in a frozen app the paths are relative to the bundle.
_FRAME = re.compile(r'\s+File "(?P<path>.*)", line \d+ in ')

_kept: Any = None  # the worker's end, kept open for as long as the process lives


class CrashLog:
    """The pool's end of one worker's crash log."""

    def __init__(self, ctx: Any) -> None:
        self._reader: Any = None
        self._path: str | None = None
        if sys.platform == "win32":
            import tempfile

            fd, self._path = tempfile.mkstemp(prefix="qtcompute-crash-", suffix=".txt")
            os.close(fd)
            self.child_end: Any = self._path
        else:
            self._reader, self.child_end = ctx.Pipe(duplex=False)
            os.set_blocking(self._reader.fileno(), False)

    def after_start(self) -> None:
        """The worker has its own copy of its end now; ours would hide nothing but costs a
        descriptor (and, unclosed, keeps the pipe open after the worker died)."""
        if self._reader is not None:
            self.child_end.close()
        self.child_end = None

    def collect(self, exitcode: int | None) -> str | None:
        """Read what the dead worker wrote (if it crashed) and release the log."""
        text = None
        try:
            if exitcode not in (0, None):
                text = self._read()
        finally:
            self.close()
        return text or None

    def close(self) -> None:
        if self.child_end is not None and self._reader is not None:
            self.child_end.close()  # never started
            self.child_end = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._path)
            self._path = None

    def _read(self) -> str:
        data = b""
        if self._path is not None:
            with contextlib.suppress(OSError), open(self._path, "rb") as file:
                data = file.read(_MAX_DUMP)
        elif self._reader is not None:
            fd = self._reader.fileno()
            while len(data) < _MAX_DUMP:
                try:
                    chunk = os.read(fd, 65536)
                except (BlockingIOError, InterruptedError, OSError):
                    break
                if not chunk:
                    break
                data += chunk
        return data.decode("utf-8", "replace")


def enable_in_worker(child_end: Any) -> None:
    """Dump the Python stack of every thread to the crash log on a fatal signal."""
    global _kept
    if child_end is None:
        return
    if isinstance(child_end, str):  # Windows: the file the pool named
        _kept = open(child_end, "wb", buffering=0)  # noqa: SIM115 - open for the process's life
        faulthandler.enable(file=_kept, all_threads=True)
        return
    _kept = child_end
    fd = child_end.fileno()
    os.set_blocking(fd, False)  # see the module docstring: a full pipe must never hang us
    faulthandler.enable(file=fd, all_threads=True)


def crashed_thread_stack(dump: str) -> str:
    """The frames of the thread that crashed, most recent first, down to the first of the
    engine's own (below it: the worker loop, multiprocessing's bootstrap): what the task, and
    the libraries it called, were doing."""
    lines = dump.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.startswith("Current thread")),
        next((i for i, line in enumerate(lines) if line.startswith("Stack (most recent")), None),
    )
    if start is None:
        return ""
    frames = []
    for line in lines[start + 1 :]:
        match = _FRAME.match(line)
        if match is None or _is_engine(match.group("path")):
            break  # the rest is the worker loop and the process's bootstrap
        frames.append(line)
    return "\n".join(frames)


def _is_engine(path: str) -> bool:
    path = "/" + path.replace("\\", "/")
    return "/qtcompute/engine/" in path


def describe_stack(dump: str | None) -> str:
    """The sentence a WorkerCrashedError ends with."""
    if not dump:
        return ""
    frames = crashed_thread_stack(dump)
    if not frames:
        lines = dump.strip().splitlines()
        if len(lines) <= _HEAD_LINES:
            return f"\n\nWhat the worker wrote as it crashed:\n{dump.strip()}"
        head = "\n".join(lines[:_HEAD_LINES])
        more = f"its first {_HEAD_LINES} of {len(lines)} lines follow, error.stack holds all"
        if not any(line.startswith(("Current thread", "Stack (most recent")) for line in lines):
            # faulthandler writes the crashing thread after the newer ones: with many threads
            # the dump fills the pipe before it gets there.
            return (
                "\n\nThe worker's crash dump was cut short before the stack of the thread that "
                f"crashed (the worker runs many threads); {more}:\n{head}"
            )
        return f"\n\nWhat the worker wrote as it crashed ({more}):\n{head}"
    return f"\n\nThe worker's Python stack at the crash (most recent call first):\n{frames}"
