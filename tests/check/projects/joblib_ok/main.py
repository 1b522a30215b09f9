import qtcompute
from joblib import Parallel, delayed
from PySide6.QtWidgets import QApplication, QPushButton


def square(x):
    return x * x


def on_click():
    print(sum(Parallel(n_jobs=2)(delayed(square)(i) for i in range(100))))


def main():
    app = QApplication([])
    button = QPushButton("go")
    button.clicked.connect(on_click)
    app.exec()


if __name__ == "__main__":
    qtcompute.run(main)
