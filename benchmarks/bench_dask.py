"""``DaskPool`` on a two-worker ``LocalCluster`` against ``Pool(2)``, in the same run.

Rows (ratios are DaskPool / Pool; the cluster is expected to be slower, the rows say by how
much, which is what tells when moving to a cluster pays):

* **tiny-task round trip** (median, p99): ``submit(add, 1, 2).result()`` one after the other,
  in interleaved rounds so that a noisy neighbour hits both alike.
* **map throughput**: ``map(add, xs, ys)`` over many items, chunked the same way by both.
* **NumPy round trip**: an 8 MB float64 array to a worker and back doubled (shared memory and
  ``process_vm_readv`` for the pool; Dask's scatter and its own serialisation for the cluster).
* **fractal render**: the explorer (``examples/mandelbrot.py``, 800 x 600, 48 tiles) rendering
  two views on each executor, and the GUI's longest and p99 event-loop stall while it renders on
  the cluster (target: one frame at 60 Hz, as for the local pool in bench_mandelbrot), with the
  local pool's longest stall in the same run beside it. The ``LocalCluster``'s scheduler and the
  client's event loop run in the GUI's process and take the GIL from it now and then; a real
  cluster's scheduler runs elsewhere.

The cluster's workers are plain (not niced); the pool's are too here, so that both renders
compete for the same cores the same way.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import _workloads as w
from benchmarks._qt_loop import start_heartbeat, wait_until
from benchmarks._table import Row, median, percentile

AREA = "dask"
ROUNDS = 8
PER_ROUND = 40
MAP_ITEMS = 20_000
ARRAY_ROUNDS = 10
RENDER_ROUNDS = 3
FRAME_MS = 16.0
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
VIEWS = {"whole set": (-0.6, 0.0, 3.4), "seahorse valley": (-0.7480, 0.1030, 3.4 / 55.5)}


def _executors() -> tuple[Any, Any, Any]:
    import distributed

    if str(EXAMPLES) not in sys.path:  # before any worker starts: they inherit sys.path
        sys.path.insert(0, str(EXAMPLES))

    from qtcompute import Pool
    from qtcompute.dask import DaskPool

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    dask_pool = DaskPool(cluster)
    pool = Pool(2)
    pool.ping(timeout=60)
    for executor in (pool, dask_pool):  # warm up: imports, first connections
        assert list(executor.map(w.add, range(100), range(100))) == list(range(0, 200, 2))
    return pool, dask_pool, cluster


def round_trips(pool: Any, dask_pool: Any) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"Pool": [], "DaskPool": []}
    for _ in range(ROUNDS):
        for name, executor in (("Pool", pool), ("DaskPool", dask_pool)):
            for _ in range(PER_ROUND):
                started = time.perf_counter()
                assert executor.submit(w.add, 1, 2).result() == 3
                samples[name].append(time.perf_counter() - started)
    return samples


def map_rates(pool: Any, dask_pool: Any) -> dict[str, float]:
    xs, ys = range(MAP_ITEMS), range(MAP_ITEMS)
    rates = {}
    for name, executor in (("Pool", pool), ("DaskPool", dask_pool)):
        best = []
        for _ in range(3):
            started = time.perf_counter()
            assert sum(executor.map(w.add, xs, ys)) == 2 * sum(xs)
            best.append(MAP_ITEMS / (time.perf_counter() - started))
        rates[name] = median(best)
    return rates


def array_round_trips(pool: Any, dask_pool: Any) -> dict[str, list[float]]:
    import numpy as np

    array = np.arange(1_000_000, dtype=np.float64)  # 8 MB
    samples: dict[str, list[float]] = {"Pool": [], "DaskPool": []}
    for _ in range(ARRAY_ROUNDS):
        for name, executor in (("Pool", pool), ("DaskPool", dask_pool)):
            started = time.perf_counter()
            doubled = executor.submit(w.double, array).result()
            samples[name].append(time.perf_counter() - started)
            assert doubled[-1] == 2 * array[-1]
    return samples


def renders(pool: Any, dask_pool: Any) -> dict[str, Any]:
    """Render each view on both executors (alternating), with the heartbeat's gaps."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import mandelbrot as m
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    windows = {}
    for name, executor in (("Pool", pool), ("DaskPool", dask_pool)):
        window = m.MandelbrotWindow(executor)
        window.show()
        windows[name] = window
    for window in windows.values():
        wait_until(app, _complete(window), 120)  # first renders warm both up
    heartbeat, ticks = start_heartbeat(app)
    seconds: dict[str, list[float]] = {"Pool": [], "DaskPool": []}
    gaps: dict[str, list[float]] = {"Pool": [], "DaskPool": []}
    try:
        for _, (x, y, span) in itertools.product(range(RENDER_ROUNDS), VIEWS.values()):
            for name, window in windows.items():
                window.view = m.View(x, y, span)
                started = time.perf_counter()
                window.render()
                wait_until(app, _complete(window), 120)
                ended = time.perf_counter()
                seconds[name].append(ended - started)
                during = [started, *(t for t in ticks if started < t <= ended), ended]
                gaps[name].extend(b - a for a, b in itertools.pairwise(during))
    finally:
        heartbeat.stop()
        for window in windows.values():
            window.close()
    return {"seconds": seconds, "gaps": gaps}


