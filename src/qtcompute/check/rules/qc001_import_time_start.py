"""## What it does
Checks for code that starts worker processes while the module is being imported: at module
level (or in a class body) outside `if __name__ == "__main__":` and outside any function. It
reports `Process(...).start()`, `multiprocessing.Pool(...)`, `Manager()`, `qtcompute.Pool(...)`,
the first `submit`/`map` on a `ProcessPoolExecutor`, and calls to functions of the same file
that do one of these. A process pool created at module level (`pool = ProcessPoolExecutor()`,
`loky.get_reusable_executor()`) is reported too, even before anything is submitted.

## Why is this bad?
Under the `spawn` start method (Windows, macOS, every frozen app) each worker starts a fresh
interpreter and imports the main module again. Code that starts processes on import therefore
runs again in every child: `multiprocessing` raises `RuntimeError: An attempt has been made to
start a new process before the current process has finished its bootstrapping phase`, and a
frozen executable can start copies of itself until the machine stops.

Executors from `concurrent.futures` start their workers on the first submit, so the rule reports
that call rather than the constructor.

## Example
```python
import multiprocessing

pool = multiprocessing.Pool(4)
results = pool.map(work, range(10))
```

## Use instead
```python
import multiprocessing


def main():
    with multiprocessing.Pool(4) as pool:
        results = pool.map(work, range(10))


if __name__ == "__main__":
    multiprocessing.freeze_support()
    main()
```

## Known limitations
- Only the module's own code is followed: an imported function called at module level that
  starts processes in another module is not reported here (QC002 follows the program from its
  entry points).
- Code under `if TYPE_CHECKING:` or a `try:` at module level counts as import-time code.

## References
- [Python: the spawn and forkserver start methods, "Safe importing of main module"](https://docs.python.org/3/library/multiprocessing.html#multiprocessing-safe-main-import)
- [PyInstaller: multiprocessing](https://pyinstaller.org/en/stable/common-issues-and-pitfalls.html#multi-processing)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from qtcompute.check import _knowledge as k
from qtcompute.check._analysis import Module, callee_text
from qtcompute.check.rules._base import Hit, Rule

_FIX = 'move it into a function called under `if __name__ == "__main__":`'


def _module_level_pools(module: Module) -> Iterator[Hit]:
    """``pool = ProcessPoolExecutor()`` at module level: each worker creates one on import."""
    for stmt in module.tree.body:
        value = stmt.value if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else None
        if not isinstance(value, ast.Call) or module.kind_at(value, value) != k.EXECUTOR:
            continue
        if module.qualname_at(value.func, value) is None:
            continue
        yield (
            value,
            (
                f"{callee_text(value)} creates a process pool when the module is imported, and "
                "every spawned worker imports the module again and creates its own; create it "
                'in a function called under `if __name__ == "__main__":`'
            ),
        )


def check(module: Module) -> Iterator[Hit]:
    if not module.uses_processes:
        return
    yield from _module_level_pools(module)
    for call in module.import_calls:
        if module.starts_processes(call):
            yield (
                call,
                (
                    f"{callee_text(call)} starts processes when the module is imported, and every "
                    f"spawned child imports it again; {_FIX}"
                ),
            )
            continue
        for callee in module.callees(call):
            found = module.first_reached(callee, "start", module.starts_processes)
            if found is not None:
                start, _ = found
                yield (
                    call,
                    (
                        f"{callee_text(call)} starts processes ({callee_text(start)} on line "
                        f"{start.lineno}) when the module is imported, and every spawned child "
                        f"imports it again; {_FIX}"
                    ),
                )
                break


RULE = Rule(
    code="QC001",
    name="import-time-process-start",
    summary="Processes started when the module is imported.",
    check=check,
)
