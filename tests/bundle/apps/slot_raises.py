"""A slot that raises: PyQt5 aborts the app on an exception in a slot (with no excepthook)."""

import sys

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication, QPushButton

import qtcompute


def on_click() -> None:
    settings = {"theme": "dark"}
    print(settings["font"])  # KeyError: the bug the smoke run must name


def main() -> int:
    app = QApplication(sys.argv)
    button = QPushButton("Open")
    button.clicked.connect(on_click)
    button.show()
    QTimer.singleShot(0, button.click)
    return app.exec()


if __name__ == "__main__":
    sys.exit(qtcompute.run(main))
