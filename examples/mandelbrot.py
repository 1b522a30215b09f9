"""A Mandelbrot explorer whose tiles are computed by a pool of worker processes.

The view is cut into tiles (8 x 6 by default); each tile is one task for a
:class:`qtcompute.Pool` worker, computed with NumPy and delivered to the GUI thread by
:class:`qtcompute.qt.TaskRunner`, which paints it the moment it arrives. The window never waits
for a worker: the event loop keeps running while every core renders.

- **Zoom** with the mouse wheel around the cursor, **pan** by dragging. A new view shows the
  old picture moved into place at once and renders over it; the old view's tiles that have not
  started are cancelled, and results of old tiles that still arrive are thrown away (each tile
  carries the number of the view it was computed for).
- The workers run at a lower priority than the window (``lower_priority``), so the window stays
  smooth while every core renders.
- **Cancel** stops the render at once, running tiles included: a running tile is stopped by
  stopping its worker process, and the pool starts a replacement.
- The status bar shows the render's progress, tiles per second and the workers' activity.

Run it with ``python examples/mandelbrot.py`` or ``qtcompute demo mandelbrot``; without a
display, ``xvfb-run -a qtcompute demo mandelbrot``. ``--local-cluster 4`` renders on a Dask
``LocalCluster`` of four processes, ``--cluster tcp://HOST:8786`` on a running Dask cluster.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from qtpy.QtCore import QPoint, QPointF, QRect, QSize, Qt
from qtpy.QtGui import (
    QCloseEvent,
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QTransform,
    QWheelEvent,
)
from qtpy.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import qtcompute
from qtcompute import Pool, PoolEvent, WorkerState
from qtcompute.dask import pool_from_argv
from qtcompute.qt import TaskHandle, TaskRunner

MAX_ITER_LIMIT = np.iinfo(np.uint16).max
ZOOM_PER_NOTCH = 1.25
"""How much one notch of the mouse wheel zooms in (or out)."""
MIN_SPAN = 1e-12
"""The narrowest view: float64 pixels stop being distinct somewhat below this."""
MAX_SPAN = 8.0


# --- The computation: runs in the workers, so it lives at module level --------------------------


def render_tile(
    x0: float, y0: float, x1: float, y1: float, width: int, height: int, max_iter: int
) -> np.ndarray:
    """Escape-time counts of a ``width`` x ``height`` tile spanning ``x0..x1`` and ``y0..y1``.

    Row 0 is at ``y0`` and column 0 at ``x0`` (each pixel sampled at its centre). The result is a
    ``(height, width)`` ``uint16`` array: the iteration at which ``|z|`` exceeded 2, or
    ``max_iter`` for points that never did (inside the set).

    Only additions, multiplications and comparisons on float64 arrays, so a tile comes out bit
    for bit the same in any process on the same machine: a render by the workers equals one done
    in-process (the tests rely on it).
    """
    if not 1 <= max_iter <= MAX_ITER_LIMIT:
        raise ValueError(f"max_iter must be in 1..{MAX_ITER_LIMIT}, not {max_iter}")
    xs = x0 + (x1 - x0) * (np.arange(width) + 0.5) / width
    ys = y0 + (y1 - y0) * (np.arange(height) + 0.5) / height
    c_re = np.tile(xs, height)
    c_im = np.repeat(ys, width)
    counts = np.full(width * height, max_iter, dtype=np.uint16)
    where = np.arange(width * height)  # flat pixel index of each point still iterating
    z_re = np.zeros_like(c_re)
    z_im = np.zeros_like(c_im)
    for n in range(max_iter):
        re2 = z_re * z_re
        im2 = z_im * z_im
        escaped = re2 + im2 > 4.0
        if escaped.any():
            # Drop escaped points, so the work shrinks as the picture fills in.
            counts[where[escaped]] = n
            keep = ~escaped
            where, z_re, z_im, c_re, c_im = (a[keep] for a in (where, z_re, z_im, c_re, c_im))
            re2, im2 = re2[keep], im2[keep]
            if where.size == 0:
                break
        z_im = 2.0 * z_re * z_im + c_im
        z_re = re2 - im2 + c_re
    return counts.reshape(height, width)


def lower_priority() -> None:
    """Worker initializer: run below the GUI process, so that the window gets a core first.

    With every core rendering, a GUI at the same priority waits its turn for a time slice and
    the window stutters; a niced worker gives way to it and loses nothing when the GUI is idle.
    (``os.nice`` is POSIX only; elsewhere the workers keep the normal priority.)
    """
    if hasattr(os, "nice"):
        os.nice(10)


# --- Views and tiles: plain data, the same in the window, the tests and the benchmark -----------


@dataclass(frozen=True)
class View:
    """What part of the plane is shown: its centre and its width (``span``), in plane units."""

    center_x: float = -0.6
    center_y: float = 0.0
    span: float = 3.4

    def to_plane(self, px: float, py: float, width: int, height: int) -> tuple[float, float]:
        """The point of the plane at pixel position (px, py) of a width x height picture."""
        scale = self.span / width
        return self.center_x + (px - width / 2) * scale, self.center_y + (height / 2 - py) * scale

    def zoomed(self, px: float, py: float, factor: float, width: int, height: int) -> View:
        """Zoom in by ``factor`` (out if below 1), keeping the point under (px, py) in place."""
        span = min(MAX_SPAN, max(MIN_SPAN, self.span / factor))
        x, y = self.to_plane(px, py, width, height)
        scale = span / width
        return View(x - (px - width / 2) * scale, y - (height / 2 - py) * scale, span)

    def panned(self, dx: float, dy: float, width: int) -> View:
        """The view after the picture was dragged by (dx, dy) pixels."""
        scale = self.span / width
        return replace(
            self, center_x=self.center_x - dx * scale, center_y=self.center_y + dy * scale
        )

    def zoom_level(self) -> float:
        return View().span / self.span


@dataclass(frozen=True)
class Tile:
    """A rectangle of the picture, in pixels; ``index`` counts row by row from the top left."""

    index: int
    left: int
    top: int
    width: int
    height: int

    def rect(self) -> QRect:
        return QRect(self.left, self.top, self.width, self.height)


def make_tiles(width: int, height: int, columns: int, rows: int) -> list[Tile]:
    """Cut a picture into columns x rows tiles, ordered from the centre outwards."""
    xs = [round(width * i / columns) for i in range(columns + 1)]
    ys = [round(height * j / rows) for j in range(rows + 1)]
    tiles = [
        Tile(j * columns + i, xs[i], ys[j], xs[i + 1] - xs[i], ys[j + 1] - ys[j])
        for j in range(rows)
        for i in range(columns)
    ]

    def distance_from_centre(t: Tile) -> tuple[float, int]:
        dx = t.left + t.width / 2 - width / 2
        dy = t.top + t.height / 2 - height / 2
        return (math.hypot(dx, dy), t.index)

    return sorted(tiles, key=distance_from_centre)


def tile_task(
    view: View, tile: Tile, width: int, height: int, max_iter: int
) -> tuple[float, float, float, float, int, int, int]:
    """The arguments of :func:`render_tile` for one tile of a view."""
    x0, y0 = view.to_plane(tile.left, tile.top, width, height)
    x1, y1 = view.to_plane(tile.left + tile.width, tile.top + tile.height, width, height)
    return x0, y0, x1, y1, tile.width, tile.height, max_iter


def render_view(
    view: View, width: int, height: int, columns: int, rows: int, max_iter: int
) -> np.ndarray:
    """The whole picture rendered in this process, tile by tile: the reference for a pool render."""
    counts = np.zeros((height, width), dtype=np.uint16)
    for tile in make_tiles(width, height, columns, rows):
        counts[tile.top : tile.top + tile.height, tile.left : tile.left + tile.width] = render_tile(
            *tile_task(view, tile, width, height, max_iter)
        )
    return counts


# --- Colours ----------------------------------------------------------------------------------

# A cyclic gradient (dark blue, sky blue, white, orange, near black), one cycle per BAND counts.
GRADIENT = [
    (0.0, (0, 7, 100)),
    (0.16, (32, 107, 203)),
    (0.42, (237, 255, 255)),
    (0.6425, (255, 170, 0)),
    (0.8575, (0, 2, 0)),
    (1.0, (0, 7, 100)),
]
BAND = 40.0


@functools.lru_cache(maxsize=8)
def palette(max_iter: int) -> np.ndarray:
    """Colour of each count 0..max_iter as ``0xffRRGGBB`` (QImage.Format_RGB32); inside: black."""
    stops = np.array([s for s, _ in GRADIENT])
    rgb = np.array([c for _, c in GRADIENT], dtype=float)
    # sqrt: the bands widen further out, where counts are low and would otherwise be one colour
    t = (np.sqrt(np.arange(max_iter + 1) * BAND) / BAND) % 1.0
    channels = [np.interp(t, stops, rgb[:, k]).astype(np.uint32) for k in range(3)]
    colours = np.uint32(0xFF000000) | channels[0] << 16 | channels[1] << 8 | channels[2]
    colours[max_iter] = 0xFF000000
    colours.flags.writeable = False
    return colours


def colorize(counts: np.ndarray, max_iter: int) -> np.ndarray:
    """``uint32`` pixels (``0xffRRGGBB``) for an array of counts."""
    return palette(max_iter)[counts]


def to_qimage(counts: np.ndarray, max_iter: int) -> QImage:
    """A QImage of an array of counts (it owns its pixels: nothing to keep alive)."""
    pixels = np.ascontiguousarray(colorize(counts, max_iter))
    height, width = pixels.shape
    image = QImage(pixels.tobytes(), width, height, width * 4, QImage.Format.Format_RGB32)
    return image.copy()  # detach from the bytes object, which goes away with this frame


# --- The window ---------------------------------------------------------------------------------


def _position(event: QMouseEvent | QWheelEvent) -> QPointF:
    """The event's position in the widget, as a QPointF (Qt 6 ``position()``, Qt 5 ``localPos``)."""
    if hasattr(event, "position"):
        return event.position()
    return event.localPos()


