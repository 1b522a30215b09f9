"""Put on PYTHONPATH by ``qtcompute build`` for the run of the app from source (see freeze/_trace
and freeze/_smoke): every Python process of the run imports it at start-up, the app's and each
spawned worker's. It then hands over to the next ``sitecustomize`` on ``sys.path``, if any."""

import importlib.util
import os
import sys

if os.environ.get("QTCOMPUTE_SMOKE"):
    from qtcompute.freeze._smoke import activate

    activate()
if os.environ.get("QTCOMPUTE_TRACE"):
    from qtcompute.freeze._trace import start

    start()


def _chain() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        if os.path.abspath(entry or ".") == here:
            continue
        candidate = os.path.join(entry or ".", "sitecustomize.py")
        if os.path.isfile(candidate):
            spec = importlib.util.spec_from_file_location("_next_sitecustomize", candidate)
            if spec is not None and spec.loader is not None:
                spec.loader.exec_module(importlib.util.module_from_spec(spec))
            return


_chain()
