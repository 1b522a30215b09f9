"""A task that fails with nobody listening: no on_error, no result(), no exception().

The window just never updates; nothing is printed unless the engine logs the error.
"""

import sys

from qtpy.QtWidgets import QApplication, QLabel

import qtcompute


def load_model(path: str) -> int:
    with open(path) as fh:  # FileNotFoundError in the worker
        return len(fh.read())


def main() -> int:
    app = QApplication(sys.argv)
    label = QLabel("loading...")
    label.show()
    pool = qtcompute.Pool(1)
    pool.submit(load_model, "/nonexistent/model.bin")  # the future is dropped: nobody listens
    code = app.exec()
    pool.shutdown()
    return code


if __name__ == "__main__":
    sys.exit(qtcompute.run(main))
