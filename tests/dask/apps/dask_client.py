"""A frozen cluster client: connects to the scheduler given on its command line (or, as Dask's
own clients do, in ``DASK_SCHEDULER_ADDRESS``: how ``qtcompute build``'s smoke runs reach the
test's cluster), runs a task of its own ``__main__`` there (cloudpickled by value), and prints
the outcome as JSON."""

import json
import os
import sys

import qtcompute
from qtcompute.dask.client import DaskPool  # a static import: PyInstaller bundles distributed


def triple(x):
    qtcompute.report_progress("tripling")
    return 3 * x


def fail():
    raise KeyError("from the cluster")


def main() -> int:
    address = sys.argv[1] if len(sys.argv) > 1 else os.environ["DASK_SCHEDULER_ADDRESS"]
    with DaskPool(address, connect_timeout=30) as pool:
        progress = []
        result = pool.schedule(triple, (14,), on_progress=progress.append).result(timeout=120)
        try:
            pool.submit(fail).result(timeout=120)
            error = None
        except KeyError as exc:
            error = [type(exc).__name__, str(exc), "in fail" in str(exc.__cause__)]
    print(json.dumps({"result": result, "progress": progress, "error": error}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(qtcompute.run(main))
