"""Helpers for the Dask tests: gates, and a scheduler in its own process that a test can stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import distributed


class Gate:
    """A FIFO that blocks ``dask_tasks.wait_for_gate`` until :meth:`release`."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        os.mkfifo(self.path)

    def release(self) -> None:
        with open(self.path, "w"):  # blocks until the task has opened the FIFO for reading
            pass


class ProcessCluster:
    """``dask scheduler`` and one ``dask worker``, each a real process of its own (LocalCluster
    keeps its scheduler inside the test process, where it cannot be killed)."""

    def __init__(self, folder: Path) -> None:
        self.scheduler_file = str(folder / "scheduler.json")
        common = ["--scheduler-file", self.scheduler_file, "--no-dashboard"]
        scheduler = ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0"]
        worker = ["distributed.cli.dask_worker", "--nthreads", "1", "--no-nanny"]
        # The worker imports dask_tasks by name, as a worker with the app installed would.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", *scheduler, *common],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.worker = subprocess.Popen(
            [sys.executable, "-m", *worker, *common],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def client(self) -> distributed.Client:
        """A client connected once the scheduler wrote its file and a worker joined."""
        client = distributed.Client(
            scheduler_file=self.scheduler_file, timeout=60, set_as_default=False
        )
        client.wait_for_workers(1, timeout=60)
        return client

    def freeze_scheduler(self) -> None:
        self.scheduler.send_signal(signal.SIGSTOP)  # connections stay open; nothing answers

    def kill_scheduler(self) -> None:
        self.scheduler.kill()
        self.scheduler.wait()

    def close(self) -> None:
        for process in (self.worker, self.scheduler):
            process.kill()
            process.wait()
