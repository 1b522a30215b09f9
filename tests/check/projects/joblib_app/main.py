import multiprocessing

from joblib import Parallel, delayed
from PySide6.QtWidgets import QApplication, QPushButton


def square(x):
    return x * x


def on_click():
    print(sum(Parallel(n_jobs=2)(delayed(square)(i) for i in range(100))))  # QC011
    print(Parallel(n_jobs=2, prefer="threads")(delayed(square)(i) for i in range(3)))
    print(Parallel(n_jobs=2, backend="threading")(delayed(square)(i) for i in range(3)))


if __name__ == "__main__":
    multiprocessing.freeze_support()  # does not help loky
    app = QApplication([])
    button = QPushButton("go")
    button.clicked.connect(on_click)
    app.exec()
