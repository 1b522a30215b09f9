"""The smoke harness and its verdicts on real processes from source, and the build's pure rules.

No PyInstaller run here: the harness is the same code frozen and from source (the frozen side is
in test_smoke_builds.py).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from qtcompute.bundle._coverage import _extension_name, needs
from qtcompute.bundle._platform import onefile_windowed_refusal
from qtcompute.bundle._runaway import Culprit, classify, diagnose
from qtcompute.bundle._smoke import SmokeRun, smoke_source
from qtcompute.bundle._syslibs import package_names, xcb_system_libraries

CAP = (os.cpu_count() or 1) + 3


def _app(tmp_path: Path, source: str, name: str = "app.py") -> Path:
    script = tmp_path / "project" / name
    script.parent.mkdir(exist_ok=True)
    script.write_text(textwrap.dedent(source))
    return script


def _smoke(script: Path, smoke_script: Path | None = None, timeout: float = 60) -> SmokeRun:
    return smoke_source(
        script, binding="PyQt5", smoke_script=smoke_script, settle=0.2, cap=CAP, timeout=timeout
    )


# --- the harness, from source --------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_qt_app_is_closed_like_a_user_closes_it(tmp_path: Path) -> None:
    script = _app(
        tmp_path,
        """
        import sys
        from PyQt5.QtWidgets import QApplication, QLabel

        class Window(QLabel):
            def closeEvent(self, event):
                print("close event received", flush=True)
                super().closeEvent(event)

        app = QApplication(sys.argv)
        window = Window("hello")
        window.setWindowTitle("closed by the smoke run")
        window.show()
        sys.exit(app.exec_())
        """,
    )
    run = _smoke(script)
    assert run.ok, run.message
    assert run.harness["windows"] == ["Window: closed by the smoke run"]
    assert list(run.harness["phases"]) == [
        "installed", "event loop", "window up", "settled", "exited"
    ]  # fmt: skip
    assert "close event received" in run.watch.output_tail


@pytest.mark.timeout(120)
def test_an_exception_in_another_thread_fails_it(tmp_path: Path) -> None:
    script = _app(
        tmp_path,
        """
        import threading
        def load():
            raise ConnectionError("the licence server is down")
        thread = threading.Thread(target=load, name="licence-check")
        thread.start()
        thread.join()
        """,
    )
    run = _smoke(script)
    assert not run.ok
    assert "uncaught exception (thread licence-check): ConnectionError: the licence" in run.message


@pytest.mark.timeout(120)
def test_an_error_logged_by_qtcompute_fails_it(tmp_path: Path) -> None:
    # What the engine logs for a task exception nobody retrieved; here logged by the app itself.
    script = _app(
        tmp_path,
        """
        import logging
        logging.getLogger("qtcompute.engine").error(
            "Task exception was never retrieved\\nTraceback: ValueError: bad row"
        )
        logging.getLogger("qtcompute.engine").warning("a warning is not a failure")
        """,
    )
    run = _smoke(script)
    assert not run.ok
    assert run.message.count("logged error") == 1
    assert "Task exception was never retrieved" in run.harness["failures"][0]["message"]


@pytest.mark.timeout(120)
def test_a_handled_task_error_and_a_worker_that_cannot_start_fail_it(tmp_path: Path) -> None:
    script = _app(
        tmp_path,
        """
        import qtcompute

        def boom():
            raise ImportError("the model's native library is missing")

        def work(x):
            return x

        if __name__ == "__main__":
            with qtcompute.Pool(1, initializer=boom) as pool:
                try:
                    pool.submit(work, 1).result(timeout=30)
                except Exception as exc:  # handled: the app shows it, carries on
                    print("handled:", type(exc).__name__)
        """,
    )
    run = _smoke(script)
    assert not run.ok
    assert "task work failed" in run.message
    assert "the model's native library is missing" in "".join(
        f["message"] for f in run.harness["failures"]
    )


@pytest.mark.timeout(120)
def test_exit_status_and_processes_left_behind_fail_it(tmp_path: Path) -> None:
    code = _smoke(_app(tmp_path, "import sys\nsys.exit(3)\n", "exits.py"))
    assert not code.ok and "exited with status 3" in code.message
    marker = f"left-behind-{os.getpid()}"
    left = _smoke(
        _app(
            tmp_path,
            f"""
            import subprocess, sys
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{marker}"])
            """,
            "leaves.py",
        )
    )
    assert not left.ok and "left 1 process(es) running after exit" in left.message
    assert marker in left.message  # named by its command line
    survivors = [p for p in psutil.process_iter(["cmdline"]) if marker in (p.info["cmdline"] or [])]
    assert survivors == []  # and killed with the tree


@pytest.mark.timeout(120)
def test_a_failing_smoke_script_decides_the_verdict(tmp_path: Path) -> None:
    script = _app(
        tmp_path,
        """
        import sys
        from PyQt5.QtWidgets import QApplication, QPushButton
        app = QApplication(sys.argv)
        button = QPushButton("Go")
        button.clicked.connect(lambda: button.setText("Gone"))
        button.show()
        sys.exit(app.exec_())
        """,
    )
    passing = tmp_path / "passes.py"
    passing.write_text(
        "QTest.mouseClick(window, Qt.LeftButton)\n"
        "wait_until(lambda: window.text() == 'Gone', timeout=5)\n"
    )
    failing = tmp_path / "fails.py"
    failing.write_text("assert window.text() == 'Stop', window.text()\n")
    exits = tmp_path / "exits.py"
    exits.write_text("import sys\nsys.exit(4)\n")
    assert _smoke(script, passing).ok
    failed = _smoke(script, failing)
    assert not failed.ok and "AssertionError: Go" in failed.message
    assert failed.harness["smoke_status"] == 1
    exited = _smoke(script, exits)
    assert not exited.ok and "exited with status 4" in exited.message


@pytest.mark.timeout(120)
def test_a_start_up_dialog_is_dismissed_and_the_main_window_then_watched(tmp_path: Path) -> None:
    script = _app(
        tmp_path,
        """
        import sys
        from PyQt5.QtWidgets import QApplication, QLabel, QMessageBox

        class Window(QLabel):
            def closeEvent(self, event):
                print("main window closed", flush=True)
                super().closeEvent(event)

        app = QApplication(sys.argv)
        QMessageBox.information(None, "Welcome", "First start")
        window = Window("main")
        window.setWindowTitle("main window")
        window.show()
        sys.exit(app.exec_())
        """,
    )
    smoke_script = tmp_path / "smoke.py"
    smoke_script.write_text("assert window.windowTitle() == 'main window', window\n")
    run = _smoke(script, smoke_script)
    assert run.ok, run.message
    assert "main window closed" in run.watch.output_tail  # a close event, not a quit()
    assert run.harness["notes"] == ["dismissed a start-up dialog (QMessageBox: Welcome)"]
    assert run.harness["windows"] == ["Window: main window"]


@pytest.mark.timeout(120)
def test_periodic_tasks_end_in_a_bounded_time_and_do_not_fail_it(tmp_path: Path) -> None:
    script = _app(
        tmp_path,
        """
        import sys, time
        from PyQt5.QtCore import QTimer
        from PyQt5.QtWidgets import QApplication, QLabel
        from qtcompute import Pool

        def poll(i):
            time.sleep(0.05)
            return i

        if __name__ == "__main__":
            app = QApplication(sys.argv)
            pool = Pool(1)
            label = QLabel("monitor")
            label.show()
            timer = QTimer()
            timer.timeout.connect(lambda: pool.submit(poll, 1))
            timer.start(100)
            code = app.exec_()
            pool.shutdown()
            sys.exit(code)
        """,
    )
    run = _smoke(script, timeout=20)  # the settle gives up after 10 s
    assert run.ok, run.message
    assert run.harness["tasks"] > 5
    assert any("never stayed idle" in note for note in run.harness["notes"]), run.harness


@pytest.mark.timeout(120)
def test_a_task_that_never_ends_fails_it_by_name_in_a_bounded_time(tmp_path: Path) -> None:
    script = _app(
        tmp_path,
        """
        import sys, time
        from PyQt5.QtWidgets import QApplication, QLabel
        from qtcompute import Pool

        def forever():
            time.sleep(600)

        if __name__ == "__main__":
            app = QApplication(sys.argv)
            pool = Pool(1)
            pool.submit(forever)
            label = QLabel("stuck")
            label.show()
            code = app.exec_()
            pool.shutdown(wait=False, cancel_futures=True)
            sys.exit(code)
        """,
    )
    run = _smoke(script, timeout=20)
    assert not run.ok
    assert "forever" in run.message and "still running" in run.message, run.message


@pytest.mark.timeout(120)
def test_coverage_sees_modules_and_files_used_in_the_app_and_in_workers(tmp_path: Path) -> None:
    script = _app(
        tmp_path,
        """
        import importlib
        from pathlib import Path
        import qtcompute

        def lookup(name):
            return importlib.import_module(name).__name__

        if __name__ == "__main__":
            Path(__file__).with_name("data").joinpath("table.csv").read_text()
            importlib.import_module("colorsys")
            with qtcompute.Pool(1) as pool:
                assert pool.submit(lookup, "wave").result(timeout=30) == "wave"
            Path(__file__).with_name("written.log").write_text("made by the run")
            Path(__file__).with_name("written.log").read_text()
        """,
    )
    (script.parent / "data").mkdir()
    table = script.parent / "data" / "table.csv"
    table.write_text("a,b\n")
    an_hour_ago = time.time() - 3600  # shipped files predate the run; the run's own do not
    os.utime(table, (an_hour_ago, an_hour_ago))
    run = _smoke(script)
    assert run.ok, run.message
    assert run.coverage is not None
    assert run.coverage.processes["worker"] == 1
    assert run.coverage.modules["colorsys"] == ["app"]
    assert run.coverage.modules["wave"] == ["worker"]
    modules, files = needs(run.coverage, script=script, started=run.started_at)
    assert {"colorsys", "wave"} <= set(modules)
    assert "__mp_main__" not in modules and "sitecustomize" not in modules
    # The data file, at its place relative to the script; not the script, not the run's log.
    assert files == [(str(script.parent / "data" / "table.csv"), "data")]


# --- pure rules --------------------------------------------------------------------------


# Command lines in the shapes loky 3.7 and CPython 3.11 write them (see _runaway's docstring).
@pytest.mark.parametrize(
    ("argv", "culprit"),
    [
        (["/app/app", "-m", "loky.backend.popen_loky_posix", "--process-name",
          "LokyProcess-1", "--pipe", "12"], Culprit.LOKY),
        (["/app/app", "-m", "joblib.externals.loky.backend.popen_loky_posix",
          "--process-name", "LokyProcess-2", "--pipe", "9"], Culprit.LOKY),
        (["C:\\app\\app.exe", "--multiprocessing-fork", "668"], Culprit.LOKY),
        (["/app/app", "-B", "-c",
          "from loky.backend.resource_tracker import main; main(5, 0)"], Culprit.LOKY),
        (["/app/app", "--multiprocessing-fork", "tracker_fd=5", "pipe_handle=7"],
         Culprit.MULTIPROCESSING),
        (["C:\\app\\app.exe", "--multiprocessing-fork", "parent_pid=1234", "pipe_handle=668"],
         Culprit.MULTIPROCESSING),
        (["/app/app", "-B", "-c",
          "from multiprocessing.resource_tracker import main;main(4)"], Culprit.MULTIPROCESSING),
        (["/app/app"], Culprit.RERUN),
        (["/app/app", "--open", "file.txt"], Culprit.RERUN),
    ],
)  # fmt: skip
def test_runaway_children_are_told_apart(argv: list[str], culprit: Culprit) -> None:
    assert classify(argv) is culprit


def test_the_runaway_message_blames_freeze_support_only_for_plain_reruns() -> None:
    loky = [["/a/app", "-m", "loky.backend.popen_loky_posix", "--pipe", "5"]] * 6
    tracker = [["/a/app", "-c", "from multiprocessing.resource_tracker import main;main(4)"]]
    message = diagnose(loky + tracker + [["/a/app"]])
    assert "loky worker processes" in message and "loky #236" in message
    assert "app -m loky.backend.popen_loky_posix --pipe 5" in message
    assert "does not call multiprocessing.freeze_support()" not in message
    worker = ["/a/app", "--multiprocessing-fork", "tracker_fd=5", "pipe_handle=7"]
    mp = diagnose(tracker + [worker] * 4)
    assert "multiprocessing worker processes" in mp and "qtcompute.run(main)" in mp
    assert "(`app --multiprocessing-fork tracker_fd=5 pipe_handle=7`)" in mp  # a worker shown
    assert "does not call multiprocessing.freeze_support()" not in mp
    rerun = diagnose([["/a/app"]] * 4)
    assert "plain re-runs of the app" in rerun
    assert "does not call multiprocessing.freeze_support() first" in rerun


@pytest.mark.parametrize(
    ("platform", "onefile", "windowed", "refused"),
    [
        ("darwin", True, True, True),
        ("darwin", False, True, False),
        ("darwin", True, False, False),
        ("linux", True, True, False),
        ("win32", True, True, False),
    ],
)
def test_onefile_windowed_is_refused_on_macos_only(
    platform: str, onefile: bool, windowed: bool, refused: bool
) -> None:
    reason = onefile_windowed_refusal(onefile=onefile, windowed=windowed, platform=platform)
    assert (reason is not None) is refused
    if reason:
        assert "Use -D -w instead" in reason and "notarization" in reason


def test_extension_module_names_from_bundle_destinations() -> None:
    assert _extension_name("python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so") == (
        "_sqlite3"
    )
    assert _extension_name("PyQt5/QtCore.abi3.so") == "PyQt5.QtCore"
    assert _extension_name("PySide6\\QtGui.pyd") == "PySide6.QtGui"


def test_package_names_of_the_xcb_libraries() -> None:
    assert package_names("libxcb-cursor.so.0") == ("libxcb-cursor0", "xcb-util-cursor")
    assert package_names("libxcb-randr.so.0") == ("libxcb-randr0", "libxcb")
    debian, fedora = package_names("libunknown-thing.so.7")
    assert "libunknown-thing.so.7" in debian and "dnf provides" in fedora


def _qt6_xcb_plugin() -> tuple[str, str] | None:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(spec.submodule_search_locations[0])
    plugin = root / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return ("PySide6/Qt/plugins/platforms/libqxcb.so", str(plugin)) if plugin.exists() else None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF, ldd")
def test_qt6_xcb_plugin_needs_libxcb_cursor_from_the_system() -> None:
    plugin = _qt6_xcb_plugin()
    if plugin is None:
        pytest.skip("no PySide6 with an xcb plugin installed")
    qt_lib = Path(plugin[1]).parents[2] / "lib"
    bundled = [(f"PySide6/Qt/lib/{p.name}", str(p)) for p in qt_lib.glob("libQt6*.so*")]
    libraries = {lib.soname: lib for lib in xcb_system_libraries([plugin, *bundled]) or []}
    import PySide6

    if tuple(int(p) for p in PySide6.__version__.split(".")[:2]) >= (6, 5):
        cursor = libraries["libxcb-cursor.so.0"]
        assert (cursor.debian, cursor.fedora) == ("libxcb-cursor0", "xcb-util-cursor")
    assert "libxcb.so.1" in libraries
    assert not any(name.startswith(("libQt6", "libc.so", "libstdc++")) for name in libraries)


def test_add_data_takes_pyinstallers_form() -> None:
    import click

    from qtcompute.bundle._cli import _data_option

    assert _data_option("/p/settings.json:.") == ("/p/settings.json", ".")
    assert _data_option("/p/data:data") == ("/p/data", "data")
    with pytest.raises(click.BadParameter, match="SRC:DEST"):
        _data_option("settings.json")


def test_an_app_killed_at_the_timeout_is_reaped(tmp_path: Path) -> None:
    import gc

    from qtcompute.bundle._verify import run_watched

    unraisable: list[object] = []
    previous, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        result = run_watched(
            [sys.executable, "-c", "import time; time.sleep(60)"],
            env=dict(os.environ),
            cwd=str(tmp_path),
            cap=CAP,
            timeout=1,
            log=tmp_path / "out.log",
        )
        gc.collect()
    finally:
        sys.unraisablehook = previous
    assert not result.ok and "did not finish within 1 s" in result.message
    assert [str(u.exc_value) for u in unraisable] == []  # type: ignore[attr-defined]


@pytest.mark.timeout(120)
def test_the_self_test_applies_only_to_an_app_that_starts_a_pool(tmp_path: Path) -> None:
    from qtcompute.bundle._smoke import selftest_applies

    plain = _app(
        tmp_path,
        """
        import sys
        from PyQt5.QtWidgets import QApplication, QLabel
        app = QApplication(sys.argv)
        label = QLabel("no qtcompute here")
        label.show()
        sys.exit(app.exec_())
        """,
        "plain.py",
    )
    pooled = _app(
        tmp_path,
        """
        from qtcompute import Pool
        if __name__ == "__main__":
            with Pool(1) as pool:
                pass
        """,
        "pooled.py",
    )
    plain_run, pooled_run = _smoke(plain), _smoke(pooled)
    assert plain_run.ok and pooled_run.ok, (plain_run.message, pooled_run.message)
    assert (plain_run.harness["pools"], pooled_run.harness["pools"]) == (0, 1)
    assert not selftest_applies(plain_run)  # it would wait in exec() until the timeout
    assert selftest_applies(pooled_run) and selftest_applies(None)