def _complete(window: Any) -> Any:
    return lambda: not window.is_rendering() and window.tiles_done == len(window.tiles)


def run() -> list[Row]:
    pool, dask_pool, cluster = _executors()
    try:
        trips = round_trips(pool, dask_pool)
        rates = map_rates(pool, dask_pool)
        arrays = array_round_trips(pool, dask_pool)
        render = renders(pool, dask_pool)
    finally:
        dask_pool.shutdown(stop_running=True)
        pool.shutdown(stop_running=True)
        cluster.close()
    us = {name: [s * 1e6 for s in values] for name, values in trips.items()}
    ms = {name: [s * 1e3 for s in values] for name, values in arrays.items()}
    render_ms = {name: median(values) * 1e3 for name, values in render["seconds"].items()}
    gaps = [g * 1e3 for g in render["gaps"]["DaskPool"]]
    pool_gaps = [g * 1e3 for g in render["gaps"]["Pool"]]
    setup = "LocalCluster(2 workers x 1 thread, processes) vs Pool(2), same run"
    return [
        Row(AREA, "tiny-task round trip median: DaskPool vs Pool", median(us["DaskPool"]), "us",
            "Pool(2)", median(us["Pool"]), None,
            f"{ROUNDS}x{PER_ROUND} interleaved samples, (1, 2) -> 3; {setup}"),
        Row(AREA, "tiny-task round trip p99: DaskPool vs Pool", percentile(us["DaskPool"], 99),
            "us", "Pool(2)", percentile(us["Pool"], 99)),
        Row(AREA, "map throughput: DaskPool vs Pool", rates["DaskPool"], "items/s", "Pool(2)",
            rates["Pool"], None, f"map(add) over {MAP_ITEMS:,} items, default chunks, best of 3"),
        Row(AREA, "8 MB NumPy round trip: DaskPool vs Pool", median(ms["DaskPool"]), "ms",
            "Pool(2)", median(ms["Pool"]), None,
            "array * 2 and back; Dask: scatter + its serialisation; Pool: shared memory + "
            f"process_vm_readv; median of {ARRAY_ROUNDS}"),
        Row(AREA, "fractal render (800x600, 48 tiles): DaskPool vs Pool", render_ms["DaskPool"],
            "ms", "Pool(2)", render_ms["Pool"], None,
            f"median of {RENDER_ROUNDS * len(VIEWS)} renders of two views, painting included"),
        Row(AREA, "render on the cluster: longest event-loop stall", max(gaps), "ms",
            "one frame at 60 Hz", FRAME_MS, ("<=", 1.0),
            f"1 ms QTimer heartbeat, {len(gaps):,} gaps in {RENDER_ROUNDS * len(VIEWS)} renders"),
        Row(AREA, "render on the cluster: p99 event-loop stall", percentile(gaps, 99), "ms",
            "one frame at 60 Hz", FRAME_MS, ("<=", 1.0)),
        Row(AREA, "longest event-loop stall: DaskPool vs Pool render", max(gaps), "ms",
            "Pool(2) render", max(pool_gaps), None,
            "the same heartbeat during the local pool's renders: what the machine's load adds"),
    ]  # fmt: skip


if __name__ == "__main__":
    from benchmarks._table import render_markdown

    print(render_markdown(run()))
