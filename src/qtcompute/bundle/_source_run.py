"""The run of the app from source (smoke mode, traced), in a thread beside PyInstaller.

What it finds decides what the bundle must hold (the plan that the spec reads, see
``_coverage``), and an app that fails from source already fails the build before the freeze.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from qtcompute.bundle._coverage import needs
from qtcompute.bundle._errors import VerifyFailedError
from qtcompute.bundle._options import BuildOptions, ProgressCallback
from qtcompute.bundle._report import BuildReport
from qtcompute.bundle._smoke import SmokeRun, failure_message, smoke_source


class SourceRun:
    """The run of the app from source (smoke mode, traced), alongside PyInstaller's Analysis.

    Started before the freeze; the spec asks for its plan (see ``_coverage.set_pending_plan``)
    once the Analysis is done, which waits for the run. An app that fails from source stops
    PyInstaller there and the build names the failure ("fails from source").
    """

    def __init__(
        self,
        options: BuildOptions,
        script: Path,
        report: BuildReport,
        say: ProgressCallback,
        binding: str | None,
        cap: int,
    ) -> None:
        self.options, self.script, self.report, self.say = options, script, report, say
        self.binding = binding
        self.run: SmokeRun | None = None
        self.error: BaseException | None = None
        self.reported = False
        self.started = options.smoke and options.verify
        self.thread: threading.Thread | None = None
        if not self.started:
            return
        say("smoke", "start", f"the app from source, headless (settle {options.settle:g} s)")
        self.began = time.perf_counter()
        self.thread = threading.Thread(
            target=self._go, args=(cap,), name="qtcompute-source-smoke", daemon=True
        )
        self.thread.start()

    def _go(self, cap: int) -> None:
        try:
            self.run = smoke_source(
                self.script,
                binding=self.binding,
                smoke_script=self.options.smoke_script,
                settle=self.options.settle,
                cap=cap,
                timeout=self.options.verify_timeout,
            )
        except BaseException as exc:  # handed to the build's thread by finish()
            self.error = exc
        finally:
            self.report.durations_s["smoke (source)"] = round(time.perf_counter() - self.began, 3)

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()

    def finish(self) -> SmokeRun | None:
        """Wait for the run; report it once; raise if the app failed from source."""
        if not self.started:
            return None
        self.join()
        if self.error is not None:
            raise self.error
        run = self.run
        assert run is not None
        if not self.reported:
            self.reported = True
            self.report.smoke["source"] = run.to_json()
            self.say("smoke", "done" if run.ok else "fail", f"from source: {run.message}")
        if not run.ok:
            self.report.verdict = "fails from source"
            raise VerifyFailedError(
                f"the app fails from source already, before freezing: {failure_message(run)}"
            )
        return run

    def plan(self) -> dict[str, Any]:
        """For the spec: what the bundle must hold (raises if the app failed from source)."""
        waiting = time.perf_counter()
        try:
            run = self.finish()
        finally:
            # What the run from source adds to the build: the Analysis waited this long for it.
            waited = round(time.perf_counter() - waiting, 3)
            self.report.durations_s["waited for the run from source"] = waited
        return _plan(self.options, self.script, run, self.binding)


def _plan(
    options: BuildOptions, script: Path, run: SmokeRun | None, binding: str | None
) -> dict[str, Any]:
    """What the spec must make sure the bundle holds (see _coverage)."""
    if run is None or run.coverage is None:
        return {}
    ignore = [f"{binding}.QtTest"] if options.smoke_script is not None and binding else []
    skip_dirs = [options.distpath, options.workpath]
    if options.smoke_script is not None:
        skip_dirs.append(options.smoke_script.resolve())
    modules, files = needs(
        run.coverage,
        script=script,
        started=run.started_at,
        ignore_modules=ignore,
        ignore_dirs=skip_dirs,
    )
    return {
        "fix": options.fix,
        "modules": modules,
        "files": [list(f) for f in files],
        "processes": run.coverage.processes,
    }
