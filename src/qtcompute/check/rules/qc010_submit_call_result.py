"""## What it does
Checks for a function *called* where it should be *passed*: `executor.submit(f(x))`,
`pool.apply_async(f(x))`, `Process(target=f(x))`, `Thread(target=f(x))`. The receiver is a
process or thread pool or executor known as in QC006 (or named like one: `executor`, `pool`),
and the call's function is a function of the same file that does not build and return another
function, or any other function when nothing else is submitted with it.

Calls of `functools.partial`, of classes, and of functions named like factories (`make_*`,
`get_*`, `create_*`, `build_*`) are taken to return something callable, and are not reported.

## Why is this bad?
`f(x)` runs at once, in the caller (the GUI thread freezes while it runs), and what is submitted
is its result. The pool then fails to call that result (`TypeError: 'int' object is not
callable`, raised by the future or swallowed by `apply_async`) and the work never ran in
parallel.

## Example
```python
future = executor.submit(render(tile))
```

## Use instead
```python
future = executor.submit(render, tile)
```

## Known limitations
- A function of another module that returns a function (a factory not named like one) is
  reported when it is submitted alone: silence the line with `# noqa: QC010`.
- Receivers that no assignment in the file explains and whose name does not say "pool" or
  "executor" are not checked.

## References
- [Python: Executor.submit](https://docs.python.org/3/library/concurrent.futures.html#concurrent.futures.Executor.submit)
- [Python: Pool.apply_async](https://docs.python.org/3/library/multiprocessing.html#multiprocessing.pool.Pool.apply_async)
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from qtcompute.check import _knowledge as k
from qtcompute.check._analysis import Module, short
from qtcompute.check._scopes import FuncInfo, pos
from qtcompute.check._sends import last_name
from qtcompute.check.rules._base import Hit, Rule

_METHODS = frozenset({"submit", "apply", "apply_async", "schedule"})
_FACTORY = re.compile(r"(?i)^(make|get|create|build|wrap|partial|functools)|(factory|wrapper)$")
_EXECUTOR_NAME = re.compile(r"(?i)(pool|executor)$")


def _returns_a_function(func: FuncInfo) -> bool:
    """A nested function or lambda, or a ``return partial(...)``: a factory."""
    for stmt in func.body:
        for node in ast.walk(stmt):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return True
            if (
                isinstance(node, ast.Return)
                and isinstance(node.value, ast.Call)
                and (last_name(node.value.func) or "").endswith("partial")
            ):
                return True
    return False


def _called_not_passed(module: Module, value: ast.expr, alone: bool) -> bool:
    if not isinstance(value, ast.Call):
        return False
    scope, at = module.scope_of(value), pos(value)
    name = last_name(value.func) or ""
    if not name or _FACTORY.search(name) or name[:1].isupper():
        return False
    if module.class_ref(value.func, scope, at) is not None:
        return False
    qualname = module.qualname(value.func, scope, at)
    if qualname is not None and (
        qualname.startswith("builtins.") or qualname == "functools.partial"
    ):
        return False
    target = module.function_ref(value.func, scope, at)
    if target is not None:
        return not _returns_a_function(target)
    return alone


def _receiver_is_a_pool(module: Module, receiver: ast.expr, node: ast.AST) -> bool:
    kind = module.kind_at(receiver, node)
    if kind in (k.POOL, k.EXECUTOR, k.THREADS):
        return True
    if kind is not None or module.qualname_at(receiver, node) is not None:
        return False
    return bool(_EXECUTOR_NAME.search(last_name(receiver) or ""))


def check(module: Module) -> Iterator[Hit]:
    for call in module.calls:
        func = call.func
        value: ast.expr | None = None
        alone = False
        if isinstance(func, ast.Attribute) and func.attr in _METHODS and call.args:
            if not _receiver_is_a_pool(module, func.value, call):
                continue
            value, alone = call.args[0], len(call.args) == 1 and not call.keywords
        else:
            target = next((kw.value for kw in call.keywords if kw.arg == "target"), None)
            if target is None or module.kind_at(call, call) not in (k.PROCESS, k.THREAD):
                continue
            value, alone = target, True
        if _called_not_passed(module, value, alone):
            yield (
                value,
                (
                    f"`{short(value)}` runs here, in the caller, and its result is what gets "
                    f"submitted to `{short(func)}()`, which cannot call it; pass the function "
                    "and its arguments separately"
                ),
            )


RULE = Rule(
    code="QC010",
    name="submit-call-result",
    summary="A function called where it should be passed to a pool, executor or process.",
    check=check,
)
