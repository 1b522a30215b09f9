"""The calculator and the fractal explorer on a Dask cluster: ``--cluster`` / ``--local-cluster``
pick the executor, and the windows work on a ``DaskPool`` as on the local pool, unchanged."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from qtpy.QtCore import QCoreApplication, QEvent, Qt

from qtcompute.dask import DaskPool, pool_from_argv
from qtcompute.qt import is_deleted

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
if str(EXAMPLES) not in sys.path:  # the workers import the examples by name, as tests/qt does
    sys.path.insert(0, str(EXAMPLES))

TIMEOUT_MS = 60_000


class _NotCalled:
    def __call__(self):
        raise AssertionError("the default executor must not be made")


def test_pool_from_argv_picks_the_executor_and_leaves_qt_its_arguments(cluster):
    made = []
    pool, rest = pool_from_argv(["app", "-style", "fusion"], default=lambda: made.append(1) or 7)
    assert (pool, rest, made) == (7, ["app", "-style", "fusion"], [1])
    address = cluster.scheduler_address
    pool, rest = pool_from_argv(["app", "--cluster", address, "-style", "fusion"], _NotCalled())
    try:
        assert isinstance(pool, DaskPool) and pool.address == address
        assert rest == ["app", "-style", "fusion"]
    finally:
        pool.shutdown()
    for bad in (["--local-cluster", "0"], ["--local-cluster", "two"], ["--cluster"]):
        with pytest.raises(ValueError, match=r"--local-cluster|--cluster"):
            pool_from_argv(["app", *bad], _NotCalled())
    with pytest.raises(ValueError, match="not both"):
        pool_from_argv(["app", "--cluster", address, "--local-cluster", "1"], _NotCalled())


def test_the_calculator_adds_on_the_cluster(qtbot, cluster):
    adder = importlib.import_module("adder")
    window = adder.CalculatorWindow(DaskPool(cluster))
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.keyClicks(window.x_input, "1.5")
        qtbot.keyClicks(window.y_input, "2")
        with qtbot.waitSignal(window.history.model().dataChanged, timeout=TIMEOUT_MS):
            qtbot.mouseClick(window.calculate_button, Qt.MouseButton.LeftButton)
        assert window.history.item(0).text() == "1.5 + 2.0 = 3.5"
        assert window.worker_status.text() == "Worker ready"
    finally:
        window.runner.shutdown()


def test_the_fractal_explorer_renders_the_same_picture_on_the_cluster(qtbot, cluster):
    mandelbrot = importlib.import_module("mandelbrot")
    options = {"width": 96, "height": 72, "columns": 4, "rows": 3, "max_iter": 200}
    window = mandelbrot.MandelbrotWindow(DaskPool(cluster), **options)
    window.show()
    try:
        total = len(window.tiles)
        if window.progress.value() != total:
            with qtbot.waitSignal(
                window.progress.valueChanged,
                timeout=TIMEOUT_MS,
                check_params_cb=lambda v: v == total,
            ):
                pass
        expected = mandelbrot.render_view(window.view, 96, 72, 4, 3, 200)
        assert np.array_equal(window.counts, expected)
        assert "workers busy: 0/2" in window.workers_label.text()
    finally:
        window.close()  # shuts the runner and its pool down
        if not is_deleted(window):
            window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_offering_the_options_bundles_no_dask_in_a_frozen_app():
    """PyInstaller follows every import statement, in function bodies too: what the demos
    import statically (qtcompute.dask and its argv helper) must name neither Dask nor the
    modules that import it, or each frozen demo carries 70 MB of Dask (measured: 156 MB against
    91 MB for the calculator)."""
    import ast

    import qtcompute.dask
    import qtcompute.dask._argv

    for module in (qtcompute.dask, qtcompute.dask._argv):
        tree = ast.parse(Path(module.__file__).read_text())
        named = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                named |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                named |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        heavy = {
            name
            for name in named
            if name.split(".")[0] in ("dask", "distributed", "tornado", "cloudpickle")
            or name.startswith(("qtcompute.dask._pool", "qtcompute.dask._remote"))
            or name.startswith(("qtcompute.dask._connect", "qtcompute.dask.client"))
        }
        assert heavy == set(), f"{module.__name__} imports {sorted(heavy)}"
