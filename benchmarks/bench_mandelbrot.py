"""The fractal demo: render speed-up across the workers, and GUI stalls while it renders.

Rows:

* **render speed-up**: the explorer (``examples/mandelbrot.py``, 800 x 600 in 8 x 6 tiles,
  ``max_iter`` 400) renders a view on a pool of one worker per CPU (niced, as in the demo), from
  ``render()`` until the last tile is painted (colouring and painting included), against the
  same tiles computed one after the other in this process with the same function (no painting),
  in the same run. Both as megapixels per second, so the ratio is the speed-up. On 2 cores the
  ideal is 2x; the tiles are uneven (the set's interior costs ``max_iter`` steps a pixel, its
  outside a few) and the GUI process takes a share of a core, so the target is a fair 1.3x.
  Niced workers give way to every other busy program too: on a shared, loaded machine the ratio
  drops below 1.
* **event-loop stalls** (longest, p99) during those renders: a 1 ms ``QTimer`` heartbeat
  records how long the event loop went without running it while tiles arrive and are painted in
  a shown window. Reference: one frame at 60 Hz. The single-process design would stall for its
  whole render (in the note).

Two views are rendered, the whole set (the window's first picture) and a detail of the seahorse
valley (the screenshot's), several times each, alternating with the single-process renders so
that a noisy neighbour hits both alike. Qt is imported inside the functions, as in bench_qt.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._qt_loop import start_heartbeat, wait_until
from benchmarks._table import Row, median, percentile

AREA = "mandelbrot"
FRAME_MS = 16.0  # one frame at 60 Hz, rounded down
ROUNDS = 5
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
VIEWS = {
    "whole set": (-0.6, 0.0, 3.4),
    "seahorse valley": (-0.7480, 0.1030, 3.4 / 55.5),
}


def _example() -> Any:
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    import mandelbrot

    return mandelbrot


def _wait_until(app: Any, done: Any, timeout: float = 120.0) -> None:
    wait_until(app, done, timeout)


def measure(rounds: int = ROUNDS) -> dict[str, Any]:
    """Seconds per render with the pool and in-process, and heartbeat gaps during pool renders."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qtpy.QtWidgets import QApplication

    from qtcompute import Pool

    m = _example()
    app = QApplication.instance() or QApplication([])
    pool = Pool(initializer=m.lower_priority)  # as the demo's main() does
    pool.ping(60)
    window = m.MandelbrotWindow(pool)
    window.show()
    width, height = window.image.width(), window.image.height()

    def complete() -> bool:
        return not window.is_rendering() and window.tiles_done == len(window.tiles)

    _wait_until(app, complete)  # the first render warms the workers up

    heartbeat, ticks = start_heartbeat(app)

    pooled: dict[str, list[float]] = {name: [] for name in VIEWS}
    single: dict[str, list[float]] = {name: [] for name in VIEWS}
    gaps: list[float] = []
    try:
        for _, (name, (x, y, span)) in itertools.product(range(rounds), VIEWS.items()):
            view = m.View(x, y, span)
            window.view = view
            started = time.perf_counter()
            window.render()
            _wait_until(app, complete)
            ended = time.perf_counter()
            pooled[name].append(ended - started)
            during = [started, *(t for t in ticks if started < t <= ended), ended]
            gaps.extend(b - a for a, b in itertools.pairwise(during))

            started = time.perf_counter()
            m.render_view(view, width, height, 8, 6, window.max_iter)
            single[name].append(time.perf_counter() - started)
    finally:
        heartbeat.stop()
        window.close()
    return {
        "pooled": pooled,
        "single": single,
        "gaps": gaps,
        "workers": pool.workers,
        "pixels": width * height,
    }


def run() -> list[Row]:
    result = measure()
    ms = 1000.0
    workers = result["workers"]
    mpix = result["pixels"] / 1e6
    rows = []
    for name in VIEWS:
        pooled = median(result["pooled"][name])
        single = median(result["single"][name])
        rows.append(
            Row(
                AREA,
                f"render speed-up, {name} (800x600, 48 tiles)",
                mpix / pooled,
                "Mpx/s",
                peer="same tiles in one process",
                peer_value=mpix / single,
                target=(">=", 1.3),
                note=f"{workers} workers; median of {ROUNDS}: {pooled * ms:.0f} ms pooled "
                f"(painting included) vs {single * ms:.0f} ms in one process",
            )
        )
    gaps = result["gaps"]
    worst_single = max(max(v) for v in result["single"].values())
    rows += [
        Row(
            AREA,
            "render: longest event-loop stall",
            max(gaps) * ms,
            "ms",
            peer="one frame at 60 Hz",
            peer_value=FRAME_MS,
            target=("<=", 1.0),
            note=f"1 ms QTimer heartbeat over {len(gaps):,} gaps in {2 * ROUNDS} renders; "
            f"rendering in the GUI thread would stall up to {worst_single * ms:.0f} ms",
        ),
        Row(
            AREA,
            "render: p99 event-loop stall",
            percentile(gaps, 99) * ms,
            "ms",
            peer="one frame at 60 Hz",
            peer_value=FRAME_MS,
            target=("<=", 1.0),
            note="tiles coloured and painted into a shown window as they arrive",
        ),
    ]
    return rows


if __name__ == "__main__":
    from benchmarks._table import render_markdown

    print(render_markdown(run()))
