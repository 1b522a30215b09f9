"""``build_app``: check, freeze (trimmed), UPX, verify, report - one step after the other."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from qtcompute.build._check import format_finding, run_check
from qtcompute.build._errors import (
    BuildError,
    CheckFailedError,
    RunawaySpawningError,
    VerifyFailedError,
)
from qtcompute.build._freeze import (
    default_strip,
    exe_name,
    read_trimmed,
    run_pyinstaller,
    write_spec,
)
from qtcompute.build._qt import detect_qt
from qtcompute.build._report import BuildReport, tree_size
from qtcompute.build._upx import measure_saved, plan_upx
from qtcompute.build._verify import verify

logger = logging.getLogger("qtcompute.build")

# A step's progress: (step name, "start" | "done" | "skip", one-line summary).
ProgressCallback = Callable[[str, str, str], None]

EXIT_NOT_VERIFIED = 3


@dataclass
class BuildOptions:
    """The options of ``qtcompute build`` (the CLI flags, one to one)."""

    script: Path
    onefile: bool = False
    windowed: bool = False
    name: str | None = None
    noconfirm: bool = False
    upx_dir: str | None = None
    noupx: bool = False
    strip: bool | None = None
    """Strip symbol tables (None: where ``strip`` exists and not on Windows)."""
    compress: bool = False
    """Onefile: keep PyInstaller's zlib compression of binaries (smaller, slower to start)."""
    check: bool = True
    verify: bool = True
    trim: bool = True
    max_processes: int | None = None
    workers: int | None = None
    distpath: Path = Path("dist")
    workpath: Path = Path("build")
    report: Path | None = None
    verify_timeout: float = 120.0
    verbose: bool = False

    @property
    def app_name(self) -> str:
        return self.name or self.script.stem

    @property
    def report_path(self) -> Path:
        return self.report or self.distpath / f"{self.app_name}-build-report.json"


def _noop(step: str, state: str, summary: str) -> None:
    logger.info("%s: %s %s", step, state, summary)


@contextmanager
def _timed(report: BuildReport, step: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        report.durations_s[step] = round(time.perf_counter() - started, 3)


def build_app(options: BuildOptions, progress: ProgressCallback | None = None) -> BuildReport:
    """Build ``options.script``; return the report of a verified (or ``--no-verify``) build.

    The JSON report is written in every case. Raises:
        BuildError: a step failed (the subclass says which); ``.report`` holds the report.
    """
    say = progress or _noop
    script = options.script.resolve()
    if not script.is_file():
        raise BuildError(f"no such script: {options.script}")
    mode = "onefile" if options.onefile else "onedir"
    report = BuildReport(script=str(options.script), name=options.app_name, mode=mode)
    try:
        _build(options, script, report, say)
    except BuildError as exc:
        report.message = str(exc)
        exc.report = report
        report.write(options.report_path)
        raise
    report.write(options.report_path)
    return report


def _build(options: BuildOptions, script: Path, report: BuildReport, say: ProgressCallback) -> None:
    # 1. check
    if options.check:
        say("check", "start", "qtcompute check")
        with _timed(report, "check"):
            outcome = run_check(script)
        report.check = {
            "ran": outcome.ran,
            "note": outcome.note,
            "findings": outcome.findings,
        }
        say("check", "done", outcome.note)
        for finding in outcome.findings:
            say("check", "finding", format_finding(finding))
        if outcome.errors:
            report.verdict = "check failed"
            raise CheckFailedError(
                f"the checker found {len(outcome.errors)} error(s) in {options.script}; fix them "
                "(or build anyway with --no-check)"
            )
    else:
        say("check", "skip", "--no-check")
        report.check = {"ran": False, "note": "skipped (--no-check)"}

    # 2. freeze, trimmed
    qt = detect_qt(script)
    report.binding = qt.binding
    upx = plan_upx(noupx=options.noupx, upx_dir=options.upx_dir)
    distpath, workpath = options.distpath.resolve(), options.workpath.resolve()
    name = options.app_name
    target = distpath / (exe_name(name) if options.onefile else name)
    if target.exists() and not options.noconfirm:
        raise BuildError(f"{target} exists; pass -y/--noconfirm to replace it")
    say("freeze", "start", f"PyInstaller, {report.mode}, Qt binding: {qt.binding or 'none'}")
    spec, trim_config, excludes = write_spec(
        script=script,
        name=name,
        onefile=options.onefile,
        windowed=options.windowed,
        strip=default_strip() if options.strip is None else options.strip,
        upx=upx.applied,
        qt=qt,
        trim=options.trim,
        workpath=workpath / name,
        compress=options.compress,
    )
    report.excluded_modules = excludes
    with _timed(report, "freeze"):
        run_pyinstaller(
            spec,
            distpath=distpath,
            workpath=workpath / name,
            upx=upx,
            qt_binding=qt.binding,
            verbose=options.verbose,
        )
    report.trimmed_bytes = read_trimmed(trim_config)
    executable = target if options.onefile else target / exe_name(name)
    report.target, report.executable = str(target), str(executable)
    report.size_bytes = tree_size(target)
    say(
        "freeze",
        "done",
        f"{report.size_bytes / 2**20:.1f} MB, trimmed {report.trimmed_total / 2**20:.1f} MB",
    )

    # 3. UPX (applied by PyInstaller during step 2; measured here)
    upx.saved_bytes = measure_saved(upx)
    report.upx = {k: v for k, v in asdict(upx).items() if k != "compressed"}
    report.upx["files_compressed"] = len(upx.compressed)
    say("upx", "done" if upx.applied else "skip", upx.reason)

    # 4. verify
    if not options.verify:
        say("verify", "skip", "--no-verify")
        report.verdict = "built, not verified (--no-verify)"
        return
    workers = options.workers or os.cpu_count() or 1
    cap = options.max_processes or workers + 3
    say("verify", "start", f"self-test, headless, cap {cap} processes")
    with _timed(report, "verify"):
        result = verify(executable, workers=workers, cap=cap, timeout=options.verify_timeout)
    report.verify = asdict(result)
    say("verify", "done", result.message)
    if result.runaway:
        report.verdict = "runaway"
        raise RunawaySpawningError(result.message)
    if not result.ok:
        report.verdict = "verify failed"
        tail = result.output_tail.strip()
        raise VerifyFailedError(
            f"{result.message}" + (f"\n--- app output ---\n{tail}" if tail else "")
        )
    report.verdict = "verified"


def clean_outputs(options: BuildOptions) -> None:
    """Remove what a build of ``options`` wrote (used by tests and benchmarks)."""
    for path in (options.distpath, options.workpath):
        shutil.rmtree(path, ignore_errors=True)
