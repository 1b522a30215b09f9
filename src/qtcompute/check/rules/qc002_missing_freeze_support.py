"""## What it does
Checks for a script whose main guard starts worker processes, directly or through a function of
the same file, but that never calls `multiprocessing.freeze_support()` or a qtcompute entry
point (`qtcompute.run(main)`, a function decorated `@qtcompute.main`).

Functions imported from other modules are not followed: a guard that only calls
`app.main()` from another file is not reported.

## Why is this bad?
A frozen executable has no Python interpreter to spawn. `multiprocessing` starts workers by
running the executable itself with special arguments, and only `freeze_support()` recognises
them and turns the new process into a worker. Without it each worker runs the whole application
again, which starts more workers: PyInstaller gives no warning, and the frozen app creates
processes until the machine stops.

## Example
```python
import multiprocessing

if __name__ == "__main__":
    queue = multiprocessing.Queue()
    multiprocessing.Process(target=work, args=(queue,), daemon=True).start()
    run_gui(queue)
```

## Use instead
```python
import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()
    queue = multiprocessing.Queue()
    multiprocessing.Process(target=work, args=(queue,), daemon=True).start()
    run_gui(queue)
```
or let qtcompute do it: `qtcompute.run(main)`.

## References
- [Python: multiprocessing.freeze_support](https://docs.python.org/3/library/multiprocessing.html#multiprocessing.freeze_support)
- [PyInstaller: multiprocessing](https://pyinstaller.org/en/stable/common-issues-and-pitfalls.html#multi-processing)
"""

from __future__ import annotations

from collections.abc import Iterator

from qtcompute.check._analysis import Module, callee_text
from qtcompute.check.rules._base import Hit, Rule


def check(module: Module) -> Iterator[Hit]:
    if not module.uses_processes or not module.guards:
        return
    everywhere = module.import_calls + module.guard_calls
    for call in everywhere:
        if module.reached_from(call, "freeze", module.freeze_call) is not None:
            return
    if any(module.is_entry_function(func) for func in module.functions):
        return
    for call in module.guard_calls:
        found = module.reached_from(call, "start", module.starts_processes)
        if found is not None:
            start, _ = found
            guard = module.guards[0][0]
            where = f"{callee_text(start)} on line {start.lineno}"
            message = (
                f"the main guard starts processes ({where}) but never calls "
                "multiprocessing.freeze_support(), so a frozen app re-runs itself in every "
                "worker; call it first in the guard (or use qtcompute.run(main))"
            )
            yield guard, message
            return


RULE = Rule(
    code="QC002",
    name="missing-freeze-support",
    summary="A script starts processes but never calls `freeze_support()`.",
    check=check,
)
