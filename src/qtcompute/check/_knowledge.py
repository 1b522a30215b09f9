"""What the checker knows about the libraries it reasons about, by fully qualified name.

Every rule resolves names through the module's imports first (``import multiprocessing as mp``,
``from concurrent.futures import ProcessPoolExecutor``), so these tables list the canonical
dotted names only. Name-based guesses, used when a receiver cannot be resolved, live at the
bottom of this module and each rule's documentation says which ones it uses.
"""

from __future__ import annotations

import re

# What a value is, as far as the rules care. A ``Kind`` is a plain string so that tables stay
# readable; the set below is closed.
PROCESS = "process"  # a multiprocessing.Process, started by .start()
POOL = "pool"  # a pool whose workers start when it is created (multiprocessing.Pool, qtcompute)
EXECUTOR = "executor"  # a process pool that starts its workers on the first submit
THREADS = "threads"  # a thread pool: nothing is pickled, nothing is spawned
MANAGER = "manager"  # a multiprocessing manager (a server process)
CONTEXT = "context"  # a multiprocessing context from get_context()
QUEUE = "queue"  # a multiprocessing queue whose .get() blocks (what is put is pickled)
THREAD_QUEUE = "thread_queue"  # a queue.Queue: shared between threads, nothing is pickled
THREAD = "thread"  # a threading.Thread or a QThread: .join()/.wait() block
PIPE = "pipe"  # the (conn1, conn2) pair returned by Pipe()
CONNECTION = "connection"  # one end of a pipe: .recv() blocks
FUTURE = "future"  # a Future, AsyncResult or TaskFuture: .result()/.get() block
QT_OBJECT = "qt_object"  # an instance of a Qt class that cannot be pickled
FUNCTION = "function"

PROCESS_CLASSES = frozenset(
    {
        "multiprocessing.Process",
        "multiprocessing.process.BaseProcess",
        "multiprocessing.context.Process",
        "multiprocessing.context.SpawnProcess",
        "multiprocessing.context.ForkProcess",
        "multiprocessing.context.ForkServerProcess",
    }
)
CONSTRUCTORS: dict[str, str] = {
    **dict.fromkeys(PROCESS_CLASSES, PROCESS),
    "multiprocessing.Pool": POOL,
    "multiprocessing.pool.Pool": POOL,
    "qtcompute.Pool": POOL,
    "qtcompute.engine.Pool": POOL,
    "concurrent.futures.ProcessPoolExecutor": EXECUTOR,
    "concurrent.futures.process.ProcessPoolExecutor": EXECUTOR,
    "loky.ProcessPoolExecutor": EXECUTOR,
    "loky.get_reusable_executor": EXECUTOR,
    "pebble.ProcessPool": EXECUTOR,
    "multiprocessing.pool.ThreadPool": THREADS,
    "multiprocessing.dummy.Pool": THREADS,
    "concurrent.futures.ThreadPoolExecutor": THREADS,
    "concurrent.futures.thread.ThreadPoolExecutor": THREADS,
    "pebble.ThreadPool": THREADS,
    "multiprocessing.Manager": MANAGER,
    "multiprocessing.managers.SyncManager": MANAGER,
    "multiprocessing.managers.BaseManager": MANAGER,
    "multiprocessing.get_context": CONTEXT,
    "multiprocessing.context.SpawnContext": CONTEXT,
    "multiprocessing.context.ForkContext": CONTEXT,
    "multiprocessing.context.ForkServerContext": CONTEXT,
    "multiprocessing.Queue": QUEUE,
    "multiprocessing.SimpleQueue": QUEUE,
    "multiprocessing.JoinableQueue": QUEUE,
    "multiprocessing.queues.Queue": QUEUE,
    "multiprocessing.queues.SimpleQueue": QUEUE,
    "multiprocessing.queues.JoinableQueue": QUEUE,
    "queue.Queue": THREAD_QUEUE,
    "queue.SimpleQueue": THREAD_QUEUE,
    "queue.LifoQueue": THREAD_QUEUE,
    "queue.PriorityQueue": THREAD_QUEUE,
    "threading.Thread": THREAD,
    "threading.Timer": THREAD,
    "multiprocessing.Pipe": PIPE,
    "multiprocessing.connection.Pipe": PIPE,
    "multiprocessing.connection.Client": CONNECTION,
}

# Constructors that start processes by themselves (the others start on .start() or a submit).
STARTS_WHEN_CREATED = frozenset({"multiprocessing.Pool", "multiprocessing.pool.Pool",
                                 "qtcompute.Pool", "qtcompute.engine.Pool",
                                 "multiprocessing.Manager"})  # fmt: skip

# Methods of a context (and of the multiprocessing module itself) and what they return.
CONTEXT_METHODS = {
    "Process": PROCESS,
    "Pool": POOL,
    "Manager": MANAGER,
    "Queue": QUEUE,
    "SimpleQueue": QUEUE,
    "JoinableQueue": QUEUE,
    "Pipe": PIPE,
}
MANAGER_METHODS = {"Queue": QUEUE, "JoinableQueue": QUEUE}

# Methods that send a function (first argument) to a worker process, on a POOL or EXECUTOR.
SEND_METHODS = frozenset(
    {
        "submit",
        "schedule",
        "apply",
        "apply_async",
        "map",
        "map_async",
        "imap",
        "imap_unordered",
        "starmap",
        "starmap_async",
    }
)
# Methods of a thread pool (or an event loop) that run a function in another thread.
THREAD_SEND_METHODS = frozenset({"submit", "map", "apply_async", "run_in_executor"})
# Of SEND_METHODS, the ones that return a future-like object.
FUTURE_METHODS = frozenset({"submit", "schedule", "apply_async", "map_async", "starmap_async"})

