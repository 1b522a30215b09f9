"""A module of the frozen app with its own test block: not an entry point of the app."""

import multiprocessing

from PyQt5.QtWidgets import QApplication


def preview():
    with multiprocessing.Pool(2) as pool:
        return pool.map(abs, [-1, 2])


if __name__ == "__main__":
    app = QApplication([])
    print(preview())
