"""The addition calculator from the blog post this project started from, rebuilt on qtcompute.

The post's version put ``output_queue.get()`` inside the click handler, so the window froze until
the worker answered (and forever if the worker died). Here the addition runs in a worker process
of a :class:`qtcompute.Pool`; :class:`qtcompute.qt.TaskRunner` delivers the answer as a callback
in the GUI thread, and the GUI thread never waits. What the post's user saw is kept: two inputs,
a Calculate button, a history that scrolls to the newest ``x + y = result`` line, Enter in either
input calculates, an empty input or text that is not a number counts as 0.0 (and the history line
now says so).

Run it with ``python examples/adder.py`` or ``qtcompute demo adder`` (add ``--local-cluster 2``
or ``--cluster tcp://HOST:8786`` to compute on a Dask cluster instead); freeze it with
``qtcompute build examples/adder.py``. Without a display: ``QT_QPA_PLATFORM=offscreen`` (nothing
to see) or ``xvfb-run python examples/adder.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from qtpy.QtCore import Qt
from qtpy.QtGui import QCloseEvent
from qtpy.QtWidgets import (
    QApplication,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import qtcompute
from qtcompute import Pool, PoolEvent, WorkerState, errors
from qtcompute.dask import pool_from_argv
from qtcompute.qt import TaskRunner


def add(x: float, y: float) -> float:
    """The computation. It runs in a worker process, so it lives at module level (picklable)."""
    return x + y


def parse_number(text: str) -> tuple[float, str]:
    """Read an input as the blog post's app did (empty or not a number: 0.0); say when it did."""
    text = text.strip()
    if not text:
        return 0.0, ""
    try:
        return float(text), ""
    except ValueError:
        return 0.0, f"{text!r} is not a number, read as 0.0"


def describe_error(exc: BaseException) -> str:
    """One short history line for a failed calculation."""
    if isinstance(exc, errors.WorkerCrashedError):
        how = f"killed by {exc.signal}" if exc.signal else f"exit code {exc.exitcode}"
        return f"error: the worker process died ({how}); a new worker has taken over"
    return f"error: {type(exc).__name__}: {exc}"


class CalculatorWindow(QMainWindow):
    """The calculator. ``pool`` runs the additions; ``add`` is the function it runs."""

    def __init__(self, pool: Pool, *, add: Callable[[float, float], float] = add) -> None:
        super().__init__()
        self.setWindowTitle("qtcompute: addition in a worker process")
        self.pool = pool
        self.add_fn = add
        # The runner owns the pool: closing the window (or quitting) shuts the workers down.
        self.runner = TaskRunner(pool, parent=self)
        self.runner.pool_state_changed.connect(self._show_pool_event)

        self.x_input = QLineEdit(objectName="x_input", placeholderText="0.0")
        self.y_input = QLineEdit(objectName="y_input", placeholderText="0.0")
        self.calculate_button = QPushButton("&Calculate", objectName="calculate_button")
        self.history = QListWidget(objectName="history")
        self.history.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.history.setWordWrap(True)  # long notes wrap instead of hiding off the edge
        self.worker_status = QLabel(objectName="worker_status")

        form = QFormLayout()
        form.addRow("&x:", self.x_input)
        form.addRow("&y:", self.y_input)
        layout = QVBoxLayout()
        layout.addLayout(form)
        layout.addWidget(self.calculate_button)
        layout.addWidget(self.history, stretch=1)
        central = QWidget()
        central.setLayout(layout)
        self.setCentralWidget(central)
        self.statusBar().addWidget(self.worker_status, 1)
        self.resize(440, 420)

        self.calculate_button.clicked.connect(self.calculate)
        self.x_input.returnPressed.connect(self.calculate)
        self.y_input.returnPressed.connect(self.calculate)

        stats = pool.stats()
        ready = stats.alive >= stats.workers and stats.busy == 0
        self.worker_status.setText("Worker ready" if ready else "Worker starting...")

    def calculate(self) -> None:
        """Add the two inputs in a worker; the history line is filled in when the answer comes."""
        x, x_note = parse_number(self.x_input.text())
        y, y_note = parse_number(self.y_input.text())
        notes = "; ".join(f"{n}: {note}" for n, note in (("x", x_note), ("y", y_note)) if note)
        suffix = f"  ({notes})" if notes else ""
        item = QListWidgetItem(f"{x} + {y} = ...{suffix}")
        self.history.addItem(item)
        self.history.scrollToBottom()
        # owner=self: if the window goes away first, the task is cancelled and neither callback
        # runs, so nothing touches a deleted widget.
        self.runner.submit(
            self.add_fn,
            x,
            y,
            owner=self,
            on_result=lambda result: item.setText(f"{x} + {y} = {result}{suffix}"),
            on_error=lambda exc: item.setText(f"{x} + {y} = {describe_error(exc)}{suffix}"),
        )

    def _show_pool_event(self, event: PoolEvent) -> None:
        restarted = " (restarted after a crash)" if event.stats.crashes else ""
        text = {
            WorkerState.STARTING: f"Worker starting...{restarted}",
            WorkerState.READY: f"Worker ready{restarted}",
            WorkerState.BUSY: f"Worker busy{restarted}",
            WorkerState.CRASHED: f"Worker crashed ({event.detail or 'pid ' + str(event.pid)}); "
            "starting a new one...",
        }.get(event.kind)
        if text is not None:
            self.worker_status.setText(text)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.runner.shutdown()
        super().closeEvent(event)


def main() -> int:
    # --cluster ADDRESS / --local-cluster N: the same app on a Dask cluster (docs/dask.md).
    try:
        pool, qt_argv = pool_from_argv(sys.argv, default=lambda: Pool(workers=1))
    except (ValueError, ConnectionError) as exc:
        print(f"adder: {exc}", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(qt_argv)
    window = CalculatorWindow(pool)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(qtcompute.run(main))