class Canvas(QWidget):
    """Shows the picture; turns the wheel into zooms and drags into pans."""

    DRAG_THRESHOLD = 3  # pixels: a shorter drag is a click, not a pan

    def __init__(
        self,
        image: QImage,
        zoom: Callable[[QPointF, float], None],
        pan: Callable[[float, float], None],
    ) -> None:
        super().__init__(objectName="canvas")
        self.image = image
        self._zoom = zoom
        self._pan = pan
        self._drag_start: QPointF | None = None
        self._drag_offset = QPoint()
        self.setFixedSize(image.size())
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def sizeHint(self) -> QSize:
        return self.image.size()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        if not self._drag_offset.isNull():
            painter.fillRect(self.rect(), QColor(0, 0, 0))
        painter.drawImage(self._drag_offset, self.image)
        painter.end()

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120
        if notches:
            self._zoom(_position(event), ZOOM_PER_NOTCH**notches)
        event.accept()

    # Drags are tracked from press to release, not with event.buttons(): QTest's mouseMove
    # reports no buttons held on Qt 5.
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_start = _position(event)
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_start is not None:
            self._drag_offset = (_position(event) - self._drag_start).toPoint()
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag_start is None or event.button() != Qt.MouseButton.LeftButton:
            return
        delta = _position(event) - self._drag_start
        self._drag_start = None
        self._drag_offset = QPoint()
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        if delta.manhattanLength() >= self.DRAG_THRESHOLD:
            self._pan(delta.x(), delta.y())  # repaints with the moved picture
        else:
            self.update()


