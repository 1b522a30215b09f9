"""## What it does
Checks for a multiprocessing lock, semaphore, event, condition, barrier, queue or shared value
(`Value`, `Array`) created at module level and read by a function of the same file that runs in
a worker process (a `Process` target or a function sent to a process pool, as in QC006).

## Why is this bad?
Under `spawn` (Windows, macOS, every frozen app, and Linux from Python 3.14) a worker does not
inherit the parent's objects: it imports the module again and creates its own semaphore. A
`Semaphore(3)` meant to cap browser drivers across four workers caps nothing, and a module-level
`Event` set by the parent is never seen by the workers. It works under `fork`, so it passes on
the developer's Linux machine and fails on the users'.

## Example
```python
driver_cap = multiprocessing.Semaphore(3)


def work(item):
    with driver_cap:
        return fetch(item)
```

## Use instead
```python
def init(cap):
    global driver_cap
    driver_cap = cap


def work(item):
    with driver_cap:
        return fetch(item)


if __name__ == "__main__":
    cap = multiprocessing.Semaphore(3)
    with multiprocessing.Pool(4, initializer=init, initargs=(cap,)) as pool:
        pool.map(work, items)
```

## Known limitations
- Only names read directly in the worker function are seen, not in functions it calls.
- A module-level primitive that a worker receives again through `initargs` (and rebinds with
  `global`) is still reported: silence the line with `# noqa: QC012`.

## References
- [Python: the spawn start method, "Explicitly pass resources to child processes"](https://docs.python.org/3/library/multiprocessing.html#the-spawn-and-forkserver-start-methods)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from qtcompute.check._analysis import Module, callee_text
from qtcompute.check._scopes import pos
from qtcompute.check._sends import iter_sends
from qtcompute.check.rules._base import Hit, Rule

_SHARED = frozenset(
    {"Semaphore", "BoundedSemaphore", "Lock", "RLock", "Event", "Condition", "Barrier", "Value",
     "Array", "Queue", "JoinableQueue", "SimpleQueue"}
)  # fmt: skip


def check(module: Module) -> Iterator[Hit]:
    """``cap = multiprocessing.Semaphore(3)`` at module level, read by a worker function."""
    if not module.uses_processes:
        return
    primitives: dict[str, ast.Call] = {}
    for stmt in module.tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
            if isinstance(target, ast.Name) and isinstance(value, ast.Call):
                qualname = module.qualname_at(value.func, value) or ""
                head, _, last = qualname.rpartition(".")
                if head.startswith("multiprocessing") and last in _SHARED:
                    primitives[target.id] = value
    if not primitives:
        return
    workers = set()
    for send in iter_sends(module):
        if send.function is not None:
            target = module.function_ref(send.function, send.scope, pos(send.call))
            if target is not None:
                workers.add(target)
    for name, value in primitives.items():
        user = next(
            (
                func
                for func in workers
                if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(func.node))
            ),
            None,
        )
        if user is not None:
            yield (
                value,
                (
                    f"`{name}` is created when the module is imported, so under spawn each "
                    f"worker running {user.name}() imports the module again and gets its own "
                    f"{callee_text(value)}, shared with no one; create it in the main guard and "
                    "pass it to the workers (Process(args=...), Pool(initializer=...))"
                ),
            )


RULE = Rule(
    code="QC012",
    name="module-level-shared-state",
    summary="A multiprocessing lock or queue at module level that workers expect to share.",
    check=check,
)
