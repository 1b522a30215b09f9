"""What worker governance costs on the hot path (``python -m benchmarks governance``).

- The tiny-task round trip of a pool with ``memory_limit`` and ``max_tasks_per_child`` (a budget
  too large to be reached) against a plain pool, interleaved in the same run, one worker each.
- A silent ``logger.debug()`` in a worker (the parent's level is INFO) against the same call
  in-process: the worker takes the parent's levels, so the call is dropped by ``logging``'s own
  cached check there too, and nothing is sent.
"""

from __future__ import annotations

import logging
import time

from benchmarks import _workloads as w
from benchmarks._table import Row, median
from qtcompute import Pool

ROUNDS = 40
PER_ROUND = 100
DEBUG_CALLS = 100_000
REPEATS = 9


def silent_debug(calls: int) -> float:
    """Seconds per ``debug()`` call on a logger whose effective level is above DEBUG."""
    logger = logging.getLogger("qtcompute_bench.silent")
    start = time.perf_counter()
    for i in range(calls):
        logger.debug("step %d", i)
    return (time.perf_counter() - start) / calls


def round_trips() -> dict[str, list[float]]:
    # spin=0 for both: two spinning pools on a small machine take turns at being starved, and
    # the spin (which governance does not touch) would decide the result.
    pools = {
        "plain": Pool(1, spin=0),
        "governed": Pool(1, spin=0, memory_limit="4 GiB", max_tasks_per_child=10**9),
    }
    samples: dict[str, list[float]] = {name: [] for name in pools}
    try:
        for pool in pools.values():
            pool.ping(timeout=60)
            for _ in range(200):
                pool.submit(w.add, 1, 2).result()
        clock = time.perf_counter
        for round_number in range(ROUNDS):
            order = list(pools) if round_number % 2 == 0 else list(reversed(pools))
            for name in order:
                pool, out = pools[name], samples[name]
                for _ in range(PER_ROUND):
                    start = clock()
                    pool.submit(w.add, 1, 2).result()
                    out.append(clock() - start)
    finally:
        for pool in pools.values():
            pool.shutdown()
    return samples


def debug_costs() -> tuple[float, float]:
    logger = logging.getLogger("qtcompute_bench")
    logger.setLevel(logging.INFO)
    try:
        with Pool(1) as pool:
            pool.submit(silent_debug, 1000).result(timeout=60)  # warm up
            in_worker, in_process = [], []
            for _ in range(REPEATS):  # interleaved: a busy phase of the machine hits both
                in_worker.append(pool.submit(silent_debug, DEBUG_CALLS).result(timeout=120))
                in_process.append(silent_debug(DEBUG_CALLS))
    finally:
        logger.setLevel(logging.NOTSET)
    return min(in_worker), min(in_process)


def run() -> list[Row]:
    us = {name: [s * 1e6 for s in values] for name, values in round_trips().items()}
    in_worker, in_process = debug_costs()
    return [
        Row(
            "engine",
            "round trip median: Pool(memory_limit, max_tasks_per_child) vs Pool()",
            median(us["governed"]),
            "us",
            "Pool()",
            median(us["plain"]),
            ("<=", 1.1),
            f"{ROUNDS}x{PER_ROUND} interleaved samples, 1 worker each, spin=0, (x, y) -> x + y",
        ),
        Row(
            "engine",
            "silent logger.debug() in a worker vs in-process",
            in_worker * 1e9,
            "ns",
            "in-process",
            in_process * 1e9,
            ("<=", 1.5),
            f"parent level INFO; best of {REPEATS} x {DEBUG_CALLS:,} calls, interleaved",
        ),
    ]
