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
