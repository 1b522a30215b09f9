"""Modules imported by name, where PyInstaller cannot see them: in a worker and in a slot.

The worker picks its storage back end by name (``importlib.import_module("sqlite3")``); a slot
picks a text-diff helper the same way (``difflib``). Frozen by plain PyInstaller both fail with
``ModuleNotFoundError``; the app hands the task's error to ``on_error`` and shows it in the
window, so nothing is printed at all.
"""

import importlib
import os
import sys

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication, QLabel

import qtcompute
from qtcompute.qt import TaskRunner

BACKEND = "sqlite3"
DIFF = "difflib"


def store_and_count(rows: list[str]) -> int:
    backend = importlib.import_module(BACKEND)
    db = backend.connect(":memory:")
    db.execute("create table t (x text)")
    db.executemany("insert into t values (?)", [(r,) for r in rows])
    return db.execute("select count(*) from t").fetchone()[0]


class Window(QLabel):
    def __init__(self) -> None:
        super().__init__("starting")
        self.setWindowTitle("by-name imports")
        self.runner = TaskRunner(qtcompute.Pool(1), parent=self)
        self.outcome: list[str] = []

    def start(self) -> None:  # a slot (QTimer.singleShot)
        diff = importlib.import_module(DIFF)
        ratio = diff.SequenceMatcher(None, "qtcompute", "qtcompute!").ratio()
        self.outcome.append(f"{ratio:.2f}")
        self.runner.submit(
            store_and_count,
            ["a", "b", "c"],
            owner=self,
            on_result=self.stored,
            on_error=lambda exc: self.setText(f"error: {exc}"),
        )

    def stored(self, count: int) -> None:
        self.outcome.append(str(count))
        self.setText(" ".join(self.outcome))
        out = os.environ.get("APP_RESULT_FILE")
        if out:  # the test's own run of the frozen app
            with open(out, "w") as fh:
                fh.write(self.text())
            self.close()

    def closeEvent(self, event) -> None:
        self.runner.shutdown()
        super().closeEvent(event)


def main() -> int:
    app = QApplication(sys.argv)
    window = Window()
    window.show()
    QTimer.singleShot(0, window.start)
    return app.exec()


if __name__ == "__main__":
    sys.exit(qtcompute.run(main))
