"""Smoke script for the calculator, clicks Calculate and waits for the history line::

    qtcompute build examples/adder.py --smoke examples/adder_smoke.py

``qtcompute build`` runs it inside the app, from source and then frozen, once the window is up.
It gets ``app``, ``window`` (the first top-level window), ``windows``, ``QTest``, ``Qt`` and
``wait_until(condition, timeout=10.0)`` (runs the event loop until ``condition()`` is true).
It passes when it ends normally (or with ``sys.exit(0)``); an exception or another exit status
fails the build, and so does anything the smoke run watches (an exception in a slot, a failed
task...).
"""

# ruff: noqa: F821 - app, window, QTest, Qt and wait_until are given by the smoke run

window.x_input.setText("2")
window.y_input.setText("40.5")
QTest.mouseClick(window.calculate_button, Qt.LeftButton)
history = window.history


def answered() -> bool:
    return history.count() == 1 and not history.item(0).text().endswith("...")


wait_until(answered, timeout=30)
line = history.item(0).text()
assert line == "2.0 + 40.5 = 42.5", line
