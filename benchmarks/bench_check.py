"""``qtcompute check`` speed: files per second over the standard library.

The peer is ``ruff check --select E`` over the same files in the same run: a Rust linter using
every core, so it is a reference speed, not a rival. Both run as fresh subprocesses on an
explicit list of files (the same list), so start-up counts for both. Two rows: ``--jobs 2`` and
``--jobs 1`` (one process, the speed of the code itself), whole-program analysis included in
both (entry points, cross-module reach, QC002/QC011). The goal of issue 12 is at least 500 files
per second with ``--jobs 2``; the first row's target is that goal expressed as a ratio to ruff in
this run, so it passes exactly when the goal is met, and the notes say what the time goes to.

With ``QTCOMPUTE_CHECK_BASELINE`` set to another checkout's ``src`` folder (``git archive main
src | tar -x -C /tmp/base``), a third row times that checker with ``--jobs 2`` in the same
interleaved rounds and gives this one's speed as a ratio to it.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from benchmarks._table import Row

ROUNDS = 3
GOAL = 500.0  # files/s with --jobs 2, whole-program analysis included (issue 12)


def _files() -> list[str]:
    from qtcompute.check import discover

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return [str(p) for p in discover([stdlib], exclude=["site-packages"])]


def _timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env
    )
    return time.perf_counter() - started


def run() -> list[Row]:
    files = _files()
    ruff = str(Path(sys.executable).with_name("ruff" + (".exe" if os.name == "nt" else "")))
    ours = [sys.executable, "-m", "qtcompute", "check", "--jobs", "2", *files]
    single = [sys.executable, "-m", "qtcompute", "check", "--jobs", "1", *files]
    peer = [ruff, "check", "--isolated", "--no-cache", "--select", "E", "--exit-zero", *files]
    baseline = os.environ.get("QTCOMPUTE_CHECK_BASELINE")
    times: dict[str, list[float]] = {"ours": [], "single": [], "peer": [], "base": []}
    for _ in range(ROUNDS):  # interleaved, so a busy moment on the machine hits all of them
        times["ours"].append(_timed(ours))
        times["single"].append(_timed(single))
        times["peer"].append(_timed(peer))
        if baseline:
            times["base"].append(_timed(ours, {**os.environ, "PYTHONPATH": baseline}))
    rate = {name: len(files) / statistics.median(ts) for name, ts in times.items() if ts}
    cpus = 2
    met = "met" if rate["ours"] >= GOAL else "NOT met"
    where = f"{len(files)} stdlib files, median of {ROUNDS}, ruff is Rust on {os.cpu_count()} cores"
    rows = [
        Row(
            area="check",
            name="files/s over stdlib (--jobs 2)",
            value=rate["ours"],
            unit="files/s",
            peer="ruff check --select E",
            peer_value=rate["peer"],
            target=(">=", round(GOAL / rate["peer"], 4)),
            note=(
                f"{where}; issue goal >= {GOAL:.0f} files/s on this machine: {met} "
                f"({rate['ours']:.0f} files/s); the workers share the CPUs with whatever else "
                f"runs, so a busy machine gets less than {cpus}x the single-process rate"
            ),
        ),
        Row(
            area="check",
            name="files/s over stdlib (--jobs 1)",
            value=rate["single"],
            unit="files/s",
            peer="ruff check --select E",
            peer_value=rate["peer"],
            note=(
                f"{where}; one process: most of the time is ast.parse and the one analysis "
                "pass over the ~190 files the pre-filter keeps; the others cost a read, a text "
                "scan and, unless a current __pycache__ .pyc vouches for them, compile()"
            ),
        ),
    ]
    if baseline:
        rows.append(
            Row(
                area="check",
                name="files/s over stdlib (--jobs 2) vs another checkout",
                value=rate["ours"],
                unit="files/s",
                peer=f"the checker in {baseline}",
                peer_value=rate["base"],
                note=f"{where}; the same command with PYTHONPATH={baseline}",
            )
        )
    return rows
