"""``qtcompute demo``: run one of the example apps.

Each demo is an example script, written the way a user of qtcompute writes an app, run here as
``__main__`` so that its spawned workers import it exactly as when it is started with
``python examples/NAME.py``. One source per demo: in a checkout the script is found in
``examples/``; an installed wheel carries a copy in ``qtcompute/_examples/``.

The binding is chosen the way every qtcompute app chooses it: ``QT_API`` (read by qtpy), which
``--binding`` sets for the demo and the workers it spawns. qtpy falls back to another installed
binding when the one asked for is missing; the demo then says so in one line on stderr.

Adding a demo is one small function::

    @demo.command()
    @binding_option
    def mandelbrot(binding: str | None) -> None:
        \"\"\"The fractal explorer: tiles rendered by a pool of workers.\"\"\"
        _run_example("mandelbrot", binding=binding)
"""

from __future__ import annotations

import os
import runpy
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

# --binding value -> the binding qtpy names it (qtpy.API_NAME); the ones `make test` runs.
BINDINGS = {"pyqt5": "PyQt5", "pyqt6": "PyQt6", "pyside6": "PySide6"}

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


def requested_binding(option: str | None, environ: Any = None) -> tuple[str | None, str]:
    """The binding asked for (``pyqt6``...) and how (``--binding pyqt6`` / ``QT_API=pyqt6``)."""
    env = os.environ if environ is None else environ
    if option:
        return option.lower(), f"--binding {option.lower()}"
    wanted = (env.get("QT_API") or "").lower()
    return (wanted, f"QT_API={wanted}") if wanted else (None, "")


def fallback_message(wanted: str | None, how: str, running: str) -> str | None:
    """The one start-up line when qtpy runs another binding than the one asked for, else None."""
    if wanted is None or BINDINGS.get(wanted, wanted).lower() == running.lower():
        return None
    name = BINDINGS.get(wanted, wanted)
    return (
        f"qtcompute demo: running on {running}, not {name} ({how}): {name} is not installed "
        f"or failed to import, so qtpy fell back. Install it: pip install 'qtcompute[{wanted}]'"
    )


def _import_binding(name: str, option: str | None) -> str:
    """Import qtpy on the binding asked for (sets ``QT_API`` for workers too); return its name."""
    wanted, how = requested_binding(option)
    if option:
        os.environ["QT_API"] = wanted or option
    try:
        with warnings.catch_warnings():
            # qtpy's own fallback warning; fallback_message() below says what to do.
            warnings.simplefilter("ignore")
            import qtpy
    except ImportError as exc:  # qtpy raises its own ImportError subclass with no binding
        raise click.ClickException(
            f"`qtcompute demo {name}` needs a Qt binding: {exc}\n"
            f"  Install one with: pip install 'qtcompute[{wanted or 'pyqt5'}]'  "
            "(or 'qtcompute[pyside6]', 'qtcompute[pyqt6]')"
        ) from exc
    running: str = qtpy.API_NAME
    message = fallback_message(wanted, how, running)
    if message:
        click.echo(message, err=True)
    return running


def _run_example(name: str, args: tuple[str, ...] = (), *, binding: str | None = None) -> None:
    if display_problem():
        raise click.ClickException(NO_DISPLAY.format(name=name))
    try:
        path = example_path(name)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    _import_binding(name, binding or _group_binding())
    saved_argv = sys.argv
    sys.argv = [str(path), *args]
    try:
        # As __main__: its `if __name__ == "__main__"` block runs (qtcompute.run(main)), and
        # spawned workers re-import the same file as __mp_main__ to find its task functions.
        runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = saved_argv


def binding_option(fn: F) -> F:
    """``--binding pyqt5|pyqt6|pyside6``, on the group and on each demo (the demo's wins)."""
    return click.option(
        "--binding",
        type=click.Choice(sorted(BINDINGS), case_sensitive=False),
        default=None,
        help="Qt binding to run on (sets QT_API). Default: QT_API, else qtpy's first installed.",
    )(fn)


def _group_binding() -> str | None:
    """``--binding`` given to the group (``qtcompute demo --binding pyqt6 adder``), if any."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.obj if ctx else None
    return obj.get("binding") if isinstance(obj, dict) else None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@binding_option
@click.pass_context
def demo(ctx: click.Context, binding: str | None) -> None:
    """Run a demo app (the scripts in examples/, as a user of qtcompute would write them)."""
    ctx.ensure_object(dict)["binding"] = binding


@demo.command(context_settings={"ignore_unknown_options": True})
@binding_option
@click.argument("qt_args", nargs=-1, type=click.UNPROCESSED)
def adder(binding: str | None, qt_args: tuple[str, ...]) -> None:
    """An addition calculator (examples/adder.py): the sum is computed in a worker process."""
    _run_example("adder", qt_args, binding=binding)


@demo.command(context_settings={"ignore_unknown_options": True})
@binding_option
@click.argument("qt_args", nargs=-1, type=click.UNPROCESSED)
def mandelbrot(binding: str | None, qt_args: tuple[str, ...]) -> None:
    """The fractal explorer: tiles rendered by a pool of workers (wheel: zoom, drag: pan)."""
    _run_example("mandelbrot", qt_args, binding=binding)
