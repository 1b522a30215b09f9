"""joblib's ``Parallel(n_jobs=2)`` over many tiny items: the "qtcompute" back end against loky.

loky is joblib's default process back end. Both run the same calls in the same process, warmed
up (loky keeps its reusable executor between calls, the qtcompute back end runs on a pool started
before), interleaved round by round, alternating which goes first, so that a noisy neighbour hurts
both alike. Each figure is items per second, the median of the rounds.

Two rows. With joblib's auto-batching (the default), 10,000 tiny items take a few tens of
milliseconds, most of it joblib's own work in the caller (building the calls, the batches) and
its retrieval loop, which looks for finished batches every 10 ms: the back ends can differ only
in the rest, so the ratio stays near 1. With ``batch_size=1``, every item is a round trip through
the back end, and the row measures the back end itself.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from benchmarks import _workloads as w
from benchmarks._table import Row

ITEMS = 10_000
ROUND_TRIP_ITEMS = 2_000
ROUNDS = 25  # many short rounds: on a shared machine a spike then hits few of them


def _items_per_second(call: Callable[[], list[int]], items: int) -> float:
    started = time.perf_counter()
    results = call()
    elapsed = time.perf_counter() - started
    assert results[-1] == items, "every item computed"
    return items / elapsed


def _compare(ours: Callable[[], list[int]], loky: Callable[[], list[int]], items: int):
    ours(), loky()  # warm up: workers' imports, loky's executor
    samples: dict[str, list[float]] = {"ours": [], "loky": []}
    for round_ in range(ROUNDS):
        pair = [("ours", ours), ("loky", loky)]
        for name, call in pair if round_ % 2 else reversed(pair):
            samples[name].append(_items_per_second(call, items))
    return statistics.median(samples["ours"]), statistics.median(samples["loky"])


def run() -> list[Row]:
    from joblib import Parallel, delayed, parallel_config

    import qtcompute.joblib  # noqa: F401  (registers the back end)
    from qtcompute import Pool

    def work(items: int):
        return (delayed(w.add)(i, 1) for i in range(items))

    with Pool(2) as pool:
        pool.ping(timeout=60)

        def on_qtcompute(batch_size: int | str, items: int) -> Callable[[], list[int]]:
            def call() -> list[int]:
                with parallel_config(backend="qtcompute", pool=pool):
                    return Parallel(n_jobs=2, batch_size=batch_size)(work(items))

            return call

        def on_loky(batch_size: int | str, items: int) -> Callable[[], list[int]]:
            def call() -> list[int]:
                return Parallel(n_jobs=2, backend="loky", batch_size=batch_size)(work(items))

            return call

        auto = _compare(on_qtcompute("auto", ITEMS), on_loky("auto", ITEMS), ITEMS)
        one = _compare(
            on_qtcompute(1, ROUND_TRIP_ITEMS), on_loky(1, ROUND_TRIP_ITEMS), ROUND_TRIP_ITEMS
        )
    return [
        Row(
            "joblib",
            "Parallel(n_jobs=2), 10,000 tiny items: qtcompute back end vs loky",
            auto[0],
            "items/s",
            "joblib's loky back end",
            auto[1],
            (">=", 1.0),
            f"median of {ROUNDS} interleaved rounds, auto-batching, (x, y) -> x + y",
        ),
        Row(
            "joblib",
            "Parallel(n_jobs=2, batch_size=1): qtcompute back end vs loky",
            one[0],
            "items/s",
            "joblib's loky back end",
            one[1],
            (">=", 1.0),
            f"{ROUND_TRIP_ITEMS:,} items, one round trip each, median of {ROUNDS} rounds",
        ),
    ]
