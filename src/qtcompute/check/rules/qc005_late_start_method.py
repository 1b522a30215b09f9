"""## What it does
Checks for `multiprocessing.set_start_method(...)` called where it runs on import (module level
outside the main guard, or a class body), or in the main guard after processes have already
been started (directly or through functions of the same file). Calls with `force=True` are
deliberate and not reported; calls inside functions are reported only when the main guard
reaches them after starting processes.

## Why is this bad?
A spawned child imports the main module again after its start method has been set, so a
module-level `set_start_method()` raises `RuntimeError: context has already been set` in every
worker. Called after processes started, it either raises the same error or silently leaves the
running workers on another method.

## Example
```python
import multiprocessing

multiprocessing.set_start_method("spawn")

if __name__ == "__main__":
    main()
```

## Use instead
```python
import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()
    multiprocessing.set_start_method("spawn")
    main()
```

## Known limitations
- Process starts and `set_start_method()` are ordered through functions of the same file only.
- A call behind a condition (`if sys.platform == "darwin":`) counts as if it always ran.

## References
- [Python: contexts and start methods](https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from qtcompute.check._analysis import Module, callee_text, calls_in
from qtcompute.check._scopes import FuncInfo
from qtcompute.check.rules._base import Hit, Rule


def _forced(call: ast.Call) -> bool:
    """``force=`` given as anything but a false constant."""
    values = [kw.value for kw in call.keywords if kw.arg == "force"] + call.args[1:2]
    return any(not (isinstance(v, ast.Constant) and not v.value) for v in values)


def _trace(
    module: Module, body: list[ast.stmt], visited: set[FuncInfo]
) -> Iterator[tuple[str, ast.Call]]:
    """Process starts and set_start_method() calls in the order the code runs them."""
    for stmt in body:
        for call in calls_in(stmt):
            if module.starts_processes(call):
                yield "start", call
            elif module.is_set_start_method(call):
                yield "set", call
            else:
                for callee in module.callees(call):
                    if callee not in visited:
                        visited.add(callee)
                        yield from _trace(module, callee.body, visited)


def check(module: Module) -> Iterator[Hit]:
    if not module.uses_processes:
        return
    for call in module.import_calls:
        if module.is_set_start_method(call) and not _forced(call):
            message = (
                f"{callee_text(call)} runs on import, so again in every spawned child, where "
                "the method is already set (RuntimeError); call it at the top of the main guard"
            )
            yield call, message
    for _, body in module.guards:
        started: ast.Call | None = None
        for event, call in _trace(module, body, set()):
            if event == "start" and started is None:
                started = call
            elif event == "set" and started is not None and not _forced(call):
                where = f"{callee_text(started)} on line {started.lineno}"
                message = (
                    f"{callee_text(call)} runs after processes started ({where}), which raises "
                    "RuntimeError or leaves those workers on another method; call it at the top "
                    "of the main guard"
                )
                yield call, message


RULE = Rule(
    code="QC005",
    name="late-start-method",
    summary="`set_start_method()` called on import or after processes started.",
    check=check,
)
