"""What one module tells the whole-program analysis, small enough to send between processes.

A module is cut into *nodes*, pieces of code that run as a whole: each function and method, the
construction of each class (its ``__init__``, and ``run`` for a thread class), each main guard,
and the module body. A node records what it does itself (starts processes, calls
``freeze_support()`` or a qtcompute entry point, runs joblib on loky) and what it runs next: other
nodes of the same module, and dotted names of callables in other modules. ``_project.py`` links
the nodes of every module into one graph and walks it from the program's entry points.

What counts as "runs next" is generous on purpose (a missed edge hides the bug the project
analysis is for): a call, a class construction, a function connected to a signal, a ``target=``,
a function handed to an executor or a timer, a method called on an instance whose class is known.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from qtcompute.check import _knowledge as k
from qtcompute.check._analysis import Module, callee_text
from qtcompute.check._scopes import ClassInfo, FuncInfo, Scope, pos

MODULE_NODE = "<module>"
_CALLBACK_METHODS = frozenset(
    {"connect", "submit", "map", "apply_async", "run_in_executor", "singleShot", "start",
     "schedule", "call_soon", "call_later", "add_done_callback"}
)  # fmt: skip


@dataclass(frozen=True)
class Evidence:
    """A call that does something, and where: ``multiprocessing.Pool()`` at ``pkg/a.py:12``."""

    path: str
    line: int
    col: int
    text: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Node:
    line: int = 1  # where it is defined (an entry point is reported there)
    col: int = 1
    start: Evidence | None = None  # the first process start it makes itself
    freeze: Evidence | None = None  # freeze_support() or a qtcompute entry point
    entry: bool = False  # a qtcompute entry point (it also diverts loky's workers)
    joblib: Evidence | None = None  # joblib/loky process parallelism
    local: list[str] = field(default_factory=list)  # nodes of this module it runs
    external: list[str] = field(default_factory=list)  # absolute dotted names elsewhere


@dataclass
class ModuleSummary:
    path: str
    name: str
    qt: str | None  # the Qt package it imports, if any
    imports: list[str]  # absolute names of what it imports (modules, or names in them)
    aliases: dict[str, str]  # module-level names bound by imports -> absolute dotted name
    nodes: dict[str, Node]
    guards: list[tuple[int, int, str]]  # (line, col, node id) of each main guard

    def has_processes(self) -> bool:
        return any(n.start or n.joblib for n in self.nodes.values())


def absolute(qualname: str, module_name: str, is_package: bool) -> str:
    """``..util.f`` as imported by ``pkg.sub.mod`` is ``pkg.util.f``."""
    if not qualname.startswith("."):
        return qualname
    dots = len(qualname) - len(qualname.lstrip("."))
    parts = module_name.split(".")
    keep = len(parts) - dots + (1 if is_package else 0)
    base = ".".join(parts[: max(keep, 0)])
    rest = qualname[dots:]
    return f"{base}.{rest}".strip(".") if base else rest


class _Builder:
    def __init__(self, module: Module, name: str, is_package: bool, tops: frozenset[str] | None):
        self.m = module
        self.name = name
        self.is_package = is_package
        self.tops = tops
        self.processes = module.uses_processes
        self.ids: dict[object, str] = {}
        for func in module.functions:
            self.ids[func] = self._func_id(func)
        for cls in module.classes:
            self.ids[cls] = self._class_id(cls)

    # -- ids ----------------------------------------------------------------------------------

    def _func_id(self, func: FuncInfo) -> str:
        if func.parent is None and func.cls is not None and func.cls.outer.kind == "module":
            return f"{func.cls.name}.{func.name}"
        if func.parent is None and func.cls is None and func.name != "<lambda>":
            return func.name
        return f"{func.name}@{func.node.lineno}:{func.node.col_offset}"

    def _class_id(self, cls: ClassInfo) -> str:
        if cls.outer.kind == "module":
            return cls.name
        return f"{cls.name}@{cls.node.lineno}"

    # -- edges --------------------------------------------------------------------------------

    def _absolute(self, qualname: str | None) -> str | None:
        if not qualname or qualname.startswith("builtins."):
            return None
        full = absolute(qualname, self.name, self.is_package)
        if self.tops is not None and full.partition(".")[0] not in self.tops:
            return None
        return full

    def _target(self, expr: ast.expr, scope: Scope, at: tuple[int, int], node: Node) -> None:
        """An expression that names something run later: add it as an edge."""
        m = self.m
        func = m.function_ref(expr, scope, at)
        if func is not None:
            node.local.append(self.ids[func])
            return
        cls = m.class_ref(expr, scope, at)
        if cls is not None:
            node.local.append(self.ids[cls])
            return
        if isinstance(expr, ast.Attribute):
            owner = m.instance_class(expr.value, scope, at)
            if isinstance(owner, str):
                owner = self._absolute(owner)
            if isinstance(owner, ClassInfo):
                method = m.method(owner, expr.attr)
                if method is not None:
                    node.local.append(self.ids[method])
                    return
            elif isinstance(owner, str):
                node.external.append(f"{owner}.{expr.attr}")
                return
        name = self._absolute(m.qualname(expr, scope, at))
        if name is not None:
            node.external.append(name)

    def _call(self, call: ast.Call, node: Node) -> None:
        m = self.m
        if self.processes:  # nothing else can start processes or call freeze_support()
            if node.start is None and m.starts_processes(call):
                node.start = self.evidence(call)
            how = m.freeze_call(call)
            if how and node.freeze is None:
                node.freeze = self.evidence(call)
            if how == "entry":
                node.entry = True
            if node.joblib is None and joblib_call(m, call):
                node.joblib = self.evidence(call)
        scope, at = m.scope_of(call), pos(call)
        self._target(call.func, scope, at, node)
        for callee in m.callees(call):  # qtcompute.run(main) runs main
            node.local.append(self.ids[callee])
        func = call.func
        keywords = [kw.value for kw in call.keywords if kw.arg in ("target", "fn", "func")]
        callbacks = (
            call.args[:2]
            if isinstance(func, ast.Attribute) and (func.attr in _CALLBACK_METHODS)
            else []
        )
        for expr in [*keywords, *callbacks]:
            self._target(expr, scope, at, node)
        for arg in call.args:  # a function of this module handed to anything is run by it
            target = m.function_ref(arg, scope, at)
            if target is not None:
                node.local.append(self.ids[target])

    def evidence(self, call: ast.Call) -> Evidence:
        return Evidence(self.m.path, call.lineno, call.col_offset + 1, callee_text(call))

    # -- nodes --------------------------------------------------------------------------------

    def function_node(self, func: FuncInfo) -> Node:
        node = Node(func.node.lineno, func.node.col_offset + 1)
        if self.m.is_entry_function(func):
            node.entry = True
            node.freeze = Evidence(self.m.path, func.node.lineno, 1, "@qtcompute.main")
        for call in func.calls:
            self._call(call, node)
        return node

    def class_node(self, cls: ClassInfo) -> Node:
        node = Node()
        for name in ("__init__", "__post_init__", "run"):
            if name == "run" and not self.m.is_thread_class(cls):
                continue
            method = self.m.method(cls, name)
            if method is not None:
                node.local.append(self.ids[method])
        return node

    def calls_node(self, calls: list[ast.Call]) -> Node:
        node = Node()
        for call in calls:
            self._call(call, node)
        return node


def summarize(
    module: Module, name: str, is_package: bool = False, tops: frozenset[str] | None = None
) -> ModuleSummary:
    """The summary of an analysed module (``tops``: the top-level names worth recording)."""
    builder = _Builder(module, name, is_package, tops)
    nodes: dict[str, Node] = {}
    for func in module.functions:
        nodes[builder.ids[func]] = builder.function_node(func)
    for cls in module.classes:
        nodes[builder.ids[cls]] = builder.class_node(cls)
    nodes[MODULE_NODE] = builder.calls_node(module.import_calls)
    guards: list[tuple[int, int, str]] = []
    for guard, _ in module.guards:
        first, last = guard.lineno, guard.end_lineno or guard.lineno
        inside = [c for c in module.guard_calls if first <= c.lineno <= last]
        node_id = f"<guard:{guard.lineno}>"
        nodes[node_id] = builder.calls_node(inside)
        guards.append((guard.lineno, guard.col_offset + 1, node_id))
    aliases: dict[str, str] = {}
    imports: list[str] = []
    qt: str | None = None
    for bindings in module.all_bindings():
        for binding in bindings:
            if binding.how != "import" or not binding.qualname:
                continue
            full = absolute(binding.qualname, name, is_package)
            imports.append(full)
            top = full.partition(".")[0]
            if top in k.QT_APP_PACKAGES and qt is None:
                qt = top
            if binding.scope.kind == "module":
                aliases[binding.name] = full
    return ModuleSummary(module.path, name, qt, imports, aliases, nodes, guards)


def joblib_call(module: Module, call: ast.Call) -> bool:
    """``Parallel(n_jobs=2)`` on the default (loky) back end, or a loky executor."""
    qualname = module.qualname_at(call.func, call)
    if qualname in k.LOKY_EXECUTORS:
        return True
    if qualname in k.JOBLIB_BACKEND_CONTEXTS:  # with parallel_backend("loky"): ...
        backend = next((kw.value for kw in call.keywords if kw.arg == "backend"), None)
        backend = call.args[0] if backend is None and call.args else backend
        return isinstance(backend, ast.Constant) and backend.value == "loky"
    if qualname not in k.JOBLIB_PARALLEL:
        return False
    if any(kw.arg is None for kw in call.keywords) or any(
        isinstance(a, ast.Starred) for a in call.args
    ):
        return False  # ``**kwargs`` may name another back end
    values = {kw.arg: kw.value for kw in call.keywords}
    n_jobs = values.get("n_jobs", call.args[0] if call.args else None)
    if n_jobs is None or (isinstance(n_jobs, ast.Constant) and n_jobs.value in (1, None)):
        return False  # one job runs in this process
    backend = values.get("backend", call.args[1] if len(call.args) > 1 else None)
    if isinstance(backend, ast.Constant) and str(backend.value) in k.JOBLIB_NON_LOKY:
        return False
    if backend is not None and not isinstance(backend, ast.Constant):
        return False  # a back-end object or a variable: not known to be loky
    for keyword in ("prefer", "require"):
        value = values.get(keyword)
        if isinstance(value, ast.Constant) and value.value in ("threads", "sharedmem"):
            return False
    return True
