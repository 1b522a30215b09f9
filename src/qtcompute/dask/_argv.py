"""``--cluster ADDRESS`` and ``--local-cluster N`` for an app's command line (the demos use it).

Parsing needs no Dask: an app started without either option never imports ``distributed``.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

CLUSTER_HELP = """\
  --cluster ADDRESS    run the tasks on the Dask cluster whose scheduler is at ADDRESS
                       (for example tcp://10.0.0.5:8786; see docs/dask.md)
  --local-cluster N    run them on a Dask LocalCluster of N worker processes started here"""


def pool_from_argv(
    argv: Sequence[str], default: Callable[[], Executor]
) -> tuple[Executor, list[str]]:
    """The executor the command line asks for, and the arguments left for Qt.

    ``--cluster ADDRESS`` gives a :class:`~qtcompute.dask.DaskPool` connected to that
    scheduler, ``--local-cluster N`` one on a new ``LocalCluster`` of N processes (owned by the
    pool), neither ``default()`` (the app's local ``Pool``). ``argv`` is ``sys.argv``: its first
    item stays first. Raises ``ValueError`` for a bad option value, and
    :class:`~qtcompute.dask.SchedulerUnreachableError` when no scheduler answers.
    """
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("--cluster", metavar="ADDRESS")
    parser.add_argument("--local-cluster", type=int, metavar="N")
    try:
        options, rest = parser.parse_known_args(list(argv[1:]))
    except argparse.ArgumentError as exc:
        raise ValueError(f"{exc}\n{CLUSTER_HELP}") from None
    remaining = [*argv[:1], *rest]
    if options.cluster is not None and options.local_cluster is not None:
        raise ValueError(f"give --cluster or --local-cluster, not both\n{CLUSTER_HELP}")
    if options.local_cluster is not None and options.local_cluster < 1:
        raise ValueError(f"--local-cluster needs at least 1 worker\n{CLUSTER_HELP}")
    if options.cluster is None and options.local_cluster is None:
        return default(), remaining
    # By name: PyInstaller must not see Dask in an app that merely offers the option.
    DaskPool = importlib.import_module("qtcompute.dask._pool").DaskPool

    if options.cluster is not None:
        return DaskPool(options.cluster), remaining
    return DaskPool.local(options.local_cluster), remaining
