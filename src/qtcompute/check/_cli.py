"""The ``qtcompute check`` command. Exit status: 0 clean, 1 findings, 2 usage or read errors."""

from __future__ import annotations

import sys

import click

from qtcompute.check._entries import grammar_version
from qtcompute.check._format import format_json, format_sarif, format_text
from qtcompute.check._jobs import available_cpus
from qtcompute.check._runner import check_paths, unknown_codes
from qtcompute.check.rules import RULES


def _codes(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    codes = tuple(c.strip().upper() for item in value for c in item.split(",") if c.strip())
    unknown = unknown_codes(codes)
    if unknown:
        known = ", ".join(rule.code for rule in RULES)
        raise click.BadParameter(f"unknown code {', '.join(unknown)} (known: QC000, {known})")
    return codes


@click.command(name="check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="text: path:line:col: QCnnn message; sarif: for code-scanning services.",
)
@click.option(
    "--select",
    multiple=True,
    callback=_codes,
    help="Only these codes or prefixes (comma-separated).",
)
@click.option(
    "--ignore",
    multiple=True,
    callback=_codes,
    help="Skip these codes or prefixes (comma-separated).",
)
@click.option(
    "--exclude", multiple=True, help="Folder name glob to skip while walking (repeatable)."
)
@click.option("--output", "-o", type=click.File("w"), default="-", help="Write the report here.")
@click.option("--statistics", is_flag=True, help="Print a count per code on stderr.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes for many files [default: the number of CPUs]; 1 checks in this "
    "process. The output is the same for any number.",
)
@click.option(
    "--all-scripts",
    is_flag=True,
    help="QC002/QC011 on every program, not only those plausibly frozen (Qt, a .spec, "
    "sys.frozen, [tool.qtcompute]).",
)
@click.option(
    "--target-version",
    metavar="pyXY",
    default=None,
    help="The Python grammar to read files with (py310 ... py315) [default: requires-python's "
    "upper bound, else the newest].",
)
def check(
    paths: tuple[str, ...],
    output_format: str,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    exclude: tuple[str, ...],
    output: click.utils.LazyFile,
    statistics: bool,
    jobs: int | None,
    all_scripts: bool,
    target_version: str | None,
) -> None:
    """Check Python files and folders for multiprocessing and freezing pitfalls.

    Silence one line with `# noqa: QC003` (or a bare `# noqa`). Rules: docs/rules/.
    """
    try:
        grammar_version(target_version, None)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--target-version") from None
    report = check_paths(
        paths,
        select=select,
        ignore=ignore,
        exclude=exclude,
        jobs=available_cpus() if jobs is None else jobs,
        all_scripts=all_scripts,
        target_version=target_version,
    )
    if output_format == "json":
        output.write(format_json(report.findings))
    elif output_format == "sarif":
        output.write(format_sarif(report.findings))
    else:
        output.write(format_text(report.findings))
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    if statistics or (output_format == "text" and report.findings and sys.stderr.isatty()):
        counts: dict[str, int] = {}
        for finding in report.findings:
            counts[finding.code] = counts.get(finding.code, 0) + 1
        for code, count in sorted(counts.items()):
            click.echo(f"{count:5d}  {code}", err=True)
        click.echo(f"{len(report.findings)} finding(s) in {report.files} file(s)", err=True)
    if report.errors:
        sys.exit(2)
    sys.exit(1 if report.findings else 0)
