"""``qtcompute check`` speed: files per second over the standard library.

The peer is ``ruff check --select E`` over the same files in the same run: a Rust linter using
every core, so it is a reference speed, not a rival. Both run as fresh subprocesses on an
explicit list of files (the same list), so start-up counts for both. The issue's absolute goal
is "fast enough to run on every commit: at least a few hundred files per second"; the note says
whether this machine met it.
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
GOAL = 300.0  # files/s, "at least a few hundred files per second"


def _files() -> list[str]:
    from qtcompute.check import discover

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return [str(p) for p in discover([stdlib], exclude=["site-packages"])]


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def run() -> list[Row]:
    files = _files()
    ruff = str(Path(sys.executable).with_name("ruff" + (".exe" if os.name == "nt" else "")))
    ours = [sys.executable, "-m", "qtcompute", "check", *files]
    peer = [ruff, "check", "--isolated", "--no-cache", "--select", "E", "--exit-zero", *files]
    our_times, peer_times = [], []
    for _ in range(ROUNDS):  # interleaved, so a busy moment on the machine hits both
        our_times.append(_timed(ours))
        peer_times.append(_timed(peer))
    value = len(files) / statistics.median(our_times)
    peer_value = len(files) / statistics.median(peer_times)
    met = "met" if value >= GOAL else "NOT met"
    note = (
        f"{len(files)} stdlib files, median of {ROUNDS}; issue goal >= {GOAL:.0f} files/s on this "
        f"machine: {met} ({value:.0f} files/s); ruff is Rust on {os.cpu_count()} cores"
    )
    return [
        Row(
            area="check",
            name="files/s over stdlib",
            value=value,
            unit="files/s",
            peer="ruff check --select E",
            peer_value=peer_value,
            target=(">=", 0.02),
            note=note,
        )
    ]
