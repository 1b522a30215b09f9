"""A Qt app whose slot calls joblib.Parallel(n_jobs=2), started with qtcompute.run.

The user's joblib code is unchanged: the default (loky) back end first, then the same call on
the app's own qtcompute pool through the "qtcompute" back end. Frozen, loky's workers and its
resource tracker start this executable again; qtcompute.run() must turn each into what loky
started it for. If it did not, main() refuses to run a second time (exit 99) instead of
starting more workers, so the test sees a failure, never a fork bomb.
"""

import os
import sys

from joblib import Parallel, delayed, parallel_config
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication, QPushButton

import qtcompute
import qtcompute.joblib  # registers the "qtcompute" back end


def square(i: int) -> int:
    return i * i


def main() -> int:
    if len(sys.argv) > 1:
        print("APP RAN AGAIN:", sys.argv[1:], file=sys.stderr, flush=True)
        return 99
    app = QApplication(sys.argv)
    pool = qtcompute.Pool(2)
    button = QPushButton("Compute")
    totals: list[int] = []

    def compute() -> None:  # the slot: plain joblib, as scikit-learn calls it
        totals.append(sum(Parallel(n_jobs=2)(delayed(square)(i) for i in range(1000))))
        with parallel_config(backend="qtcompute", pool=pool):
            totals.append(sum(Parallel(n_jobs=2)(delayed(square)(i) for i in range(1000))))
        print("loky total", totals[0], flush=True)
        print("qtcompute total", totals[1], flush=True)
        print("pid", os.getpid(), flush=True)
        app.quit()

    button.clicked.connect(compute)
    button.show()
    QTimer.singleShot(0, button.click)
    app.exec_()
    pool.shutdown()
    return 0 if totals == [332833500, 332833500] else 1


if __name__ == "__main__":
    sys.exit(qtcompute.run(main))
