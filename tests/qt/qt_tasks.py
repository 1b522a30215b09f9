"""Task functions for the Qt tests. Module-level, so spawned workers can import them."""

from __future__ import annotations

import time
from collections.abc import Iterator

WORKER_START_TIMEOUT_MS = 60_000
"""How long a test waits for a spawned worker: it imports Qt, and a shared 2-core box is slow."""


def square(x: int) -> int:
    return x * x


def fail(message: str) -> None:
    raise ValueError(message)


def slow_add(x: float, y: float) -> float:
    """An addition that takes about a second (the "slow task" of the issue)."""
    time.sleep(1.0)
    return x + y


def stuck_add(x: float, y: float) -> float:
    """An addition that only ends when its worker is killed or stopped."""
    time.sleep(600)
    return x + y


def count(n: int) -> Iterator[int]:
    """Report 0..n-1 as progress, as fast as the worker can; the result is n."""
    yield from range(n)
    return n


def identity(value: object) -> object:
    return value


def init_raises() -> None:
    raise RuntimeError("this initializer always fails")
