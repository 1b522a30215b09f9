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
    button.pressed.connect(lambda: cross_validate(None))
    button.released.connect(lambda: threaded(None))
    app.exec()


def cross_validate(model):
    from joblib import parallel_backend

    with parallel_backend("loky", n_jobs=4):  # QC011
        return model.fit()


def threaded(model):
    from joblib import parallel_config

    with parallel_config(backend="threading", n_jobs=4):
        return model.fit()
