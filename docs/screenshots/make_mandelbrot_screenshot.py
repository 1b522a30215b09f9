"""Make docs/screenshots/mandelbrot.png: the fractal explorer after a render and a zoom, under Xvfb.

    xvfb-run -a -s "-screen 0 1024x768x24" \
        .venv/bin/python docs/screenshots/make_mandelbrot_screenshot.py

Opens the real window on a pool of every core, waits for the whole set to render, zooms with
the mouse wheel into the valley between the main cardioid and the period-2 bulb, drags that
point to the middle, waits for the render to complete, then captures the window as the X server
shows it (ImageMagick ``import``), falling back to ``QWidget.grab()`` when ``import`` is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "examples"))

import mandelbrot  # noqa: E402
from _shots import capture, wait_until  # noqa: E402
from qtpy.QtCore import QPoint, QPointF, Qt  # noqa: E402
from qtpy.QtGui import QWheelEvent  # noqa: E402
from qtpy.QtTest import QTest  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402

import qtcompute  # noqa: E402
from qtcompute import Pool  # noqa: E402

OUT = HERE / "mandelbrot.png"
TARGET = (-0.7480, 0.1030)
"""The valley's seahorses: the point the wheel zooms around."""
NOTCHES = 18


def rendered(window: mandelbrot.MandelbrotWindow) -> bool:
    return not window.is_rendering() and window.tiles_done == len(window.tiles)


def main() -> int:
    app = QApplication(sys.argv)
    window = mandelbrot.MandelbrotWindow(Pool(initializer=mandelbrot.lower_priority))
    window.show()
    wait_until(app, lambda: rendered(window))

    # One wheel event over the target point, as a user zooming in would send.
    view, w, h = window.view, window.image.width(), window.image.height()
    scale = view.span / w
    pos = QPointF(
        (TARGET[0] - view.center_x) / scale + w / 2, (view.center_y - TARGET[1]) / scale + h / 2
    )
    wheel = QWheelEvent(
        pos,
        QPointF(window.canvas.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * NOTCHES),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(window.canvas, wheel)
    wait_until(app, lambda: rendered(window))

    # Then drag the target to the middle (the zoom kept it under the pointer).
    middle = QPoint(w // 2, h // 2)
    QTest.mousePress(window.canvas, Qt.MouseButton.LeftButton, pos=pos.toPoint())
    QTest.mouseMove(window.canvas, middle)
    QTest.mouseRelease(window.canvas, Qt.MouseButton.LeftButton, pos=middle)
    wait_until(app, lambda: rendered(window))
    wait_until(app, lambda: window.workers_label.text().startswith("workers busy: 0/"))
    capture(app, window, OUT)
    print(f"written: {OUT}  ({window.status.text()})")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(qtcompute.run(main))
