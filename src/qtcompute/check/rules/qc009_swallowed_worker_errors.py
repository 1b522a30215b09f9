"""## What it does
Checks for an `except:`, `except Exception:` or `except BaseException:` whose body is only
`continue` or `pass`, inside a loop of a worker function. A worker function is a function of the
same file used as a `Process` target or sent to a process pool (see QC006), or a function with a
`while` loop that calls `.get()` on one of its parameters (a queue-consuming loop, like the
`calculate(input_queue, output_queue)` worker of the usual two-queue recipe).

The loop must be the worker's task loop, the one that takes work from a queue (`while` with a
`.get()`, or `for task in iter(q.get, None):`): a `for` loop over data that skips a failing item
still ends and returns, so nobody waits forever. Not reported either: a `try` whose body ends
the loop with `break` (try the next alternative until one works), and a `try` whose only
statement waits with a timeout (`q.get(timeout=5)`, `q.get_nowait()`: what it swallows is
`queue.Empty`).

## Why is this bad?
The worker survives every error, bad input and bug alike, and drops it. The caller waits for a
result that never arrives (a GUI waiting in `output_queue.get()` blocks forever), and nothing in
any log says why. A `KeyboardInterrupt` or `SystemExit` caught by a bare `except:` even keeps the
worker from shutting down.

## Example
```python
def worker(input_queue, output_queue):
    while True:
        try:
            x, y = input_queue.get()
            output_queue.put(x + y)
        except:
            continue
```

## Use instead
```python
def worker(input_queue, output_queue):
    while True:
        x, y = input_queue.get()
        try:
            output_queue.put(("ok", x + y))
        except Exception as exc:
            output_queue.put(("error", repr(exc)))
```

## Known limitations
- A handler that logs to a place nobody reads, or only counts errors, is not reported: only a
  body of `pass`/`continue` (and docstrings) is.
- Worker functions sent from another module are not known as workers unless they consume a
  parameter's `.get()` in a loop.

## References
- [Python: handling exceptions](https://docs.python.org/3/tutorial/errors.html#handling-exceptions)
- [flake8-bugbear B001 / pycodestyle E722: bare except](https://github.com/PyCQA/flake8-bugbear)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from qtcompute.check import _knowledge as k
from qtcompute.check._analysis import Module
from qtcompute.check._scopes import FuncInfo, end, pos
from qtcompute.check._sends import iter_sends
from qtcompute.check.rules._base import Hit, Rule

_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_TRY = (ast.Try, getattr(ast, "TryStar", ast.Try))  # except* arrived in Python 3.11


def _walk(nodes: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of ``nodes``, not entering nested functions or classes."""
    stack: list[ast.AST] = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(c for c in ast.iter_child_nodes(node) if not isinstance(c, _NESTED))


_LOOPS = (ast.While, ast.For, ast.AsyncFor)


def _walk_loop(nodes: list[ast.stmt]) -> Iterator[ast.AST]:
    """Like :func:`_walk`, not entering inner loops either: each loop judges its own ``try``."""
    stack: list[ast.AST] = [n for n in nodes if not isinstance(n, _LOOPS)]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(
            c for c in ast.iter_child_nodes(node) if not isinstance(c, (*_NESTED, *_LOOPS))
        )


def _consumes_parameter(func: FuncInfo) -> bool:
    if isinstance(func.node, ast.Lambda):
        return False
    if not func.loops:
        return False
    params = {a.arg for a in [*func.node.args.posonlyargs, *func.node.args.args]}
    gets = [
        pos(call)
        for call in func.calls
        if isinstance(call.func, ast.Attribute)
        and call.func.attr == "get"
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id in params
    ]
    return any(pos(loop) < at <= end(loop) for loop in func.loops for at in gets)


def _workers(module: Module) -> list[FuncInfo]:
    found: dict[FuncInfo, None] = {}
    if module.uses_processes:
        for send in iter_sends(module):
            if send.function is not None:
                target = module.function_ref(send.function, send.scope, pos(send.call))
                if target is not None:
                    found[target] = None
    for func in module.functions:
        if func not in found and _consumes_parameter(func):
            found[func] = None
    return list(found)


def _broad(module: Module, handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    names = [n for t in types for n in ast.walk(t) if isinstance(n, ast.Name)]
    scope, at = module.scope_of(names[0] if names else handler), pos(handler)
    return any(module.qualname(t, scope, at) in k.BUILTIN_BROAD_EXCEPTIONS for t in types)


def _silent(handler: ast.ExceptHandler) -> bool:
    return all(
        isinstance(stmt, (ast.Pass, ast.Continue))
        or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
        for stmt in handler.body
    )


_NON_BLOCKING = frozenset({"get_nowait", "recv", "poll", "get", "put", "put_nowait"})


def _over_alternatives(loop: ast.AST) -> bool:
    """A ``for`` loop over data, not the worker's task loop.

    A worker's ``for item in items:`` that drops a failing item still returns its result, so
    nobody waits forever; only a loop that takes its work from a queue does:
    ``while True: ... q.get()`` or ``for task in iter(q.get, None):``.
    """
    if not isinstance(loop, (ast.For, ast.AsyncFor)):
        return False
    source = loop.iter
    return not (
        isinstance(source, ast.Call)
        and isinstance(source.func, ast.Name)
        and source.func.id == "iter"
        and source.args
        and isinstance(source.args[0], ast.Attribute)
        and source.args[0].attr in ("get", "recv")
    )


def _expected_failure(node: ast.Try) -> bool:
    """A ``try`` whose failure is the expected answer, not a lost error.

    ``try: ...; break`` tries one alternative and stops at the first that works; a ``try`` that
    only waits with a timeout (``q.get(timeout=5)``, ``get_nowait()``) swallows ``queue.Empty``.
    """
    if any(isinstance(n, ast.Break) for stmt in node.body for n in _walk([stmt])):
        return True
    calls = [c for stmt in node.body for c in _walk([stmt]) if isinstance(c, ast.Call)]
    waits = [
        c
        for c in calls
        if isinstance(c.func, ast.Attribute)
        and c.func.attr in _NON_BLOCKING
        and (
            c.func.attr in ("get_nowait", "poll")
            or any(kw.arg in ("timeout", "block") for kw in c.keywords)
            or len(c.args) >= (2 if c.func.attr in ("get", "put") else 1)
        )
    ]
    return (
        bool(waits)
        and len(node.body) == 1
        and all(c in waits or any(c in ast.walk(w) for w in waits) for c in calls)
    )


def check(module: Module) -> Iterator[Hit]:
    for func in _workers(module):
        reported: set[ast.ExceptHandler] = set()
        for loop in _walk(func.body):
            if not isinstance(loop, (ast.While, ast.For, ast.AsyncFor)):
                continue
            if _over_alternatives(loop):
                continue
            for node in _walk_loop(loop.body):
                if not isinstance(node, _TRY) or _expected_failure(node):
                    continue
                for handler in node.handlers:
                    if handler in reported or not _silent(handler):
                        continue
                    if _broad(module, handler):
                        reported.add(handler)
                        what = f"except {ast.unparse(handler.type)}:" if handler.type else "except:"
                        yield (
                            handler,
                            (
                                f"`{what}` with only pass/continue in the loop of worker "
                                f"{func.name}() swallows every error, so the caller waits forever; "
                                "send the error back to the caller (or log it)"
                            ),
                        )


RULE = Rule(
    code="QC009",
    name="swallowed-worker-errors",
    summary="A worker loop that silently drops every exception.",
    check=check,
)
