"""How a diverted child process ends: its real job, then ``os._exit`` right there."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import NoReturn

logger = logging.getLogger("qtcompute.freeze")


def run_and_exit(function: object, argument: object) -> NoReturn:
    """Run the child's real job, then end the process right here.

    ``os._exit`` instead of ``SystemExit``: the app's frames are below us, and a ``SystemExit``
    unwinding through them could be swallowed by a bare ``except:`` in the app's code (common
    in queue-reading loops: ``except: continue``) and let the worker carry on as a second copy
    of the app.
    """
    code = 0
    try:
        function(argument)  # type: ignore[operator]
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        logger.exception("diverted child process %d failed", os.getpid())
        code = 1
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    logging.shutdown()
    os._exit(code)