class MandelbrotWindow(QMainWindow):
    """The explorer: a ``width`` x ``height`` picture in ``columns`` x ``rows`` tiles.

    ``pool`` computes the tiles (the window's runner owns it: closing the window shuts it
    down). A render of ``view`` starts at once.
    """

    def __init__(
        self,
        pool: Pool,
        *,
        width: int = 800,
        height: int = 600,
        columns: int = 8,
        rows: int = 6,
        max_iter: int = 400,
        view: View | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("qtcompute: Mandelbrot in worker processes")
        self.pool = pool
        self.max_iter = max_iter
        self.view = view or View()
        self.tiles = make_tiles(width, height, columns, rows)
        self.runner = TaskRunner(pool, parent=self)
        self.runner.pool_state_changed.connect(self._show_pool_event)

        # The picture as counts (what the tests compare) and as the image on screen.
        self.counts = np.zeros((height, width), dtype=np.uint16)
        self.image = QImage(width, height, QImage.Format.Format_RGB32)
        self.image.fill(QColor(0, 0, 0))
        self.generation = 0
        """Number of the current view; a tile computed for another one is thrown away."""
        self.handles: list[TaskHandle] = []
        """The current render's tasks, one per tile."""
        self.tiles_done = 0
        self.stale_tiles = 0
        """Results that arrived for a view no longer shown (discarded, never painted)."""
        self._outstanding: dict[int, TaskHandle] = {}
        self._cancelling = False
        self._failures: list[str] = []
        self._started = 0.0
        self._elapsed = 0.0
        self._starting_pids: set[int] = set()
        self._busy = 0

        self.canvas = Canvas(self.image, self.zoom_at, self.pan_by)
        self.progress = QProgressBar(objectName="progress")
        self.progress.setRange(0, len(self.tiles))
        self.progress.setFormat("%v / %m tiles")
        self.cancel_button = QPushButton("&Cancel", objectName="cancel_button")
        self.reset_button = QPushButton("&Reset view", objectName="reset_button")
        self.status = QLabel(objectName="status")
        self.workers_label = QLabel(objectName="workers")
        self.view_label = QLabel(objectName="view")

        controls = QHBoxLayout()
        controls.addWidget(self.progress, stretch=1)
        controls.addWidget(self.cancel_button)
        controls.addWidget(self.reset_button)
        layout = QVBoxLayout()
        layout.addWidget(self.canvas, alignment=Qt.AlignmentFlag.AlignCenter)
        layout.addLayout(controls)
        central = QWidget()
        central.setLayout(layout)
        self.setCentralWidget(central)
        self.statusBar().addWidget(self.status, 1)
        self.statusBar().addPermanentWidget(self.view_label)
        self.statusBar().addPermanentWidget(self.workers_label)

        self.cancel_button.clicked.connect(self.cancel)
        self.reset_button.clicked.connect(lambda: self.set_view(View()))

        self._busy = pool.stats().busy
        self._show_workers()
        self.render()

    # -- rendering ------------------------------------------------------------------------------

    def render(self) -> None:
        """Render the current view: one task per tile, painted as each arrives."""
        self._drop_outstanding()
        self.generation += 1
        self.handles = []
        self.tiles_done = 0
        self._cancelling = False
        self._failures = []
        self._started = time.perf_counter()
        self.counts[:] = 0
        width, height = self.image.width(), self.image.height()
        for tile in self.tiles:
            settled = functools.partial(self._tile_settled, self.generation, tile)
            # owner=self: if the window goes away first, the task is cancelled and no callback
            # of it runs, so nothing touches a deleted widget.
            handle = self.runner.submit(
                render_tile,
                *tile_task(self.view, tile, width, height, self.max_iter),
                owner=self,
                on_result=functools.partial(self._tile_arrived, self.generation, tile),
                on_error=lambda exc, settled=settled: settled(f"{type(exc).__name__}: {exc}"),
            ).on_cancelled(settled)
            self.handles.append(handle)
            self._outstanding[tile.index] = handle
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.view_label.setText(
            f"x {self.view.center_x:+.10g}  y {self.view.center_y:+.10g}  "
            f"zoom {self.view.zoom_level():,.4g}x"
        )
        self._show_status()

    def set_view(self, view: View) -> None:
        """Show another part of the plane: the old picture moves into place, then tiles render."""
        if view == self.view:
            return
        self._move_picture(self.view, view)
        self.view = view
        self.render()

    def zoom_at(self, pos: QPointF, factor: float) -> None:
        """Zoom by ``factor`` around the canvas position ``pos`` (in if above 1)."""
        w, h = self.image.width(), self.image.height()
        self.set_view(self.view.zoomed(pos.x(), pos.y(), factor, w, h))

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the view as if the picture had been dragged by (dx, dy) pixels."""
        self.set_view(self.view.panned(dx, dy, self.image.width()))

    def cancel(self) -> None:
        """Stop the render now. Pending tiles are dropped, running ones stopped with their worker
        (the pool starts a replacement); tiles already computed are still painted."""
        if not self._outstanding:
            return
        self._cancelling = True
        # Pending ones first: a worker freed by a stop must find nothing left to take.
        for handle in sorted(self._outstanding.values(), key=lambda h: h.future.running()):
            handle.cancel()
        self.cancel_button.setEnabled(False)
        self._show_status()

    def is_rendering(self) -> bool:
        """True until every tile of the current render has been painted, failed or cancelled."""
        return bool(self._outstanding)

    def _drop_outstanding(self) -> None:
        # A new view: its tiles go to the front of nothing, so the old view's pending tiles are
        # cancelled. Running ones are left to finish (a few milliseconds, far less than starting
        # a worker to replace a stopped one), and their results are discarded on arrival.
        for handle in self._outstanding.values():
            handle.future.cancel()
        self._outstanding.clear()

    def _tile_arrived(self, generation: int, tile: Tile, counts: np.ndarray) -> None:
        if self.paint_tile(generation, tile, counts):
            self._tile_settled(generation, tile)

    def paint_tile(self, generation: int, tile: Tile, counts: np.ndarray) -> bool:
        """Put one tile's counts into the picture and on screen, unless they belong to another
        view than the one shown (then they are counted in ``stale_tiles`` and dropped)."""
        if generation != self.generation:
            self.stale_tiles += 1
            return False
        self.counts[tile.top : tile.top + tile.height, tile.left : tile.left + tile.width] = counts
        painter = QPainter(self.image)
        painter.drawImage(tile.left, tile.top, to_qimage(counts, self.max_iter))
        painter.end()
        self.canvas.update(tile.rect())
        self.tiles_done += 1
        return True

    def _tile_settled(self, generation: int, tile: Tile, failure: str = "") -> None:
        """A tile is painted, failed or cancelled; the render ends with its last tile."""
        if generation != self.generation:
            return
        if failure:
            self._failures.append(failure)
        self._outstanding.pop(tile.index, None)
        if not self._outstanding:
            self._elapsed = time.perf_counter() - self._started
            self.cancel_button.setEnabled(False)
        self._show_status()
        self.progress.setValue(self.tiles_done)  # last: a test waiting on it sees the final state

    def _move_picture(self, old: View, new: View) -> None:
        """Draw the old picture where its points are in the new view, as a preview."""
        w, h = self.image.width(), self.image.height()
        k = old.span / new.span
        x, y = old.to_plane(0, 0, w, h)  # where the old top-left corner goes
        left = (x - new.center_x) / (new.span / w) + w / 2
        top = (new.center_y - y) / (new.span / w) + h / 2
        before = self.image.copy()
        painter = QPainter(self.image)
        painter.fillRect(0, 0, w, h, QColor(0, 0, 0))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setTransform(QTransform(k, 0, 0, k, left, top))
        painter.drawImage(0, 0, before)
        painter.end()
        self.canvas.update()

    # -- status -------------------------------------------------------------------------------

    def _show_status(self) -> None:
        total = len(self.tiles)
        if self._outstanding:
            seconds = time.perf_counter() - self._started
            verb = "Cancelling" if self._cancelling else "Rendering"
        else:
            seconds = self._elapsed
            verb = "Cancelled" if self._cancelling else "Rendered"
        rate = f"{self.tiles_done / seconds:,.1f} tiles/s" if seconds > 0 else "- tiles/s"
        text = f"{verb}: {self.tiles_done}/{total} tiles in {seconds:.2f} s, {rate}"
        if self._failures:
            text += f"; {len(self._failures)} failed ({self._failures[-1]})"
        self.status.setText(text)

    def _show_pool_event(self, event: PoolEvent) -> None:
        if event.kind is WorkerState.STARTING:
            self._starting_pids.add(event.pid)
        else:
            self._starting_pids.discard(event.pid)
        self._busy = event.stats.busy
        self._show_workers()

    def _show_workers(self) -> None:
        text = f"workers busy: {self._busy}/{self.pool.workers}"
        if self._starting_pids:
            text += f" ({len(self._starting_pids)} starting)"
        self.workers_label.setText(text)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.runner.shutdown()
        super().closeEvent(event)


def main() -> int:
    # --cluster ADDRESS / --local-cluster N: the tiles rendered on a Dask cluster (docs/dask.md).
    try:
        pool, qt_argv = pool_from_argv(sys.argv, default=lambda: Pool(initializer=lower_priority))
    except (ValueError, ConnectionError) as exc:
        print(f"mandelbrot: {exc}", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(qt_argv)
    window = MandelbrotWindow(pool)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(qtcompute.run(main))
