"""``qtcompute build SCRIPT``: the click command (the only place here that exits)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from qtcompute.bundle._build import EXIT_NOT_VERIFIED, build_app
from qtcompute.bundle._errors import BuildError
from qtcompute.bundle._options import DEFAULT_WORKPATH, BuildOptions
from qtcompute.bundle._report import BuildReport
from qtcompute.freeze._smoke import DEFAULT_SETTLE


@click.command(name="build")
@click.argument("script", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-D", "--onedir", "onefile", flag_value=False, default=False, help="One folder (default)."
)
@click.option("-F", "--onefile", "onefile", flag_value=True, help="One executable file.")
@click.option("-w", "--windowed", is_flag=True, help="No console window (Windows, macOS).")
@click.option("-n", "--name", help="Name of the app (default: the script's name).")
@click.option("-y", "--noconfirm", is_flag=True, help="Replace an existing output without asking.")
@click.option("--upx-dir", type=click.Path(file_okay=False), help="Folder holding the upx binary.")
@click.option("--noupx", is_flag=True, help="Do not use UPX even if available.")
@click.option(
    "--strip/--no-strip",
    default=None,
    help="Strip symbol tables from binaries (default: yes where `strip` exists, not on Windows).",
)
@click.option(
    "--compress",
    is_flag=True,
    help="Onefile: zlib-compress binaries in the executable (smaller file, slower start).",
)
@click.option("--no-check", is_flag=True, help="Skip the static checker.")
@click.option("--no-verify", is_flag=True, help="Skip the self-test run (exit status 3).")
@click.option("--no-trim", is_flag=True, help="Keep every plugin, translation and debug section.")
@click.option(
    "--max-processes",
    type=click.IntRange(min=1),
    help="Process cap of a verified run's tree (default: 2 x workers + 8).",
)
@click.option(
    "--smoke",
    "smoke_script",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Python script run inside the app once its window is up (from source and frozen); "
    "its exit status decides the verdict. Gets app, window, windows, QTest, Qt, wait_until.",
)
@click.option(
    "--settle",
    type=click.FloatRange(min=0),
    default=DEFAULT_SETTLE,
    show_default=True,
    help="Seconds the app must stay idle (no task in flight) before the smoke run closes it.",
)
@click.option("--no-smoke", is_flag=True, help="Verify with the self-test only, not the app.")
@click.option(
    "--no-fix",
    is_flag=True,
    help="Report what the run from source used and the bundle lacks, with the PyInstaller "
    "option for each, instead of adding it.",
)
@click.option(
    "--hidden-import",
    "hidden_imports",
    multiple=True,
    metavar="MODULE",
    help="A module to bundle that PyInstaller does not find (PyInstaller's option).",
)
@click.option(
    "--add-data",
    "add_data",
    multiple=True,
    metavar="SRC:DEST",
    help="A data file or folder to bundle, DEST relative to the app (PyInstaller's option).",
)
@click.option("--distpath", type=click.Path(file_okay=False, path_type=Path), default=Path("dist"))
@click.option(
    "--workpath",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_WORKPATH,
    help="PyInstaller's work folder: the spec and intermediate files (default: build).",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON report path (default: DISTPATH/NAME-build-report.json).",
)
@click.pass_context
def build(
    ctx: click.Context,
    script: Path,
    onefile: bool,
    windowed: bool,
    name: str | None,
    noconfirm: bool,
    upx_dir: str | None,
    noupx: bool,
    strip: bool | None,
    compress: bool,
    no_check: bool,
    no_verify: bool,
    no_trim: bool,
    max_processes: int | None,
    smoke_script: Path | None,
    settle: float,
    no_smoke: bool,
    no_fix: bool,
    hidden_imports: tuple[str, ...],
    add_data: tuple[str, ...],
    distpath: Path,
    workpath: Path,
    report: Path | None,
) -> None:
    """Freeze SCRIPT with PyInstaller, trimmed, and prove the result runs.

    Steps: check (qtcompute check), the app from source (a smoke run recording what it uses),
    freeze (PyInstaller; unused Qt parts left out, what the run used added), UPX, verify (the
    self-test, then the frozen app itself, headless, under a process-count watchdog), report.
    Exit status: 0 verified, 1 failed, 3 built but not verified (--no-verify).
    """
    from rich.console import Console

    console = Console(stderr=True)
    parent = ctx.find_root()
    verbose = bool(parent.params.get("verbose")) if parent is not ctx else False
    options = BuildOptions(
        script=script,
        onefile=onefile,
        windowed=windowed,
        name=name,
        noconfirm=noconfirm,
        upx_dir=upx_dir,
        noupx=noupx,
        strip=strip,
        compress=compress,
        check=not no_check,
        verify=not no_verify,
        trim=not no_trim,
        max_processes=max_processes,
        distpath=distpath,
        workpath=workpath,
        report=report,
        verbose=verbose,
        smoke=not no_smoke,
        smoke_script=smoke_script,
        settle=settle,
        fix=not no_fix,
        hidden_imports=list(hidden_imports),
        add_data=[_data_option(value) for value in add_data],
    )
    status = console.status("starting")
    status.start()

    def progress(step: str, state: str, summary: str) -> None:
        if state == "start":
            status.update(f"[bold]{step}[/]: {summary}")
            return
        mark = {
            "done": "[green]✓[/]",
            "skip": "[yellow]-[/]",
            "warn": "[yellow]![/]",
            "fail": "[red]✗[/]",
            "finding": "  [red]![/]",
        }[state]
        console.print(f"{mark} {step}: {summary}" if state != "finding" else f"{mark} {summary}")

    try:
        result = build_app(options, progress)
    except BuildError as exc:
        status.stop()
        if exc.report is not None:
            _print_table(console, exc.report, options.report_path)
        console.print(f"[red]error:[/] {exc}")
        sys.exit(1)
    finally:
        status.stop()
    _print_table(console, result, options.report_path)
    sys.exit(0 if result.verified else EXIT_NOT_VERIFIED)


def _data_option(value: str) -> tuple[str, str]:
    """PyInstaller's ``SRC:DEST`` (``SRC;DEST`` accepted on Windows, as PyInstaller does)."""
    for separator in (";", ":") if sys.platform == "win32" else (":",):
        src, sep, dest = value.rpartition(separator)
        if sep and src and not (separator == ":" and len(src) == 1):  # not a drive letter
            return src, dest or "."
    raise click.BadParameter(f"expected SRC:DEST, not {value!r}", param_hint="--add-data")


def _print_table(console: object, report: BuildReport, path: Path) -> None:
    from rich.table import Table

    table = Table(title=f"qtcompute build: {report.name} ({report.mode})", show_header=False)
    table.add_column("item", style="bold")
    table.add_column("value")
    for item, value in report.rows():
        table.add_row(item, value)
    console.print(table)  # type: ignore[attr-defined]
    console.print(f"report: {path}")  # type: ignore[attr-defined]
