"""Questions the rules ask about one module: what a name is, what a call starts, who calls whom.

Built on the tables of ``_scopes.py``. Everything stays inside the file being checked: a
function imported from another module is opaque, so the rules miss rather than guess.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterator
from functools import cached_property

from qtcompute.check import _knowledge as k
from qtcompute.check._scopes import Binding, ClassInfo, FuncInfo, Pos, Recorder, Scope, pos
from qtcompute.check._text import callee_text, calls_in, found_name, short

__all__ = ["PROCESS_MODULES", "Module", "callee_text", "calls_in", "found_name", "short"]

_BUILTINS = frozenset(dir(builtins))
# imports that make a module "use processes" (QC001-QC007 look at no other module)
PROCESS_MODULES = ("multiprocessing", "concurrent", "qtcompute", "loky", "pebble", "joblib")
_MAX_DEPTH = 12  # how far a value is followed through assignments


class Module:
    """The analysis of one parsed module."""

    def __init__(self, tree: ast.Module, path: str = "<unknown>") -> None:
        self.tree = tree
        self.path = path
        self._r = Recorder()
        self._r.run(tree)
        self.functions = self._r.functions
        self.classes = self._r.classes
        self.calls = self._r.calls
        self.import_calls = self._r.import_calls
        self.guard_calls = self._r.guard_calls
        self.guards = self._r.guards
        self._reach_memo: dict[str, dict[FuncInfo, tuple[ast.Call, FuncInfo] | None]] = {}
        self._class_memo: dict[tuple[str, ClassInfo], bool] = {}
        self._callees_memo: dict[ast.Call, list[FuncInfo]] = {}
        self._param_memo: dict[tuple[FuncInfo, str], str | None] = {}

    def release(self) -> None:
        """Drop the tables (see :meth:`Recorder.release`); the module cannot be asked again."""
        self._r.release()
        self._reach_memo.clear()
        self._class_memo.clear()
        self._callees_memo.clear()
        self._param_memo.clear()
        for name in ("gui_functions", "off_gui_functions", "callers"):
            self.__dict__.pop(name, None)

    @cached_property
    def uses_processes(self) -> bool:
        """Whether the module imports anything that can start processes."""
        for bindings in self.all_bindings():
            for b in bindings:
                if b.how == "import" and b.qualname and b.qualname.startswith(PROCESS_MODULES):
                    return True
        return False

    def all_bindings(self) -> Iterator[list[Binding]]:
        seen = {self._r.module_scope}
        yield from self._r.module_scope.bindings.values()
        for func in self.functions:
            if func.scope not in seen:
                seen.add(func.scope)
                yield from func.scope.bindings.values()

    # -- names ----------------------------------------------------------------------------------

    def scope_of(self, node: ast.AST) -> Scope:
        return self._r.scope_of.get(node, self._r.module_scope)

    def func_of(self, call: ast.Call) -> FuncInfo | None:
        return self._r.func_of.get(call)

    def resolve(self, name: str, scope: Scope, at: Pos) -> Binding | None:
        """The binding ``name`` refers to at position ``at`` in ``scope`` (None: a builtin)."""
        current: Scope | None = scope
        deferred = False  # in an enclosing scope, the latest binding wins: functions run later
        while current is not None:
            if current.kind == "class" and current is not scope:
                current = current.parent
                continue
            bindings = current.bindings.get(name)
            if bindings:
                if deferred:
                    return bindings[-1]
                best = None
                for binding in bindings:
                    if binding.end <= at and (best is None or binding.end >= best.end):
                        best = binding
                return best
            if current.kind == "function":
                deferred = True
            current = current.parent
        return None

    def qualname(self, expr: ast.expr, scope: Scope, at: Pos, depth: int = 0) -> str | None:
        """``multiprocessing.Process`` for ``mp.Process`` after ``import multiprocessing as mp``."""
        if isinstance(expr, ast.Attribute):
            base = self.qualname(expr.value, scope, at, depth)
            return f"{base}.{expr.attr}" if base else None
        if not isinstance(expr, ast.Name):
            return None
        binding = self.resolve(expr.id, scope, at)
        if binding is None:
            return f"builtins.{expr.id}" if expr.id in _BUILTINS else None
        if binding.how == "import":
            return binding.qualname
        if (
            binding.how == "value"
            and isinstance(binding.value, (ast.Name, ast.Attribute))
            and depth < _MAX_DEPTH
        ):
            return self.qualname(binding.value, binding.scope, binding.start, depth + 1)
        return None

    def qualname_at(self, expr: ast.expr, node: ast.AST) -> str | None:
        return self.qualname(expr, self.scope_of(node), pos(node))

    # -- kinds ------------------------------------------------------------------------------------

    def kind_of(self, expr: ast.expr, scope: Scope, at: Pos, depth: int = 0) -> str | None:
        """What ``expr`` evaluates to, as one of the kinds of ``_knowledge``, or None."""
        if depth > _MAX_DEPTH:
            return None
        if isinstance(expr, ast.Call):
            return self._call_kind(expr, scope, at, depth)
        if isinstance(expr, ast.Name):
            binding = self.resolve(expr.id, scope, at)
            if binding is None:
                return None
            if binding.how == "value" and binding.value is not None:
                return self.kind_of(binding.value, binding.scope, binding.start, depth + 1)
            if binding.how == "unpack" and binding.value is not None:
                pair = self.kind_of(binding.value, binding.scope, binding.start, depth + 1)
                return k.CONNECTION if pair == k.PIPE else None
            if binding.how == "def":
                return k.FUNCTION
            if binding.how == "self" and binding.func is not None and binding.func.cls:
                return k.QT_OBJECT if self.is_qt_class(binding.func.cls) else None
            if binding.how == "param" and binding.func is not None:
                return self._param_kind(binding.func, binding.name, depth + 1)
            return None
        if isinstance(expr, ast.Attribute):
            cls = self.self_class(expr.value, scope, at)
            if cls is not None:
                kinds = {  # ``self.pool = None`` until it is created does not count
                    self.kind_of(value, value_scope, value_at, depth + 1)
                    for value, value_scope, value_at in cls.attrs.get(expr.attr, ())
                    if not (isinstance(value, ast.Constant) and value.value is None)
                }
                return kinds.pop() if len(kinds) == 1 else None
        return None

    def _param_kind(self, func: FuncInfo, name: str, depth: int) -> str | None:
        """The kind every call site of ``func`` in this file passes for parameter ``name``."""
        key = (func, name)
        if key not in self._param_memo:
            self._param_memo[key] = None  # a cycle of calls answers "unknown"
            self._param_memo[key] = self._param_kind_of(func, name, depth)
        return self._param_memo[key]

    def _param_kind_of(self, func: FuncInfo, name: str, depth: int) -> str | None:
        node = func.node
        if isinstance(node, ast.Lambda) or depth > _MAX_DEPTH:
            return None
        params = [a.arg for a in [*node.args.posonlyargs, *node.args.args]]
        if func.cls is not None and params:
            params = params[1:]  # self: the call sites do not pass it
        index = params.index(name) if name in params else None
        kinds = set()
        for call in self.callers.get(func, ()):
            value = next((kw.value for kw in call.keywords if kw.arg == name), None)
            if value is None and index is not None and index < len(call.args):
                if any(isinstance(a, ast.Starred) for a in call.args[: index + 1]):
                    return None
                value = call.args[index]
            if value is None:
                return None
            kinds.add(self.kind_of(value, self.scope_of(call), pos(call), depth + 1))
        return kinds.pop() if len(kinds) == 1 else None

    @cached_property
    def callers(self) -> dict[FuncInfo, list[ast.Call]]:
        """The call sites of each function of this file (a class call calls its ``__init__``)."""
        found: dict[FuncInfo, list[ast.Call]] = {}
        for call in self.calls:
            if k.is_entry_point(self.qualname_at(call.func, call) or ""):
                continue  # qtcompute.run(main) calls main() without these arguments
            for callee in self.callees(call):
                found.setdefault(callee, []).append(call)
        return found

    def _call_kind(self, call: ast.Call, scope: Scope, at: Pos, depth: int) -> str | None:
        func = call.func
        qualname = self.qualname(func, scope, at)
        if qualname:
            kind = k.constructor_kind(qualname)
            if kind is not None:
                return kind
            if qualname.startswith("multiprocessing.") and qualname.count(".") == 1:
                return k.CONTEXT_METHODS.get(qualname.partition(".")[2])
        cls = self.class_ref(func, scope, at)
        if cls is not None:
            if self.is_process_class(cls):
                return k.PROCESS
            if self.is_thread_class(cls):
                return k.THREAD
            return k.QT_OBJECT if self.is_qt_class(cls) else None
        if isinstance(func, ast.Attribute) and qualname is None:
            receiver = self.kind_of(func.value, scope, at, depth + 1)
            if receiver == k.CONTEXT:
                return k.CONTEXT_METHODS.get(func.attr)
            if receiver == k.MANAGER:
                return k.MANAGER_METHODS.get(func.attr)
            if receiver in (k.POOL, k.EXECUTOR) and func.attr in k.FUTURE_METHODS:
                return k.FUTURE
        return None

    def kind_at(self, expr: ast.expr, node: ast.AST) -> str | None:
        return self.kind_of(expr, self.scope_of(node), pos(node))

    # -- classes ----------------------------------------------------------------------------------

    def self_class(self, expr: ast.expr, scope: Scope, at: Pos) -> ClassInfo | None:
        """The class when ``expr`` is the ``self`` parameter of one of its methods."""
        if isinstance(expr, ast.Name):
            binding = self.resolve(expr.id, scope, at)
            if binding is not None and binding.how == "self" and binding.func is not None:
                return binding.func.cls
        return None

    def class_ref(self, expr: ast.expr, scope: Scope, at: Pos) -> ClassInfo | None:
        if isinstance(expr, ast.Name):
            binding = self.resolve(expr.id, scope, at)
            if binding is not None and binding.how == "class":
                return binding.cls
        return None

    def _class_is(self, cls: ClassInfo, what: str, test: Callable[[str], bool]) -> bool:
        key = (what, cls)
        if key in self._class_memo:
            return self._class_memo[key]
        self._class_memo[key] = False  # a cycle of bases answers "no"
        answer = False
        for base in cls.node.bases:
            qualname = self.qualname(base, cls.outer, pos(cls.node))
            if qualname and test(qualname):
                answer = True
                break
            parent = self.class_ref(base, cls.outer, pos(cls.node))
            if parent is not None and self._class_is(parent, what, test):
                answer = True
                break
        self._class_memo[key] = answer
        return answer

    def is_qt_class(self, cls: ClassInfo) -> bool:
        return self._class_is(cls, "qt", k.is_qt_class)

    def is_process_class(self, cls: ClassInfo) -> bool:
        return self._class_is(cls, "process", k.PROCESS_CLASSES.__contains__)

    def is_widget_class(self, cls: ClassInfo) -> bool:
        """A widget lives in the GUI thread (a plain QObject may be moved to another)."""
        return self._class_is(cls, "widget", k.is_widget_class)

    def is_thread_class(self, cls: ClassInfo) -> bool:
        """A ``threading.Thread`` or ``QThread`` subclass: its ``run`` runs in another thread."""
        return self._class_is(cls, "thread", k.is_thread_class)

    def method(self, cls: ClassInfo, name: str, depth: int = 0) -> FuncInfo | None:
        found = cls.methods.get(name)
        if found is not None or depth > _MAX_DEPTH:
            return found
        for base in cls.node.bases:
            parent = self.class_ref(base, cls.outer, pos(cls.node))
            if parent is not None:
                found = self.method(parent, name, depth + 1)
                if found is not None:
                    return found
        return None

    def instance_values(
        self, cls: ClassInfo, name: str, depth: int = 0
    ) -> list[tuple[ast.expr, Scope, Pos]]:
        """What ``self.<name> = value`` assigns in the methods of ``cls`` and its bases here.

        Empty when no method assigns it: ``self.<name>`` is then a method (a bound method once
        read), a class attribute, or unknown. When it is assigned, reading it gives one of these
        values, not a bound method, even if it holds a function (``self.add_fn = add``).
        """
        found = list(cls.attrs.get(name, ()))
        if depth > _MAX_DEPTH:
            return found
        for base in cls.node.bases:
            parent = self.class_ref(base, cls.outer, pos(cls.node))
            if parent is not None and parent is not cls:
                found += self.instance_values(parent, name, depth + 1)
        return found

    def instance_class(
        self, expr: ast.expr, scope: Scope, at: Pos, depth: int = 0
    ) -> ClassInfo | str | None:
        """The class of the instance ``expr`` holds: a class of this file, the dotted name of an
        imported one, or None. ``self``, ``w = Window()`` and ``self.w = Window()`` are known."""
        values: list[tuple[ast.expr, Scope, Pos]] = []
        if isinstance(expr, ast.Name):
            binding = self.resolve(expr.id, scope, at)
            if binding is not None and binding.how == "value" and binding.value is not None:
                values = [(binding.value, binding.scope, binding.start)]
            elif binding is not None and binding.how == "self" and binding.func is not None:
                return binding.func.cls
        elif isinstance(expr, ast.Attribute):
            cls = self.self_class(expr.value, scope, at)
            if cls is not None:
                values = self.instance_values(cls, expr.attr)
        for value, v_scope, v_at in values[:4]:
            if isinstance(value, ast.Call):
                local = self.class_ref(value.func, v_scope, v_at)
                if local is not None:
                    return local
                name = self.qualname(value.func, v_scope, v_at)
                if name is not None and not name.startswith("builtins."):
                    return name
            elif depth < 4 and isinstance(value, (ast.Name, ast.Attribute)):
                found = self.instance_class(value, v_scope, v_at, depth + 1)
                if found is not None:
                    return found
        return None

    # -- functions and the call graph --------------------------------------------------------------

    def function_ref(self, expr: ast.expr, scope: Scope, at: Pos) -> FuncInfo | None:
        """The function of this file that ``expr`` names: ``f``, ``self.f``, a lambda, a partial."""
        if isinstance(expr, ast.Lambda):
            return self._r.func_of_node.get(expr)
        if isinstance(expr, ast.Name):
            binding = self.resolve(expr.id, scope, at)
            if binding is not None and binding.how == "def":
                return binding.func
            return None
        if isinstance(expr, ast.Attribute):
            cls = self.self_class(expr.value, scope, at)
            if cls is None:
                owner = self.instance_class(expr.value, scope, at)
                cls = owner if isinstance(owner, ClassInfo) else None
            return self.method(cls, expr.attr) if cls is not None else None
        if (
            isinstance(expr, ast.Call)
            and expr.args
            and self.qualname(expr.func, scope, at) == "functools.partial"
        ):
            return self.function_ref(expr.args[0], scope, at)
        return None

    def callees(self, call: ast.Call) -> list[FuncInfo]:
        """The functions of this file that ``call`` runs (a class call runs ``__init__``)."""
        found = self._callees_memo.get(call)
        if found is None:
            found = self._callees_memo[call] = self._callees(call)
        return found

    def _callees(self, call: ast.Call) -> list[FuncInfo]:
        scope, at = self.scope_of(call), pos(call)
        found: list[FuncInfo] = []
        if isinstance(call.func, ast.Name):
            binding = self.resolve(call.func.id, scope, at)
            if binding is not None and binding.how == "def" and binding.func is not None:
                found.append(binding.func)
            elif binding is not None and binding.how == "class" and binding.cls is not None:
                init = self.method(binding.cls, "__init__")
                if init is not None:
                    found.append(init)
        elif isinstance(call.func, ast.Attribute):
            target = self.function_ref(call.func, scope, at)
            if target is not None:
                found.append(target)
        if call.args and k.is_entry_point(self.qualname(call.func, scope, at) or ""):
            target = self.function_ref(call.args[0], scope, at)
            if target is not None:
                found.append(target)
        return found

    def first_reached(
        self, func: FuncInfo, key: str, direct: Callable[[ast.Call], object]
    ) -> tuple[ast.Call, FuncInfo] | None:
        """The first call satisfying ``direct`` that ``func`` makes itself or through callees."""
        memo = self._reach_memo.setdefault(key, {})
        if func in memo:
            return memo[func]
        memo[func] = None  # recursion answers "not found" while the first visit is running
        result = None
        for call in func.calls:
            if direct(call):
                result = (call, func)
                break
        if result is None:
            for call in func.calls:
                for callee in self.callees(call):
                    result = self.first_reached(callee, key, direct)
                    if result is not None:
                        break
                if result is not None:
                    break
        memo[func] = result
        return result

    def reached_from(
        self, call: ast.Call, key: str, direct: Callable[[ast.Call], object]
    ) -> tuple[ast.Call, FuncInfo | None] | None:
        """Like :meth:`first_reached`, from one call site: the call itself or its callees."""
        if direct(call):
            return call, self.func_of(call)
        for callee in self.callees(call):
            found = self.first_reached(callee, key, direct)
            if found is not None:
                return found
        return None

    # -- what calls do ----------------------------------------------------------------------------

    def starts_processes(self, call: ast.Call) -> bool:
        """Whether this call itself starts worker processes."""
        func = call.func
        scope, at = self.scope_of(call), pos(call)
        qualname = self.qualname(func, scope, at)
        if qualname is not None and (
            qualname in k.STARTS_WHEN_CREATED or k.constructor_kind(qualname) == k.POOL
        ):
            return True
        if not isinstance(func, ast.Attribute) or qualname is not None:
            return False
        receiver = self.kind_of(func.value, scope, at)
        if func.attr == "start":
            return receiver in (k.PROCESS, k.MANAGER)
        if receiver == k.CONTEXT:
            return func.attr in ("Pool", "Manager")
        return receiver == k.EXECUTOR and func.attr in k.SEND_METHODS

    def freeze_call(self, call: ast.Call) -> str | None:
        """``"module"``, ``"entry"`` (qtcompute), ``"context"`` (the wrong one) or None."""
        scope, at = self.scope_of(call), pos(call)
        qualname = self.qualname(call.func, scope, at)
        if qualname in k.FREEZE_SUPPORT:
            return "module"
        if qualname and k.is_entry_point(qualname):
            return "entry"
        func = call.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "freeze_support"
            and qualname is None
            and self.kind_of(func.value, scope, at) == k.CONTEXT
        ):
            return "context"
        for callee in self.callees(call):
            if self.is_entry_function(callee):
                return "entry"
        return None

    def is_entry_function(self, func: FuncInfo) -> bool:
        """A function decorated ``@qtcompute.main``: calling it calls freeze_support() first."""
        if isinstance(func.node, ast.Lambda):
            return False
        for decorator in func.node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if self.qualname(target, func.scope.parent or func.scope, pos(func.node)) in (
                k.ENTRY_DECORATORS
            ):
                return True
        return False

    def is_set_start_method(self, call: ast.Call) -> bool:
        return self.qualname_at(call.func, call) in k.SET_START_METHOD

    # -- the GUI thread ---------------------------------------------------------------------------

    @cached_property
    def off_gui_functions(self) -> dict[FuncInfo, str]:
        """Functions that run in another thread (``_threads.py``). Value: the reason."""
        from qtcompute.check._threads import off_gui_functions

        return off_gui_functions(self)

    @cached_property
    def gui_functions(self) -> dict[FuncInfo, str]:
        """Functions that run in the GUI thread (``_threads.py``). Value: the reason."""
        from qtcompute.check._threads import gui_functions

        return gui_functions(self)
