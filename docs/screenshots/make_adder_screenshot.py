"""Make docs/screenshots/adder.png: the calculator after a few calculations, under Xvfb.

    xvfb-run -a -s "-screen 0 1024x768x24" \
        .venv/bin/python docs/screenshots/make_adder_screenshot.py

Types into the real window with QTest (one input is not a number), waits for the answers from the
worker, then captures the window as the X server shows it (ImageMagick ``import``), falling back
to ``QWidget.grab()`` when ``import`` is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "examples"))

import adder  # noqa: E402
from _shots import capture, wait_until  # noqa: E402
from qtpy.QtCore import Qt  # noqa: E402
from qtpy.QtTest import QTest  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402

import qtcompute  # noqa: E402
from qtcompute import Pool  # noqa: E402

OUT = HERE / "adder.png"
INPUTS = [("1.5", "2.25"), ("40", "2"), ("abc", "4"), ("", "7"), ("1e3", "-0.5")]


def main() -> int:
    app = QApplication(sys.argv)
    window = adder.CalculatorWindow(Pool(workers=1))
    window.resize(460, 400)
    window.show()
    wait_until(app, lambda: window.worker_status.text() == "Worker ready")
    for x, y in INPUTS:
        window.x_input.clear()
        window.y_input.clear()
        QTest.keyClicks(window.x_input, x)
        QTest.keyClicks(window.y_input, y)
        QTest.keyClick(window.y_input, Qt.Key.Key_Return)
        wait_until(
            app,
            lambda: (
                not window.history.item(window.history.count() - 1)
                .text()
                .split("  (")[0]
                .endswith("...")
            ),
        )
    window.x_input.setFocus()
    wait_until(app, lambda: window.worker_status.text() == "Worker ready")
    capture(app, window, OUT)
    print(f"written: {OUT}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(qtcompute.run(main))
