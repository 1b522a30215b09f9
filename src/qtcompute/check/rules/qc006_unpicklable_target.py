"""## What it does
Checks for a function that cannot be pickled by reference handed to another process: a lambda,
a function nested in another function, a function defined inside the main guard, or a bound
method of a Qt object, used as `Process(target=...)` or passed to `submit`, `schedule`,
`apply_async`, `map` (and the other pool methods) of a process pool or executor.

The receiver must be known to be a process pool from an assignment in the same file
(`multiprocessing.Pool`, `ProcessPoolExecutor`, `qtcompute.Pool`, a `get_context()` pool, the
qtcompute Qt bridge) or, when nothing in the file says what it is, be named like one
(`process_pool`, `proc_executor`, `mp_pool`). Thread pools are never reported.

An attribute of `self` that a method assigns (`self.work_fn = work` in `__init__`, possibly from
a parameter) is judged by what was stored there, not as a bound method: it is reported only when
everything stored in it is one of the above. A parameter is never reported, whatever its default,
since a caller may pass a module-level function.

A static or class method reached through `self` is not a bound method and is not reported. A
bound method of a Qt class that defines `__reduce__` (or `__reduce_ex__`) is not reported:
the class says how it is pickled. One that defines only `__getstate__` is not reported under
PyQt, and is under PySide (and `qtpy`, which may load it), since PySide keeps signal instances
in the instance `__dict__`.

## Why is this bad?
Under `spawn` (Windows, macOS, frozen apps) the function travels to the worker by pickle, which
stores a module-level function by its qualified name and looks it up again in the worker. A
lambda or a nested function has no such name, a function defined in the main guard does not exist
in the worker (the guard does not run there), and pickling a bound method pickles its Qt object,
which cannot be pickled. The error (`PicklingError`, `AttributeError: Can't get attribute`)
surfaces only when the task runs, often only on the user's platform.

## Example
```python
with ProcessPoolExecutor() as executor:
    future = executor.submit(lambda: heavy(data))
```

## Use instead
```python
def run_heavy(data):
    return heavy(data)


with ProcessPoolExecutor() as executor:
    future = executor.submit(run_heavy, data)
```

## Known limitations
- Only what the file itself defines is known: a nested function imported from another module,
  or a bound method of a widget that arrives as a parameter, is not recognised.
- Pickling hooks (`__reduce__`, `__getstate__`) are looked for on the class and its bases in the
  same file only.

## References
- [Python: what can be pickled and unpickled](https://docs.python.org/3/library/pickle.html#what-can-be-pickled-and-unpickled)
- [Python: multiprocessing programming guidelines (spawn)](https://docs.python.org/3/library/multiprocessing.html#the-spawn-and-forkserver-start-methods)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from qtcompute.check import _knowledge as k
from qtcompute.check._analysis import Module, short
from qtcompute.check._scopes import ClassInfo, FuncInfo, Pos, Scope, pos
from qtcompute.check._sends import iter_sends
from qtcompute.check.rules._base import Hit, Rule

_MAX_DEPTH = 12  # how far ``self.a = self.b`` chains are followed


def _problem(module: Module, fn: ast.expr, scope: Scope, at: Pos, depth: int = 0) -> str | None:
    if isinstance(fn, ast.Lambda):
        return "a lambda"
    if isinstance(fn, ast.Call) and fn.args:
        if module.qualname(fn.func, scope, at) == "functools.partial":
            return _problem(module, fn.args[0], scope, at, depth)
        return None
    if isinstance(fn, ast.Name):
        binding = module.resolve(fn.id, scope, at)
        if binding is None:
            return None
        if binding.how == "def" and binding.func is not None:
            if binding.func.parent is not None:
                return f"`{fn.id}` (a function nested in {binding.func.parent.name}())"
            if binding.func.in_guard:
                return f"`{fn.id}` (defined in the main guard, which workers never run)"
        if binding.how == "value" and isinstance(binding.value, ast.Lambda):
            return f"`{fn.id}` (a lambda)"
        # a parameter is opaque, even with a default: a caller may pass a module-level function
        return None
    if not isinstance(fn, ast.Attribute):
        return None
    cls = module.self_class(fn.value, scope, at)
    values = module.instance_values(cls, fn.attr) if cls is not None else []
    if values:
        # ``self.add_fn = add``: reading the attribute gives what was stored, not a bound method.
        # Reported only when every value stored is a problem: which one runs is not known here.
        if depth >= _MAX_DEPTH:
            return None
        problems = [_problem(module, v, v_scope, v_at, depth + 1) for v, v_scope, v_at in values]
        if not all(problems):
            return None
        return f"`{short(fn)}` (set to {problems[0]})"
    if module.kind_of(fn.value, scope, at) == k.QT_OBJECT:
        owner = module.instance_class(fn.value, scope, at)
        if not isinstance(owner, ClassInfo):
            return f"`{short(fn)}` (a bound method of a Qt object)"
        method = module.method(owner, fn.attr)
        if method is not None and _unbound(method):
            return None  # a static or class method pickles by its qualified name
        if module.method(owner, "__reduce__") or module.method(owner, "__reduce_ex__"):
            return None  # the class says how to pickle itself
        if module.method(owner, "__getstate__"):
            if _binding(module) == "pyqt":
                return None
            return (
                f"`{short(fn)}` (a bound method of a Qt object: PySide keeps signal instances "
                "in the instance __dict__, so its __getstate__ state still cannot be pickled)"
            )
        return f"`{short(fn)}` (a bound method of a Qt object)"
    return None


def _unbound(method: FuncInfo) -> bool:
    if isinstance(method.node, ast.Lambda):
        return False
    for decorator in method.node.decorator_list:
        name = (
            decorator.attr if isinstance(decorator, ast.Attribute) else getattr(decorator, "id", "")
        )
        if name in ("staticmethod", "classmethod"):
            return True
    return False


def _binding(module: Module) -> str:
    """``pyqt`` or ``pyside`` when the module imports only that family, else ``either``."""
    tops = {
        (b.qualname or "").partition(".")[0]
        for bindings in module.all_bindings()
        for b in bindings
        if b.how == "import"
    }
    families = {"pyqt" for t in tops if t in ("PyQt5", "PyQt6")}
    families |= {"pyside" for t in tops if t in ("PySide2", "PySide6", "qtpy")}
    return families.pop() if len(families) == 1 else "either"


def check(module: Module) -> Iterator[Hit]:
    if not module.uses_processes:
        return
    for send in iter_sends(module):
        if send.function is None:
            continue
        problem = _problem(module, send.function, send.scope, pos(send.call))
        if problem is not None:
            yield (
                send.function,
                (
                    f"{problem} cannot be pickled for {send.how} under spawn (all frozen apps); "
                    "pass a module-level function instead"
                ),
            )


RULE = Rule(
    code="QC006",
    name="unpicklable-target",
    summary="A lambda, nested function or Qt bound method sent to a process.",
    check=check,
)
