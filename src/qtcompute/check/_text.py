"""Small helpers on syntax nodes: the calls a statement makes, and a node's text for messages."""

from __future__ import annotations

import ast

from qtcompute.check._scopes import FuncInfo, pos


def calls_in(node: ast.AST) -> list[ast.Call]:
    """The calls that running ``node`` makes, in source order, not entering nested functions."""
    found: list[ast.Call] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call):
            found.append(current)
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                stack.append(child)
    found.sort(key=pos)
    return found


def short(node: ast.AST, limit: int = 40) -> str:
    """Source text of ``node`` on one line, shortened to ``limit`` characters."""
    try:
        text = " ".join(ast.unparse(node).split())
    except RecursionError:  # a statement nested thousands deep
        text = type(node).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def callee_text(call: ast.Call) -> str:
    """``mp.Process(...).start()`` for a call: the arguments dropped, messages stay short."""
    return f"{_dotted(call.func)}()"


def _dotted(expr: ast.expr) -> str:
    if isinstance(expr, ast.Attribute):
        return f"{_dotted(expr.value)}.{expr.attr}"
    if isinstance(expr, ast.Call):
        return f"{_dotted(expr.func)}(...)"
    return expr.id if isinstance(expr, ast.Name) else "(...)"


def found_name(func: FuncInfo) -> str:
    """How a message names a function: ``Cls.method()``, ``name()`` or the lambda's line."""
    if func.cls is not None:
        return f"{func.cls.name}.{func.name}()"
    return f"{func.name}()" if func.name != "<lambda>" else f"the lambda on line {func.node.lineno}"
