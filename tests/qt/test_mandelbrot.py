"""The fractal demo (``examples/mandelbrot.py``): tiles from a pool, exact, cancellable, zoomable.

Pictures are small here (a few thousand pixels in 12 tiles) so that a render is quick; the slow
renders that cancel and zoom interrupt look inside the set, where every point runs to
``max_iter``, so that each tile keeps a worker busy for a while.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np
import psutil
import pytest
import qt_tasks
from qtpy.QtCore import QCoreApplication, QEvent, QPoint, QPointF, Qt
from qtpy.QtGui import QImage, QWheelEvent
from qtpy.QtWidgets import QApplication

from qtcompute import Pool
from qtcompute.demo_cli import demo, example_path
from qtcompute.qt import is_deleted

TIMEOUT_MS = qt_tasks.WORKER_START_TIMEOUT_MS
QUICK = {"width": 96, "height": 72, "columns": 4, "rows": 3, "max_iter": 200}
"""The whole set: a render takes a few milliseconds of work."""
SLOW = {"width": 64, "height": 48, "columns": 4, "rows": 3, "max_iter": 20_000}
"""Inside the set: every tile is about 0.3 s of work, the render about 2 s on two workers."""


@pytest.fixture(scope="module")
def mandelbrot() -> ModuleType:
    """``examples/mandelbrot.py``, imported the way its workers import it."""
    import mandelbrot

    return mandelbrot


@pytest.fixture
def make_window(qtbot, mandelbrot) -> Iterator[Callable[..., Any]]:  # type: ignore[no-untyped-def]
    """Open an explorer on a fresh two-worker pool; its render starts at once.

    The windows are destroyed here, while this fixture still holds them, rather than by
    ``qtbot.addWidget`` (close + ``deleteLater``): a window that sits in a reference cycle (its
    callbacks refer to it) can be garbage-collected before the deferred delete runs, and PyQt5
    then frees the callable connected to the runner's ``destroyed`` signal while the signal is
    still connected (a crash in the next test's event loop).
    """
    windows = []

    def make(**options: Any) -> Any:
        window = mandelbrot.MandelbrotWindow(Pool(workers=2), **options)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        if not is_deleted(window):
            window.close()  # shuts the runner and its pool down
            window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    windows.clear()


def slow_view(mandelbrot: ModuleType) -> Any:
    return mandelbrot.View(center_x=-0.1, center_y=0.0, span=0.2)


def reference(mandelbrot: ModuleType, window: Any) -> np.ndarray:
    """The window's current view rendered in this process, tile by tile."""
    return mandelbrot.render_view(
        window.view,
        window.image.width(),
        window.image.height(),
        *_grid(window),
        window.max_iter,
    )


def _grid(window: Any) -> tuple[int, int]:
    columns = len({t.left for t in window.tiles})
    rows = len({t.top for t in window.tiles})
    return columns, rows


def image_pixels(image: QImage) -> np.ndarray:
    """A copy of an RGB32 QImage's pixels as ``(height, width)`` uint32 (PyQt and PySide)."""
    bits = image.constBits()
    if hasattr(bits, "setsize"):  # PyQt: a sip.voidptr of unknown length
        bits.setsize(image.sizeInBytes())
    rows = np.frombuffer(bits, dtype=np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 4].copy().view(np.uint32)


def wait_for_complete_render(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Wait on the progress bar until every tile of the current view is painted."""
    total = len(window.tiles)
    if window.progress.value() == total and not window.is_rendering():
        return
    with qtbot.waitSignal(
        window.progress.valueChanged, timeout=TIMEOUT_MS, check_params_cb=lambda v: v == total
    ):
        pass
    assert not window.is_rendering()


class Outcomes:
    """Counts the outcome signals of each task handle (connected before any can be emitted)."""

    def __init__(self, handles: list[Any]) -> None:
        self.handles = list(handles)
        self.seen: list[list[str]] = [[] for _ in self.handles]
        for seen, handle in zip(self.seen, self.handles, strict=True):
            handle.finished.connect(lambda _, seen=seen: seen.append("finished"))
            handle.failed.connect(lambda _, seen=seen: seen.append("failed"))
            handle.cancelled.connect(lambda seen=seen: seen.append("cancelled"))

    def all_ended(self) -> bool:
        return all(self.seen)

    def count(self, kind: str) -> int:
        return sum(seen.count(kind) for seen in self.seen)


# --- the computation, in this process -----------------------------------------------------------


def test_render_tile_counts(mandelbrot) -> None:  # type: ignore[no-untyped-def]
    inside = mandelbrot.render_tile(-0.1, 0.05, 0.1, -0.05, 4, 2, 50)
    assert inside.dtype == np.uint16 and inside.shape == (2, 4)
    assert (inside == 50).all()
    outside = mandelbrot.render_tile(2.5, 2.5, 3.5, 1.5, 3, 3, 50)
    assert (outside == 1).all()  # |c| > 2: escaped after the first step
    with pytest.raises(ValueError, match="max_iter"):
        mandelbrot.render_tile(0, 0, 1, 1, 2, 2, 70_000)


def test_tiles_cover_the_picture_once_centre_first(mandelbrot) -> None:  # type: ignore[no-untyped-def]
    tiles = mandelbrot.make_tiles(101, 67, 4, 3)
    covered = np.zeros((67, 101), dtype=int)
    for t in tiles:
        covered[t.top : t.top + t.height, t.left : t.left + t.width] += 1
    assert (covered == 1).all()
    assert sorted(t.index for t in tiles) == list(range(12))
    assert {tiles[0].index, tiles[1].index} == {5, 6}  # the two middle tiles of the middle row


def test_zoom_keeps_the_point_under_the_cursor(mandelbrot) -> None:  # type: ignore[no-untyped-def]
    view = mandelbrot.View()
    zoomed = view.zoomed(30, 50, 4.0, 200, 100)
    assert zoomed.span == pytest.approx(view.span / 4)
    assert zoomed.to_plane(30, 50, 200, 100) == pytest.approx(view.to_plane(30, 50, 200, 100))
    panned = view.panned(20, -10, 200)
    assert panned.to_plane(120, 40, 200, 100) == pytest.approx(view.to_plane(100, 50, 200, 100))


# --- the window ---------------------------------------------------------------------------------


def test_widgets_carry_object_names(make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window(**QUICK)
    for name in ("canvas", "progress", "cancel_button", "reset_button", "status", "workers"):
        assert window.findChild(object, name) is not None, name


def test_render_matches_the_in_process_reference(qtbot, make_window, mandelbrot) -> None:  # type: ignore[no-untyped-def]
    window = make_window(**QUICK)
    outcomes = Outcomes(window.handles)
    wait_for_complete_render(qtbot, window)

    expected = reference(mandelbrot, window)
    assert np.array_equal(window.counts, expected)  # pixel for pixel, every tile from a worker
    assert window.image == mandelbrot.to_qimage(expected, window.max_iter)
    assert np.array_equal(image_pixels(window.image), mandelbrot.colorize(expected, 200))
    assert len(np.unique(expected)) > 20  # a real picture, not a flat one

    qtbot.waitUntil(outcomes.all_ended, timeout=TIMEOUT_MS)
    assert outcomes.seen == [["finished"]] * 12
    assert window.stale_tiles == 0
    assert re.fullmatch(
        r"Rendered: 12/12 tiles in [\d.]+ s, [\d,.]+ tiles/s", window.status.text()
    ), window.status.text()
    assert not window.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: window.workers_label.text() == "workers busy: 0/2", timeout=TIMEOUT_MS)


def test_status_bar_shows_busy_workers(qtbot, make_window, mandelbrot) -> None:  # type: ignore[no-untyped-def]
    window = make_window(**SLOW, view=slow_view(mandelbrot))
    qtbot.waitUntil(lambda: window.workers_label.text() == "workers busy: 2/2", timeout=TIMEOUT_MS)
    assert window.status.text().startswith("Rendering: ")
    window.cancel()


def test_cancel_mid_render_ends_every_task(qtbot, make_window, mandelbrot) -> None:  # type: ignore[no-untyped-def]
    pool_size = 2
    window = make_window(**SLOW, view=slow_view(mandelbrot))
    outcomes = Outcomes(window.handles)
    pool = window.pool
    qtbot.waitUntil(lambda: pool.stats().busy == pool_size, timeout=TIMEOUT_MS)
    busy_pids = set(pool.pids())

    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(outcomes.all_ended, timeout=TIMEOUT_MS)

    assert all(len(seen) == 1 for seen in outcomes.seen), outcomes.seen  # exactly once each
    assert outcomes.count("failed") == 0
    assert outcomes.count("cancelled") >= pool_size  # at least the running ones were stopped
    assert outcomes.count("finished") == window.tiles_done == window.progress.value()
    assert all(h.future.done() for h in window.handles)
    assert not window.is_rendering() and not window.cancel_button.isEnabled()
    assert window.status.text().startswith(f"Cancelled: {window.tiles_done}/12 tiles")
    qtbot.waitUntil(lambda: pool.stats().busy == 0, timeout=TIMEOUT_MS)
    # Cancelled tasks still count in `pending` until a worker is free to skip them (the stopped
    # workers' replacements, once started).
    qtbot.waitUntil(lambda: pool.stats().pending == 0, timeout=TIMEOUT_MS)
    assert busy_pids.isdisjoint(pool.pids())  # the running tiles' workers were stopped

    # The pool replaced them: a cheap view (far outside the set) renders in full.
    window.set_view(mandelbrot.View(center_x=3.0, center_y=3.0, span=0.5))
    wait_for_complete_render(qtbot, window)
    assert np.array_equal(window.counts, reference(mandelbrot, window))


def test_zoom_during_a_render_discards_stale_tiles(qtbot, make_window, mandelbrot) -> None:  # type: ignore[no-untyped-def]
    window = make_window(**SLOW, view=slow_view(mandelbrot))
    painted: list[tuple[int, int, bool]] = []  # (tile's view, view shown, painted?)
    paint_tile = window.paint_tile

    def spy(generation: int, tile: Any, counts: np.ndarray) -> bool:
        shown = window.generation
        done = paint_tile(generation, tile, counts)
        painted.append((generation, shown, done))
        return done

    window.paint_tile = spy
    old, old_view = window.generation, window.view
    old_outcomes = Outcomes(window.handles)
    qtbot.waitUntil(lambda: window.pool.stats().busy == 2, timeout=TIMEOUT_MS)

    # Zoom out 12 notches around the top left corner, with a real wheel event: the new view
    # hardly touches the set, so the reference below is quick.
    corner = QPointF(0.5, 0.5)
    wheel = QWheelEvent(
        corner,
        QPointF(window.canvas.mapToGlobal(corner.toPoint())),
        QPoint(0, 0),
        QPoint(0, -120 * 12),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(window.canvas, wheel)
    assert window.generation == old + 1
    assert window.view.span == pytest.approx(0.2 * 1.25**12)
    assert window.view.to_plane(0.5, 0.5, 64, 48) == pytest.approx(
        old_view.to_plane(0.5, 0.5, 64, 48)
    )

    wait_for_complete_render(qtbot, window)
    qtbot.waitUntil(old_outcomes.all_ended, timeout=TIMEOUT_MS)
    assert not [p for p in painted if p[0] == old and p[1] != old and p[2]]  # none painted
    assert all(done for gen, _, done in painted if gen == window.generation)
    assert window.stale_tiles >= 1  # the old view's running tiles finished and were dropped
    assert window.stale_tiles == len([p for p in painted if not p[2]])
    assert all(len(seen) == 1 for seen in old_outcomes.seen)
    assert np.array_equal(window.counts, reference(mandelbrot, window))
    assert window.image == mandelbrot.to_qimage(window.counts, window.max_iter)


def test_drag_pans_the_view(qtbot, make_window, mandelbrot) -> None:  # type: ignore[no-untyped-def]
    window = make_window(**QUICK)
    wait_for_complete_render(qtbot, window)
    before = window.view
    start, end = QPoint(60, 40), QPoint(40, 30)
    qtbot.mousePress(window.canvas, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(window.canvas, end)
    qtbot.mouseRelease(window.canvas, Qt.MouseButton.LeftButton, pos=end)
    assert window.view == before.panned(-20, -10, window.image.width())
    wait_for_complete_render(qtbot, window)
    assert np.array_equal(window.counts, reference(mandelbrot, window))

    qtbot.mouseClick(window.reset_button, Qt.MouseButton.LeftButton)
    assert window.view == mandelbrot.View()


def test_closing_the_window_mid_render_leaves_no_worker(qtbot, make_window, mandelbrot) -> None:  # type: ignore[no-untyped-def]
    window = make_window(**SLOW, view=slow_view(mandelbrot))
    qtbot.waitUntil(lambda: window.pool.stats().busy == 2, timeout=TIMEOUT_MS)
    pids = window.pool.pids()
    window.close()
    qtbot.waitUntil(lambda: not any(psutil.pid_exists(p) for p in pids), timeout=TIMEOUT_MS)
    children = {c.pid for c in psutil.Process().children(recursive=True)}
    assert not children & set(pids)


# --- the CLI ------------------------------------------------------------------------------------


def test_demo_runs_the_mandelbrot_script() -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(demo, ["--help"])
    assert result.exit_code == 0 and "mandelbrot" in result.output
    path = example_path("mandelbrot")
    assert path.name == "mandelbrot.py"
    assert "sys.exit(qtcompute.run(main))" in path.read_text(encoding="utf-8")