FREEZE_SUPPORT = frozenset(
    {"multiprocessing.freeze_support", "multiprocessing.spawn.freeze_support"}
)
# joblib's process parallelism runs on loky, whose workers start by running sys.executable with
# loky's own arguments: in a frozen app that is the app itself, and freeze_support() never sees it.
JOBLIB_PARALLEL = frozenset({"joblib.Parallel", "joblib.parallel.Parallel",
                             "sklearn.utils.parallel.Parallel"})  # fmt: skip
LOKY_EXECUTORS = frozenset({"loky.get_reusable_executor", "loky.ProcessPoolExecutor",
                            "joblib.externals.loky.get_reusable_executor",
                            "joblib.externals.loky.ProcessPoolExecutor"})  # fmt: skip
JOBLIB_BACKEND_CONTEXTS = frozenset({"joblib.parallel_backend", "joblib.parallel_config",
                                     "joblib.parallel.parallel_backend",
                                     "joblib.parallel.parallel_config",
                                     "sklearn.utils.parallel_backend"})  # fmt: skip
# back ends of joblib that run in this process (threads) or through multiprocessing itself
JOBLIB_NON_LOKY = frozenset({"threading", "sequential", "multiprocessing", "dask", "qtcompute"})

ENTRY_POINTS = frozenset({"qtcompute.run", "qtcompute.freeze.run"})
ENTRY_DECORATORS = frozenset({"qtcompute.main", "qtcompute.freeze.main"})
SET_START_METHOD = frozenset({"multiprocessing.set_start_method"})

QT_PACKAGES = frozenset({"PyQt5", "PyQt6", "PySide2", "PySide6", "qtpy"})
# importing one of these makes a program a Qt app (freezing it is plausible)
QT_APP_PACKAGES = QT_PACKAGES | {"pyqtgraph", "superqt", "qtawesome", "PyQt4", "PySide"}
QTHREAD_CLASSES = frozenset({"QThread"})  # last name, under any Qt package
# Qt value types that PyQt and PySide can pickle; every other Qt class wraps a C++ object that
# cannot cross a process boundary.
PICKLABLE_QT = frozenset(
    {
        "QByteArray",
        "QColor",
        "QDate",
        "QDateTime",
        "QKeySequence",
        "QLine",
        "QLineF",
        "QMatrix",
        "QPoint",
        "QPointF",
        "QPolygon",
        "QPolygonF",
        "QRect",
        "QRectF",
        "QSize",
        "QSizeF",
        "QTime",
        "QTransform",
    }
)
SLOT_DECORATORS = frozenset({"pyqtSlot", "Slot"})
BUILTIN_BROAD_EXCEPTIONS = frozenset({"builtins.Exception", "builtins.BaseException"})

_QT_CLASS_NAME = re.compile(r"^Q[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$")


def constructor_kind(qualname: str) -> str | None:
    """The kind of the value that calling ``qualname`` returns, or None if unknown."""
    kind = CONSTRUCTORS.get(qualname)
    if kind is not None:
        return kind
    head, _, last = qualname.rpartition(".")
    if head.startswith("qtcompute.engine") and last == "Pool":
        return POOL
    if head.startswith("qtcompute.qt") and last[:1].isupper():
        # The Qt bridge (qtcompute.qt) hands functions to a pool: treat its classes as executors.
        return EXECUTOR
    if is_thread_class(qualname):
        return THREAD
    if is_qt_class(qualname):
        return QT_OBJECT
    return None


_WIDGET_NAME = re.compile(
    r"^Q\w*(Widget|Window|Dialog|Frame|View|Button|Label|Edit|Box|Bar|Area|Menu|Splitter|Wizard)$"
)


def is_widget_class(qualname: str) -> bool:
    top, last = qualname.partition(".")[0], qualname.rpartition(".")[2]
    return top in QT_APP_PACKAGES and bool(_WIDGET_NAME.match(last))


def is_thread_class(qualname: str) -> bool:
    if qualname == "threading.Thread":
        return True
    top, last = qualname.partition(".")[0], qualname.rpartition(".")[2]
    return top in QT_PACKAGES and last in QTHREAD_CLASSES


def is_qt_class(qualname: str) -> bool:
    """True for a Qt class whose instances cannot be pickled (``PyQt5.QtWidgets.QLabel``)."""
    top = qualname.partition(".")[0]
    last = qualname.rpartition(".")[2]
    return top in QT_PACKAGES and bool(_QT_CLASS_NAME.match(last)) and last not in PICKLABLE_QT


def is_entry_point(qualname: str) -> bool:
    """``qtcompute.run`` and its re-exports: they call freeze_support() first."""
    return qualname in ENTRY_POINTS or (
        qualname.startswith("qtcompute.freeze.") and qualname.endswith(".run")
    )


def is_slot_decorator(qualname: str) -> bool:
    top = qualname.partition(".")[0]
    return top in QT_PACKAGES and qualname.rpartition(".")[2] in SLOT_DECORATORS


# --- Name-based guesses, for receivers that no assignment in the file explains -------------------
# A receiver whose last name matches is taken to be a process pool (QC006, QC007) ...
PROCESS_POOL_NAME = re.compile(r"(?i)(process|proc|mp)_?(pool|executor)")
# ... a queue (QC008, only for .get()) ...
QUEUE_NAME = re.compile(r"(?i)(queue|_q)$")
# ... a future (QC008, only for .result()) ...
FUTURE_NAME = re.compile(r"(?i)(future|fut)$")
# ... a pipe end (QC008, only for .recv()) ...
CONNECTION_NAME = re.compile(r"(?i)(conn|connection|pipe)$")
# ... or a process (QC008, only for .join()).
PROCESS_NAME = re.compile(r"(?i)(process|proc)$")
