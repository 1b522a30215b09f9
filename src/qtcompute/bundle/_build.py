"""``build_app``: check, freeze (trimmed), UPX, verify, report - one step after the other.

What the steps share, the options, is in ``_options``; the run of the app from source, which
goes on in a thread while PyInstaller freezes, in ``_source_run``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from qtcompute.bundle._check import format_finding, run_check
from qtcompute.bundle._coverage import add_data_option, set_pending_plan
from qtcompute.bundle._errors import (
    BuildError,
    CheckFailedError,
    FreezeFailedError,
    RunawaySpawningError,
    VerifyFailedError,
)
from qtcompute.bundle._freeze import (
    default_strip,
    exe_name,
    plan_path,
    read_trimmed,
    run_pyinstaller,
    write_spec,
)
from qtcompute.bundle._options import BuildOptions, ProgressCallback
from qtcompute.bundle._platform import onefile_windowed_refusal
from qtcompute.bundle._qt import detect_qt
from qtcompute.bundle._report import BuildReport, tree_size
from qtcompute.bundle._smoke import failure_message, selftest_applies, smoke_frozen
from qtcompute.bundle._source_run import SourceRun
from qtcompute.bundle._syslibs import xcb_system_libraries
from qtcompute.bundle._upx import measure_saved, plan_upx
from qtcompute.bundle._verify import verify

logger = logging.getLogger("qtcompute.bundle")

EXIT_NOT_VERIFIED = 3


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


def default_cap(workers: int) -> int:
    """The process cap of a verified run's tree when ``--max-processes`` is not given.

    The smoke run starts the real app, which may hold a qtcompute pool *and* another library's
    workers (joblib's loky: ``n_jobs`` workers and a resource tracker), beside the onefile
    bootloader pair and multiprocessing's resource tracker. Two processes per CPU plus eight
    leaves room for that; a fork bomb passes it within a second or two all the same.
    """
    return 2 * workers + 8


def _build(options: BuildOptions, script: Path, report: BuildReport, say: ProgressCallback) -> None:
    refusal = onefile_windowed_refusal(onefile=options.onefile, windowed=options.windowed)
    if refusal:
        report.verdict = "refused"
        raise BuildError(refusal)
    _check_step(options, script, report, say)
    qt = detect_qt(script)
    if options.smoke_script is not None and qt.binding:
        # The smoke script gets QTest: keep QtTest, which trimming leaves out unless named.
        qt = replace(qt, named_modules=qt.named_modules | {"QtTest"})
    report.binding = qt.binding
    workers = options.workers or os.cpu_count() or 1
    cap = options.max_processes or default_cap(workers)
    source = SourceRun(options, script, report, say, qt.binding, cap)

    # 2. freeze, trimmed (and completed with what the run from source used)
    upx = plan_upx(noupx=options.noupx, upx_dir=options.upx_dir)
    distpath, workpath = options.distpath.resolve(), options.workpath.resolve()
    name = options.app_name
    target = distpath / (exe_name(name) if options.onefile else name)
    if target.exists() and not options.noconfirm:
        raise BuildError(f"{target} exists; pass -y/--noconfirm to replace it")
    say("freeze", "start", f"PyInstaller, {report.mode}, Qt binding: {qt.binding or 'none'}")
    hidden = list(options.hidden_imports)
    if options.smoke_script is not None and qt.binding:
        hidden.append(f"{qt.binding}.QtTest")
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
        plan={"pending": True} if source.started else {},
        hiddenimports=hidden,
        datas=options.add_data,
    )
    report.excluded_modules = excludes
    set_pending_plan(source.plan)
    try:
        with _timed(report, "freeze"):
            run_pyinstaller(
                spec,
                distpath=distpath,
                workpath=workpath / name,
                upx=upx,
                qt_binding=qt.binding,
                verbose=options.verbose,
            )
    except FreezeFailedError:
        source.finish()  # the app failing from source is the cause to name, if it did
        raise
    finally:
        set_pending_plan(None)
        source.join()
    source_run = source.finish()
    report.trimmed_bytes = read_trimmed(trim_config)
    executable = target if options.onefile else target / exe_name(name)
    report.target, report.executable = str(target), str(executable)
    report.size_bytes = tree_size(target)
    say(
        "freeze",
        "done",
        f"{report.size_bytes / 2**20:.1f} MB, trimmed {report.trimmed_total / 2**20:.1f} MB",
    )
    done_plan = json.loads(plan_path(workpath / name, name).read_text(encoding="utf-8"))
    incomplete = _additions_step(options, report, say, done_plan)
    _system_libraries_step(report, say, done_plan)

    # 3. UPX (applied by PyInstaller during step 2; measured here)
    upx.saved_bytes = measure_saved(upx)
    report.upx = {k: v for k, v in asdict(upx).items() if k != "compressed"}
    report.upx["files_compressed"] = len(upx.compressed)
    say("upx", "done" if upx.applied else "skip", upx.reason)

    # 4. verify: the self-test (fast pre-check), then the app itself
    if not options.verify:
        say("verify", "skip", "--no-verify")
        report.verdict = "built, not verified (--no-verify)"
        return
    try:
        _verify_step(options, report, say, executable, workers, cap, selftest_applies(source_run))
    except VerifyFailedError as exc:
        if incomplete:
            raise type(exc)(f"{exc}\n{incomplete}") from None
        raise
    if incomplete:
        report.verdict = "incomplete"
        raise BuildError(incomplete)
    report.verdict = "verified"


def _verify_step(
    options: BuildOptions,
    report: BuildReport,
    say: ProgressCallback,
    executable: Path,
    workers: int,
    cap: int,
    selftest: bool = True,
) -> None:
    if selftest or not options.smoke:
        _selftest_step(options, report, say, executable, workers, cap)
    else:
        note = (
            "self-test skipped: the app started no qtcompute.Pool from source (the smoke run "
            "verifies it)"
        )
        say("verify", "skip", note)
    if options.smoke:
        _smoke_frozen_step(options, report, say, executable, cap, None if selftest else note)


def _selftest_step(
    options: BuildOptions,
    report: BuildReport,
    say: ProgressCallback,
    executable: Path,
    workers: int,
    cap: int,
) -> None:
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


def _smoke_frozen_step(
    options: BuildOptions,
    report: BuildReport,
    say: ProgressCallback,
    executable: Path,
    cap: int,
    instead_of_selftest: str | None,
) -> None:
    say("smoke", "start", f"the app itself, frozen, headless (settle {options.settle:g} s)")
    with _timed(report, "smoke (frozen)"):
        frozen = smoke_frozen(
            executable,
            smoke_script=options.smoke_script,
            settle=options.settle,
            cap=cap,
            timeout=options.verify_timeout,
        )
    report.smoke["frozen"] = frozen.to_json()
    if instead_of_selftest:  # the watchdog's findings (runaway, peak) where the self-test's go
        watch = asdict(frozen.watch)
        report.verify = {
            **watch,
            "message": watch["message"] if frozen.watch.runaway else (instead_of_selftest),
        }
    say("smoke", "done" if frozen.ok else "fail", f"frozen: {frozen.message}")
    if frozen.watch.runaway:
        report.verdict = "runaway"
        raise RunawaySpawningError(frozen.message)
    if not frozen.ok:
        report.verdict = "smoke failed"
        raise VerifyFailedError(failure_message(frozen))


def _check_step(
    options: BuildOptions, script: Path, report: BuildReport, say: ProgressCallback
) -> None:
    if not options.check:
        say("check", "skip", "--no-check")
        report.check = {"ran": False, "note": "skipped (--no-check)"}
        return
    say("check", "start", "qtcompute check")
    with _timed(report, "check"):
        outcome = run_check(script)
    report.check = {"ran": outcome.ran, "note": outcome.note, "findings": outcome.findings}
    say("check", "done", outcome.note)
    for finding in outcome.findings:
        say("check", "finding", format_finding(finding))
    if outcome.errors:
        report.verdict = "check failed"
        raise CheckFailedError(
            f"the checker found {len(outcome.errors)} error(s) in {options.script}; fix them "
            "(or build anyway with --no-check)"
        )


def _additions_step(
    options: BuildOptions, report: BuildReport, say: ProgressCallback, plan: dict[str, Any]
) -> str | None:
    """Report what was added; with ``--no-fix``, return the message the build fails with."""
    missing_modules = plan.get("missing_modules", [])
    missing_files = plan.get("missing_files", [])
    report.additions = {
        "traced_modules": len(plan.get("modules", [])),
        "traced_files": len(plan.get("files", [])),
        "processes": plan.get("processes", {}),
        "missing_modules": missing_modules,
        "missing_files": missing_files,
        "hidden_imports": plan.get("added_modules", []),
        "data_files": plan.get("added_files", []),
        "not_added": plan.get("not_added", []),
        "options": [f"--hidden-import={m}" for m in missing_modules]
        + [add_data_option(src, dest) for src, dest in missing_files],
    }
    if not (missing_modules or missing_files):
        if "modules" in plan:
            say("coverage", "done", "the bundle holds everything the run from source used")
        return None
    if not options.fix:
        lines = "\n".join(f"  {o}" for o in report.additions["options"])
        say("coverage", "warn", "missing from the bundle (--no-fix): " + " ".join(lines.split()))
        return (
            f"the run from source used {len(missing_modules)} module(s) and "
            f"{len(missing_files)} project file(s) that the bundle lacks (--no-fix): frozen, "
            f"the app fails where it uses them. Add them with these PyInstaller options "
            f"(qtcompute build accepts them too), or build without --no-fix:\n{lines}"
        )
    added = report.additions
    say("coverage", "done", _additions_summary(added["hidden_imports"], added["data_files"]))
    if added["not_added"]:
        say(
            "coverage",
            "warn",
            "PyInstaller could not add: " + ", ".join(added["not_added"]),
        )
    return None


def _additions_summary(modules: list[str], files: list[list[str]]) -> str:
    parts = []
    if modules:
        parts.append(f"added {len(modules)} hidden import(s): {', '.join(modules)}")
    if files:
        names = ", ".join(Path(src).name for src, _dest in files)
        parts.append(f"{len(files)} data file(s): {names}")
    return "; ".join(parts) or "nothing to add"


def _system_libraries_step(
    report: BuildReport, say: ProgressCallback, plan: dict[str, Any]
) -> None:
    binaries = [(d, s) for d, s in plan.get("binaries", [])]
    libraries = xcb_system_libraries(binaries)
    if libraries is None:
        return
    report.system_libraries = [asdict(lib) for lib in libraries]
    if libraries:
        say(
            "system libraries",
            "warn",
            f"users' machines need {len(libraries)} system libraries for the xcb platform "
            "plugin (not bundled, not in the manylinux baseline): "
            + "; ".join(lib.line() for lib in libraries),
        )
