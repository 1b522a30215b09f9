"""Where a function and its arguments are handed to another process.

A *send* is ``Process(target=fn, args=(...))`` or ``receiver.submit(fn, ...)`` (and ``schedule``,
``apply_async``, ``map``, ...) on a receiver that is a process pool or executor. The receiver is
known from an assignment in the same file (``pool = ProcessPoolExecutor()``,
``self.pool = qtcompute.Pool()``); failing that, its name must say "process pool"
(``_knowledge.PROCESS_POOL_NAME``: ``process_pool``, ``proc_executor``, ``mp_pool``). A thread
pool is never a receiver: nothing crosses a process boundary.
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

from qtcompute.check import _knowledge as k
from qtcompute.check._analysis import Module
from qtcompute.check._scopes import Scope, pos


@dataclass(frozen=True)
class Send:
    call: ast.Call
    function: ast.expr | None  # what runs in the worker
    arguments: tuple[ast.expr, ...]  # what gets pickled along with it
    how: str  # "Process target" or "pool.submit()"
    scope: Scope


def last_name(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return None


def _elements(expr: ast.expr | None) -> list[ast.expr]:
    """The values a literal tuple, list or dict (or ``dict(...)`` call) holds."""
    if isinstance(expr, (ast.Tuple, ast.List, ast.Set)):
        return [e.value if isinstance(e, ast.Starred) else e for e in expr.elts]
    if isinstance(expr, ast.Dict):
        return [v for v in expr.values if v is not None]
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "dict":
        return [kw.value for kw in expr.keywords]
    return []


def _argument(call: ast.Call, index: int, *names: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg in names:
            return keyword.value
    if index < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args[:index]):
        return call.args[index]
    return None


def is_process_receiver(
    module: Module, receiver: ast.expr, scope: Scope, at: tuple[int, int]
) -> bool:
    kind = module.kind_of(receiver, scope, at)
    if kind in (k.POOL, k.EXECUTOR):
        return True
    if kind is not None or module.qualname(receiver, scope, at) is not None:
        return False
    name = last_name(receiver)
    return bool(name and k.PROCESS_POOL_NAME.search(name))


# The sends of each module being checked: four rules ask, and finding them asks what every call
# of the module is. Weak keys: an entry goes with its module.
_FOUND: weakref.WeakKeyDictionary[Module, tuple[Send, ...]] = weakref.WeakKeyDictionary()


def iter_sends(module: Module) -> Iterator[Send]:
    found = _FOUND.get(module)
    if found is None:
        found = _FOUND[module] = tuple(_find_sends(module))
    return iter(found)


def _find_sends(module: Module) -> Iterator[Send]:
    for call in module.calls:
        scope, at = module.scope_of(call), pos(call)
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in k.SEND_METHODS:
            if not is_process_receiver(module, func.value, scope, at):
                continue
            method = func.attr
            function = _argument(call, 0, "fn", "func", "function", "target")
            if method == "submit":
                arguments = [a for a in call.args[1:] if not isinstance(a, ast.Starred)]
            elif method == "schedule":
                arguments = _elements(_argument(call, 1, "args"))
                arguments += _elements(_argument(call, 2, "kwargs"))
            elif method in ("apply", "apply_async"):
                arguments = _elements(_argument(call, 1, "args"))
                arguments += _elements(_argument(call, 2, "kwds"))
            elif method in ("map", "map_async", "imap", "imap_unordered"):
                arguments = _elements(_argument(call, 1, "iterable"))
            else:
                arguments = []
            yield Send(call, function, tuple(arguments), f"{method}()", scope)
        elif module.kind_of(call, scope, at) == k.PROCESS:
            function = _argument(call, 1, "target")
            arguments = _elements(_argument(call, 3, "args"))
            arguments += _elements(_argument(call, 4, "kwargs"))
            yield Send(call, function, tuple(arguments), "Process(target=...)", scope)
