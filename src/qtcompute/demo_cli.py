"""``qtcompute demo``: run one of the example apps.

Each demo is an example script, written the way a user of qtcompute writes an app, run here as
``__main__`` so that its spawned workers import it exactly as when it is started with
``python examples/NAME.py``. One source per demo: in a checkout the script is found in
``examples/``; an installed wheel carries a copy in ``qtcompute/_examples/``.

Adding a demo is one small function::

    @demo.command()
    def mandelbrot() -> None:
        \"\"\"The fractal explorer: tiles rendered by a pool of workers.\"\"\"
        _run_example("mandelbrot")
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

import click

_PACKAGE = Path(__file__).resolve().parent
_SEARCH = (
    _PACKAGE / "_examples",  # installed: shipped inside the wheel
    _PACKAGE.parent.parent / "examples",  # a checkout (editable install): src/qtcompute/../../
)

NO_DISPLAY = """\
No display found: DISPLAY and WAYLAND_DISPLAY are not set, so Qt cannot open a window.
Run it on a desktop session, or headless:
  QT_QPA_PLATFORM=offscreen qtcompute demo {name}     (no window to see; for smoke tests)
  xvfb-run -a qtcompute demo {name}                    (a virtual X display)"""


def example_path(name: str) -> Path:
    """Where the example script ``name`` is; raises ``FileNotFoundError`` if it is nowhere."""
    for folder in _SEARCH:
        candidate = folder / f"{name}.py"
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(folder) for folder in _SEARCH)
    raise FileNotFoundError(f"example {name!r} not found (looked in: {looked})")


def display_problem(environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """True on Linux/BSD when Qt would find no display (and no platform plugin was chosen)."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return False
    return not any(env.get(key) for key in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def _run_example(name: str, args: tuple[str, ...] = ()) -> None:
    if display_problem():
        raise click.ClickException(NO_DISPLAY.format(name=name))
    try:
        path = example_path(name)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        import qtpy  # noqa: F401  (a missing binding gives a hint, not a traceback)
    except ImportError as exc:  # qtpy raises its own ImportError subclass with no binding
        raise click.ClickException(
            f"`qtcompute demo {name}` needs a Qt binding: {exc}\n"
            "  Install one with: pip install 'qtcompute[pyqt5]'  (or 'qtcompute[pyside6]')"
        ) from exc
    saved_argv = sys.argv
    sys.argv = [str(path), *args]
    try:
        # As __main__: its `if __name__ == "__main__"` block runs (qtcompute.run(main)), and
        # spawned workers re-import the same file as __mp_main__ to find its task functions.
        runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = saved_argv


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def demo() -> None:
    """Run a demo app (the scripts in examples/, as a user of qtcompute would write them)."""


@demo.command(context_settings={"ignore_unknown_options": True})
@click.argument("qt_args", nargs=-1, type=click.UNPROCESSED)
def adder(qt_args: tuple[str, ...]) -> None:
    """The seed's addition calculator: the sum is computed in a worker process."""
    _run_example("adder", qt_args)


@demo.command(context_settings={"ignore_unknown_options": True})
@click.argument("qt_args", nargs=-1, type=click.UNPROCESSED)
def mandelbrot(qt_args: tuple[str, ...]) -> None:
    """The fractal explorer: tiles rendered by a pool of workers (wheel: zoom, drag: pan)."""
    _run_example("mandelbrot", qt_args)
