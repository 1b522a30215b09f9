"""A Qt app whose slot cross-validates a scikit-learn estimator with n_jobs=2.

``cross_val_score(..., n_jobs=2)`` runs its folds through joblib's default back end, loky: in
processes, started by running this executable again. Started with qtcompute.run, each of them
becomes the loky worker it was started as. If one did not, main() refuses to run a second time
(exit 99) instead of starting more workers.
"""

import sys

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication, QPushButton
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

import qtcompute


def main() -> int:
    if len(sys.argv) > 1:
        print("APP RAN AGAIN:", sys.argv[1:], file=sys.stderr, flush=True)
        return 99
    app = QApplication(sys.argv)
    button = QPushButton("Cross-validate")
    scores: list[float] = []

    def cross_validate() -> None:  # the slot: scikit-learn as anyone calls it
        X, y = make_classification(n_samples=400, n_features=8, random_state=0)
        scores.extend(cross_val_score(LogisticRegression(), X, y, cv=4, n_jobs=2))
        print("folds", len(scores), "mean accuracy", round(sum(scores) / len(scores), 3))
        app.quit()

    button.clicked.connect(cross_validate)
    button.show()
    QTimer.singleShot(0, button.click)
    app.exec_()
    return 0 if len(scores) == 4 and min(scores) > 0.7 else 1


if __name__ == "__main__":
    sys.exit(qtcompute.run(main))
