"""## What it does
Checks that `multiprocessing.freeze_support()` (or the qtcompute entry point, `qtcompute.run`
or a function decorated `@qtcompute.main`) is the first thing the main guard runs. When the call
sits in a function the guard calls (`main()`), the statements before it there count too.

Imports, docstrings, `pass`, function and class definitions, assignments that call nothing,
and `set_start_method()`/`get_start_method()`/`set_executable()` (also inside a `try`) do not
count; any statement that calls something or reads `sys.argv` does.

## Why is this bad?
In a frozen app every worker process starts by running the main guard. `freeze_support()` is
the point where a worker is recognised and diverted to its task; whatever runs before it runs
in every worker too. Creating a `QApplication` there opens a GUI connection per worker, parsing
`sys.argv` fails on the worker's private arguments, and another multiprocessing call (a
`Queue`, a `Manager`) starts machinery before the worker knows what it is. The Python
documentation asks for the call "straight after the `if __name__ == '__main__'` line".

## Example
```python
if __name__ == "__main__":
    app = QApplication(sys.argv)
    multiprocessing.freeze_support()
```

## Use instead
```python
if __name__ == "__main__":
    multiprocessing.freeze_support()
    app = QApplication(sys.argv)
```

## Known limitations
- The order is followed through functions of the same file only; a `main()` imported from
  another module that runs code before its own `freeze_support()` is not judged.
- A statement that only looks harmless (`x = CONSTANT`) is not counted; one that calls anything
  is, even if the call is cheap and safe in a worker.

## References
- [Python: multiprocessing.freeze_support](https://docs.python.org/3/library/multiprocessing.html#multiprocessing.freeze_support)
- [PyInstaller: multiprocessing](https://pyinstaller.org/en/stable/common-issues-and-pitfalls.html#multi-processing)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from qtcompute.check._analysis import Module, callee_text, calls_in, short
from qtcompute.check._scopes import FuncInfo
from qtcompute.check.rules._base import Hit, Rule

_QUIET = (
    ast.Import,
    ast.ImportFrom,
    ast.Pass,
    ast.Global,
    ast.Nonlocal,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
)


_HARMLESS = frozenset({"set_start_method", "get_start_method", "set_executable"})


def _runs_code(stmt: ast.stmt) -> bool:
    if isinstance(stmt, _QUIET):
        return False
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return False
    calls = calls_in(stmt)
    if calls:
        # setting the start method again is harmless in a worker: spawn's bootstrap forces it
        return not all(
            isinstance(c.func, (ast.Attribute, ast.Name))
            and (c.func.attr if isinstance(c.func, ast.Attribute) else c.func.id) in _HARMLESS
            for c in calls
        )
    return any(
        isinstance(node, ast.Attribute)
        and node.attr == "argv"
        and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
        for node in ast.walk(stmt)
    )


def _first_runner(stmts: list[ast.stmt]) -> ast.stmt | None:
    return next((stmt for stmt in stmts if _runs_code(stmt)), None)


def _locate(
    module: Module, body: list[ast.stmt], visited: set[FuncInfo]
) -> tuple[ast.Call, ast.stmt | None] | None:
    """The freeze call the code ``body`` reaches first, and a statement that runs before it."""
    for index, stmt in enumerate(body):
        for call in calls_in(stmt):
            if module.freeze_call(call):
                return call, _first_runner(body[:index])
            for callee in module.callees(call):
                if callee in visited:
                    continue
                visited.add(callee)
                if module.first_reached(callee, "freeze", module.freeze_call) is None:
                    continue
                found = _locate(module, callee.body, visited)
                if found is not None:
                    freeze, runner = found
                    return freeze, _first_runner(body[:index]) or runner
    return None


def check(module: Module) -> Iterator[Hit]:
    if not module.uses_processes:
        return
    for _, body in module.guards:
        found = _locate(module, body, set())
        if found is None or found[1] is None:
            continue
        freeze, runner = found
        name = callee_text(freeze)
        message = (
            f"{name} must run first, but `{short(runner)}` (line {runner.lineno}) runs before "
            f"it, so it also runs in every frozen worker; move {name} to the top of the main guard"
        )
        yield (
            freeze,
            message,
        )


RULE = Rule(
    code="QC003",
    name="late-freeze-support",
    summary="`freeze_support()` is not the first statement of the main guard.",
    check=check,
)
