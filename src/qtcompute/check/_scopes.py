"""One pass over a module's syntax tree that records scopes, bindings, functions and calls.

The rules never walk the tree for names themselves: they ask :class:`Module` (in
``_analysis.py``), which answers from what this pass recorded. Name resolution is
*position-aware* because scripts rebind names: the usual two-queue calculator script (a worker
process reading an input queue, a GUI writing to it) defines a worker ``calculate`` at module
level and later, inside its main guard, a click handler also called ``calculate``; the
``Process(target=calculate)`` between the two must resolve to the worker.

Code is sorted into three regions, by when it runs:

- ``import``: module level (and class bodies there) outside the main guard - runs on import,
  so it runs again in every spawned child;
- ``guard``: the body of ``if __name__ == "__main__":`` - runs only in the parent;
- ``function``: a function or lambda body - runs when called.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

Pos = tuple[int, int]

IMPORT = "import"
GUARD = "guard"
FUNCTION = "function"


@dataclass(eq=False)
class Scope:
    kind: str  # "module", "function" or "class"
    parent: Scope | None
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    cls: ClassInfo | None = None  # for a class body: the class

    def bind(self, binding: Binding) -> None:
        self.bindings.setdefault(binding.name, []).append(binding)


@dataclass(eq=False)
class Binding:
    """A name bound by a statement; its value is evaluated at ``start``, visible from ``end``."""

    name: str
    how: str  # "import", "def", "class", "value", "unpack", "param", "self" or "other"
    start: Pos
    end: Pos
    scope: Scope
    value: ast.expr | None = None
    index: int = 0  # the element of an unpacked tuple (``a, b = Pipe()``)
    qualname: str | None = None  # for imports
    func: FuncInfo | None = None  # for "def" and "self"
    cls: ClassInfo | None = None  # for "class"


@dataclass(eq=False)
class FuncInfo:
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
    name: str
    scope: Scope  # its own scope
    cls: ClassInfo | None  # set for methods
    parent: FuncInfo | None  # the enclosing function, across class bodies
    in_guard: bool  # defined directly in the main guard: missing from a spawned child
    calls: list[ast.Call] = field(default_factory=list)
    loops: list[ast.While] = field(default_factory=list)  # its own while loops

    @property
    def body(self) -> list[ast.stmt]:
        return [] if isinstance(self.node, ast.Lambda) else self.node.body


@dataclass(eq=False)
class ClassInfo:
    node: ast.ClassDef
    name: str
    outer: Scope
    methods: dict[str, FuncInfo] = field(default_factory=dict)
    # self.<attr> = <value> in any method: attr -> [(value, scope, position)]
    attrs: dict[str, list[tuple[ast.expr, Scope, Pos]]] = field(default_factory=dict)


def pos(node: ast.AST) -> Pos:
    return (node.lineno, node.col_offset)  # type: ignore[attr-defined]


def end(node: ast.AST) -> Pos:
    return (node.end_lineno or node.lineno, node.end_col_offset or 0)  # type: ignore[attr-defined]


# A call that stands for the main guard: ``if is_main():``, ``if is_main_process():``.
_GUARD_FUNCTION = re.compile(r"(?i)^_?is_?main(_?process)?$")


def main_guard(test: ast.expr) -> bool | None:
    """True for a main guard, False for its negation, None for any other test.

    A main guard is ``__name__ == "__main__"``, or a test that is true only in the parent
    process: ``current_process().name == "MainProcess"``, ``parent_process() is None``, or a
    call to a function named like ``is_main()``/``is_main_process()``.
    """
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = main_guard(test.operand)
        return None if inner is None else not inner
    if isinstance(test, ast.Call) and not test.args and not test.keywords:
        name = (
            test.func.attr if isinstance(test.func, ast.Attribute) else getattr(test.func, "id", "")
        )
        return True if _GUARD_FUNCTION.match(name) else None
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left, right = test.left, test.comparators[0]
    if isinstance(right, (ast.Name, ast.Attribute, ast.Call)):
        left, right = right, left
    op = test.ops[0]
    if _parent_process_call(left) and isinstance(right, ast.Constant) and right.value is None:
        return True if isinstance(op, ast.Is) else False if isinstance(op, ast.IsNot) else None
    if not isinstance(right, ast.Constant):
        return None
    dunder = right.value == "__main__" and isinstance(left, ast.Name) and left.id == "__name__"
    process = (
        right.value == "MainProcess" and isinstance(left, ast.Attribute) and left.attr == "name"
    )
    if not (dunder or process):
        return None
    return True if isinstance(op, ast.Eq) else False if isinstance(op, ast.NotEq) else None


def _parent_process_call(expr: ast.expr) -> bool:
    if not isinstance(expr, ast.Call):
        return False
    func = expr.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name == "parent_process"


class Recorder:
    """Fills the tables of a module; see the module docstring for the regions."""

    def __init__(self) -> None:
        self.module_scope = Scope("module", None)
        self.functions: list[FuncInfo] = []
        self.func_of_node: dict[ast.AST, FuncInfo] = {}
        self.classes: list[ClassInfo] = []
        self.calls: list[ast.Call] = []
        self.import_calls: list[ast.Call] = []
        self.guard_calls: list[ast.Call] = []
        self.guards: list[tuple[ast.If, list[ast.stmt]]] = []
        self.scope_of: dict[ast.AST, Scope] = {}
        self.func_of: dict[ast.AST, FuncInfo | None] = {}
        self.scopes: list[Scope] = [self.module_scope]

    def release(self) -> None:
        """Break the reference cycles of the tables (a scope's bindings point back to it, a class
        and its methods to each other), so that reference counting frees them and the syntax tree
        they hold as soon as the module is dropped, without waiting for the cyclic collector."""
        for scope in self.scopes:
            scope.bindings.clear()
        for cls in self.classes:
            cls.methods.clear()
            cls.attrs.clear()

    def run(self, tree: ast.Module) -> None:
        """Visit every node once, in source order (pre-order, fields in grammar order).

        This loop is most of the checker's time after the parser, so it is written for speed: an
        explicit stack (not recursion: generated code nests expressions thousands deep) of bare
        nodes, and the context (scope, region, function) kept in locals. Entering a function, a
        class or the main guard pushes :class:`_Enter` markers around its body: the one on top
        switches to the new context, the one below it restores the outer context afterwards.
        """
        module_scope = self.module_scope
        calls, scope_of, func_of = self.calls, self.scope_of, self.func_of
        scope: Scope = module_scope
        region = IMPORT
        func: FuncInfo | None = None
        # reversed, so that nodes pop in source order: bindings are recorded in that order
        stack: list[ast.AST | _Enter] = list(reversed(tree.body))
        pop, push, extend = stack.pop, stack.append, stack.extend
        while stack:
            node = pop()
            kind = node.__class__
            if kind is ast.Name:
                scope_of[node] = scope  # its only child is the Load/Store context
                continue
            if kind is _Enter:
                scope, region, func = node.scope, node.region, node.func  # type: ignore[union-attr]
                continue
            if kind is ast.Call:
                calls.append(node)  # type: ignore[arg-type]
                scope_of[node] = scope
                func_of[node] = func
                if region == FUNCTION and func is not None:
                    func.calls.append(node)  # type: ignore[arg-type]
                elif region == GUARD:
                    self.guard_calls.append(node)  # type: ignore[arg-type]
                else:
                    self.import_calls.append(node)  # type: ignore[arg-type]
            elif kind is ast.FunctionDef or kind is ast.AsyncFunctionDef or kind is ast.Lambda:
                info, body, outer = self._function(node, scope, region, func)  # type: ignore[arg-type]
                push(_Enter(scope, region, func))
                extend(reversed(body))
                push(_Enter(info.scope, FUNCTION, info))
                extend(reversed(outer))  # decorators and defaults run first, outside
                continue
            elif kind is ast.ClassDef:
                own, body, outer = self._class(node, scope)  # type: ignore[arg-type]
                push(_Enter(scope, region, func))
                extend(reversed(body))
                push(_Enter(own, region, func))
                extend(reversed(outer))
                continue
            elif kind in _BINDERS:
                self._bind_statement(node, scope, func)  # type: ignore[arg-type]
            elif kind is ast.If and region == IMPORT and scope.kind == "module":
                guard = main_guard(node.test)  # type: ignore[union-attr]
                if guard is not None:
                    body, orelse = node.body, node.orelse  # type: ignore[union-attr]
                    inside, outside = (body, orelse) if guard else (orelse, body)
                    self.guards.append((node, inside))  # type: ignore[arg-type]
                    # the guard's own body first, then what runs outside it
                    extend(reversed(outside))
                    push(_Enter(scope, IMPORT, func))
                    extend(reversed(inside))
                    push(_Enter(scope, GUARD, func))
                    continue
            elif kind is ast.While and func is not None:
                func.loops.append(node)  # type: ignore[arg-type]
            fields = _FIELDS.get(kind)
            if fields is None:
                fields = _FIELDS[kind] = _child_fields(kind)
            for name in fields:
                value = getattr(node, name, None)
                if value.__class__ is list:
                    for child in reversed(value):
                        if child.__class__ is not ast.Constant and isinstance(child, ast.AST):
                            push(child)
                elif value.__class__ is not ast.Constant and isinstance(value, ast.AST):
                    push(value)

    # -- definitions -------------------------------------------------------------------------------

    def _function(
        self,
        node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
        scope: Scope,
        region: str,
        func: FuncInfo | None,
    ) -> tuple[FuncInfo, list[ast.AST], list[ast.AST]]:
        """Record a function; returns it, its body and what runs outside it (decorators...)."""
        is_lambda = isinstance(node, ast.Lambda)
        outer: list[ast.AST] = [d for d in node.args.kw_defaults if d is not None]
        outer[:0] = node.args.defaults
        if not is_lambda:
            outer[:0] = node.decorator_list
        cls = scope.cls
        own = Scope("function", scope)
        self.scopes.append(own)
        info = FuncInfo(
            node=node,
            name="<lambda>" if is_lambda else node.name,
            scope=own,
            cls=cls,
            parent=func,
            in_guard=region == GUARD and scope.kind == "module",
        )
        self.functions.append(info)
        self.func_of_node[node] = info
        if not is_lambda:
            scope.bind(Binding(node.name, "def", pos(node), end(node), scope, func=info))
            if cls is not None:
                cls.methods.setdefault(node.name, info)
        params = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        for extra in (node.args.vararg, node.args.kwarg):
            if extra is not None:
                params.append(extra)
        for index, arg in enumerate(params):
            how = "self" if index == 0 and cls is not None and not is_lambda else "param"
            own.bind(Binding(arg.arg, how, pos(node), pos(node), own, func=info))
        body: list[ast.AST] = [node.body] if is_lambda else node.body  # type: ignore[assignment]
        return info, body, outer

    def _class(
        self, node: ast.ClassDef, scope: Scope
    ) -> tuple[Scope, list[ast.AST], list[ast.AST]]:
        """Record a class; returns its scope, its body and what runs outside it (bases...)."""
        outer = [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]
        info = ClassInfo(node=node, name=node.name, outer=scope)
        self.classes.append(info)
        own = Scope("class", scope, cls=info)
        self.scopes.append(own)
        scope.bind(Binding(node.name, "class", pos(node), end(node), scope, cls=info))
        return own, node.body, outer  # type: ignore[return-value]

    # -- bindings ----------------------------------------------------------------------------------

    def _bind_statement(self, node: ast.AST, scope: Scope, func: FuncInfo | None) -> None:
        start, stop = pos(node), end(node)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    name, qualname = alias.asname, alias.name
                else:
                    name = qualname = alias.name.partition(".")[0]
                scope.bind(Binding(name, "import", start, stop, scope, qualname=qualname))
        elif isinstance(node, ast.ImportFrom):
            prefix = "." * node.level + (node.module or "")
            for alias in node.names:
                if alias.name != "*":
                    if node.module is None:  # ``from . import x``: x in this package
                        qualname = "." * node.level + alias.name
                    else:
                        qualname = f"{prefix}.{alias.name}"
                    binding = Binding(
                        alias.asname or alias.name, "import", start, stop, scope, qualname=qualname
                    )
                    scope.bind(binding)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                self._bind_target(target, node.value, scope, func, start, stop)
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)):
            if node.value is not None:
                self._bind_target(node.target, node.value, scope, func, start, stop)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            # ``as`` names are bound before the body runs, not after the whole statement
            for item in node.items:
                if item.optional_vars is not None:
                    value, bound = item.context_expr, end(item.context_expr)
                    self._bind_target(item.optional_vars, value, scope, func, start, bound)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            for name in _names(node.target):
                scope.bind(Binding(name, "other", start, end(node.iter), scope))
        elif isinstance(node, ast.AugAssign):
            for name in _names(node.target):
                scope.bind(Binding(name, "other", start, stop, scope))
        elif isinstance(node, ast.ExceptHandler) and node.name:
            scope.bind(Binding(node.name, "other", start, start, scope))

    def _bind_target(
        self,
        target: ast.expr,
        value: ast.expr,
        scope: Scope,
        func: FuncInfo | None,
        start: Pos,
        stop: Pos,
    ) -> None:
        if isinstance(target, ast.Name):
            scope.bind(Binding(target.id, "value", start, stop, scope, value=value))
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
                for sub_target, sub_value in zip(target.elts, value.elts, strict=True):
                    self._bind_target(sub_target, sub_value, scope, func, start, stop)
                return
            for index, element in enumerate(target.elts):
                if isinstance(element, ast.Name):
                    binding = Binding(element.id, "unpack", start, stop, scope, value, index)
                    scope.bind(binding)
                else:
                    for name in _names(element):
                        scope.bind(Binding(name, "other", start, stop, scope))
        elif (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and func is not None
            and func.cls is not None
        ):
            first = func.scope.bindings.get(target.value.id)
            if first and first[0].how == "self":
                func.cls.attrs.setdefault(target.attr, []).append((value, scope, start))


_BINDERS = (
    ast.Import,
    ast.ImportFrom,
    ast.Assign,
    ast.AnnAssign,
    ast.NamedExpr,
    ast.With,
    ast.AsyncWith,
    ast.For,
    ast.AsyncFor,
    ast.AugAssign,
    ast.ExceptHandler,
)


class _Enter:
    """A stack marker of :meth:`Recorder.run`: the context of the nodes popped after it."""

    __slots__ = ("func", "region", "scope")

    def __init__(self, scope: Scope, region: str, func: FuncInfo | None) -> None:
        self.scope, self.region, self.func = scope, region, func


# Fields that never hold a node a rule looks at: names, numbers, and the Load/Store contexts and
# operators (a third of all nodes). Skipping them by name spares the hot loop a getattr each.
_SCALAR_FIELDS = frozenset(
    {"ctx", "op", "ops", "id", "attr", "arg", "module", "asname", "level", "conversion",
     "is_async", "simple", "kind", "type_comment", "tag", "lineno"}
)  # fmt: skip
_FIELDS: dict[type, tuple[str, ...]] = {}  # node class -> its child fields, reversed


def _child_fields(kind: type) -> tuple[str, ...]:
    # reversed: children are pushed last field first, so that they pop in field order
    return tuple(f for f in reversed(kind._fields) if f not in _SCALAR_FIELDS)  # type: ignore[attr-defined]


def _names(target: ast.expr) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
