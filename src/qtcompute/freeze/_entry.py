"""The entry point of an app: ``qtcompute.run(main)`` and ``@qtcompute.main``."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, overload

from qtcompute.freeze import _guard, _selftest
from qtcompute.freeze._argv import Role, role_of
from qtcompute.freeze._divert import divert_late, is_frozen, logger, validate_worker_argv
from qtcompute.freeze._errors import FreezeError, RunawaySpawnError
from qtcompute.freeze._guard import check_not_runaway, ensure_std_fds
from qtcompute.freeze._loky import divert_loky_child

if TYPE_CHECKING:
    from qtcompute.engine import Pool

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def freeze_support() -> None:
    """``multiprocessing.freeze_support()``, with the worker's arguments validated first.

    Calls the *module-level* function, the one PyInstaller's runtime hook patches (a context's
    ``get_context(...).freeze_support`` is the unpatched original). In a frozen child it never
    returns; anywhere else it does nothing.

    Frozen, a child started by loky (joblib's back end) is diverted first: it becomes the
    loky worker or resource tracker it was started as (see ``_loky``).

    Raises:
        MalformedWorkerArgumentsError: a frozen process was given ``--multiprocessing-fork``
            (or loky's worker arguments) with arguments multiprocessing (or loky) did not write.
    """
    if is_frozen():
        divert_loky_child()  # loky's children, which multiprocessing's freeze_support misses
        if role_of(sys.argv) is Role.WORKER:
            validate_worker_argv(sys.argv)
    multiprocessing.freeze_support()
    # Helpers of freezers without PyInstaller's patch, and workers they did not divert.
    divert_late("qtcompute.run()")


def before_pool_start(selftest_pool: type[Pool] | None = None) -> None:
    """Called first thing by a pool (``qtcompute.Pool()``, ``DaskPool.local()``): freeze safety
    for apps without ``run()`` (see :func:`qtcompute.freeze._guard.before_pool_start`).

    ``selftest_pool``: the pool class the self-test (``QTCOMPUTE_SELFTEST``) runs on;
    ``qtcompute.Pool`` by default.
    """
    _guard.before_pool_start(selftest_pool or _engine_pool())


def _engine_pool() -> type[Pool]:
    """``qtcompute.Pool``, imported at call time: importing the entry point must not import the
    engine."""
    from qtcompute.engine import Pool

    return Pool


def run(main_fn: Callable[[], T], *, start_method: str = "spawn") -> T:
    """Run an app's ``main`` safely, frozen or not; return what it returns.

    In order: ``multiprocessing.freeze_support()`` (a frozen worker or helper process becomes
    what it was started for and exits here), the runaway guard, the start method, then
    ``main_fn()``. Use it as the only statement of the script's ``__main__`` block::

        if __name__ == "__main__":
            sys.exit(qtcompute.run(main))

    This is the app's entry point, so it is the one place that exits instead of raising: on a
    malformed worker command line (exit 2) or a runaway (exit 3) it prints one line to stderr
    and raises ``SystemExit``. In self-test mode (``QTCOMPUTE_SELFTEST``, used by
    ``qtcompute build``) it runs the self-test instead of ``main_fn`` and exits with its result.
    """
    try:
        freeze_support()
        if getattr(multiprocessing.current_process(), "_inheriting", False):
            raise RunawaySpawnError(
                "refusing to start the app: qtcompute.run() was called while a worker process "
                "was importing the main module. Call it under `if __name__ == '__main__':` "
                "(or use @qtcompute.main)."
            )
        check_not_runaway("the app")
    except FreezeError as exc:
        ensure_std_fds()
        _refuse(exc)
    ensure_std_fds()
    if multiprocessing.get_start_method(allow_none=True) != start_method:
        multiprocessing.set_start_method(start_method, force=True)
    path = _selftest.selftest_requested()
    if path is not None:
        raise SystemExit(_selftest.run_selftest(path, _engine_pool()))
    return main_fn()


@overload
def main(fn: F) -> F: ...
@overload
def main(*, start_method: str = "spawn") -> Callable[[F], F]: ...
def main(fn: Any = None, *, start_method: str = "spawn") -> Any:
    """Decorator: make a function the app's entry point.

    When the decorated function's module is the program being run (``__name__ ==
    "__main__"``), the function runs at once through :func:`run` and the process exits with
    what it returns (``sys.exit`` semantics). Imported from elsewhere, or imported as
    ``__mp_main__`` by a spawned worker, it only returns the function, unchanged. Because it
    runs at the decoration, decorate the *last* definition in the script::

        @qtcompute.main
        def main() -> int:
            app = QApplication(sys.argv)
            ...
            return app.exec_()
    """

    def decorate(function: F) -> F:
        if function.__module__ == "__main__":
            raise SystemExit(run(function, start_method=start_method))
        return function

    return decorate(fn) if fn is not None else decorate


def _refuse(exc: FreezeError) -> NoReturn:
    """End the app's process with one line on stderr (if there is one) and the error's code."""
    logger.debug("refusing to run", exc_info=exc)
    if sys.stderr is not None:
        print(f"{os.path.basename(sys.argv[0] or 'app')}: error: {exc}", file=sys.stderr)
    raise SystemExit(exc.exit_code)
