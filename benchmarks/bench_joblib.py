"""joblib's ``Parallel(n_jobs=2)`` over many tiny items: the "qtcompute" back end against loky.

loky is joblib's default process back end. Both run the same call in the same process, warmed up
(loky keeps its reusable executor between calls, the qtcompute back end runs on a pool started
before), with joblib's auto-batching, interleaved round by round so that a noisy neighbour hurts
both alike. The figure is items per second, the median of the rounds.
"""

from __future__ import annotations

import statistics
import time

from benchmarks import _workloads as w
from benchmarks._table import Row

ITEMS = 10_000
ROUNDS = 7


def _items_per_second(call) -> float:
    started = time.perf_counter()
    results = call()
    elapsed = time.perf_counter() - started
    assert results[-1] == ITEMS, "every item computed"
    return ITEMS / elapsed


def run() -> list[Row]:
    from joblib import Parallel, delayed, parallel_config

    import qtcompute.joblib  # noqa: F401  (registers the back end)
    from qtcompute import Pool

    def work():
        return (delayed(w.add)(i, 1) for i in range(ITEMS))

    samples: dict[str, list[float]] = {"qtcompute": [], "loky": []}
    with Pool(2) as pool:
        pool.ping(timeout=60)

        def on_qtcompute():
            with parallel_config(backend="qtcompute", pool=pool):
                return Parallel(n_jobs=2)(work())

        def on_loky():
            return Parallel(n_jobs=2, backend="loky")(work())

        on_qtcompute(), on_loky()  # warm up: workers' imports, loky's executor
        for _ in range(ROUNDS):
            samples["qtcompute"].append(_items_per_second(on_qtcompute))
            samples["loky"].append(_items_per_second(on_loky))
    ours = statistics.median(samples["qtcompute"])
    loky = statistics.median(samples["loky"])
    return [
        Row(
            "joblib",
            "Parallel(n_jobs=2), 10,000 tiny items: qtcompute back end vs loky",
            ours,
            "items/s",
            "joblib's loky back end",
            loky,
            (">=", 1.0),
            f"median of {ROUNDS} interleaved rounds, auto-batching, (x, y) -> x + y",
        )
    ]
