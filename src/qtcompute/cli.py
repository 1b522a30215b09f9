"""The ``qtcompute`` command line.

Each area owns its subcommand in its own ``_cli.py`` module; this group only knows their names and
imports a subcommand when it is run, so ``qtcompute check`` never pays for importing PyInstaller
or Qt. Only this layer turns errors into exit codes: library code raises.
"""

from __future__ import annotations

import importlib
import logging
import os

import click

# subcommand name -> (module, attribute of a click command, one-line help)
_SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": (
        "qtcompute.demo_cli",
        "demo",
        "Run a demo app: the calculator or the fractal explorer.",
    ),
    "check": ("qtcompute.check._cli", "check", "Find multiprocessing and freezing pitfalls."),
    "build": (
        "qtcompute.bundle._cli",
        "build",
        "Freeze an app with PyInstaller and prove it runs.",
    ),
}


class _LazyGroup(click.Group):
    """A group whose subcommands are imported only when used (click's documented pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = _SUBCOMMANDS.get(cmd_name)
        if spec is None:
            return None
        module_name, attribute, help_text = spec
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            return _unavailable(cmd_name, help_text, exc)
        return getattr(module, attribute)


def _unavailable(name: str, help_text: str, exc: ModuleNotFoundError) -> click.Command:
    """A stand-in command that explains which optional dependency is missing."""

    @click.command(name=name, help=help_text, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        extra = {"PyInstaller": "build", "qtpy": "pyqt5", "PyQt5": "pyqt5"}.get(exc.name or "", "")
        hint = f"pip install 'qtcompute[{extra}]'" if extra else f"pip install {exc.name}"
        raise click.ClickException(
            f"`qtcompute {name}` needs the module {exc.name!r}, which is not installed.\n"
            f"  Install it with: {hint}"
        )

    return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="More log output (-v info, -vv debug). Also QTCOMPUTE_LOG_LEVEL=DEBUG.",
)
@click.version_option(package_name="qtcompute")
def cli(verbose: int) -> None:
    """qtcompute: Qt apps with worker processes, frozen so they work the first time."""
    level_name = os.environ.get("QTCOMPUTE_LOG_LEVEL")
    if verbose:
        level = logging.DEBUG if verbose > 1 else logging.INFO
    elif level_name:
        level = getattr(logging, level_name.upper(), logging.WARNING)
    else:
        level = logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
