"""## What it does
Checks for `freeze_support()` called as a method of a multiprocessing context:
`multiprocessing.get_context("spawn").freeze_support()` or `ctx.freeze_support()`.

## Why is this bad?
The context method only acts on Windows (`if sys.platform == 'win32'`) and PyInstaller does not
replace it: its runtime hook patches the module-level `multiprocessing.freeze_support`. A
frozen app on macOS or Linux that uses `spawn` therefore gets no freeze support at all, and its
workers run the application again.

## Example
```python
ctx = multiprocessing.get_context("spawn")

if __name__ == "__main__":
    ctx.freeze_support()
```

## Use instead
```python
ctx = multiprocessing.get_context("spawn")

if __name__ == "__main__":
    multiprocessing.freeze_support()
```

## Known limitations
- The context must be known from an assignment in the same file (`ctx = get_context(...)`); a
  context passed in as a parameter from another module is not recognised.

## References
- [PyInstaller: multiprocessing runtime hook](https://github.com/pyinstaller/pyinstaller/blob/develop/PyInstaller/hooks/rthooks/pyi_rth_multiprocessing.py)
- [Python: multiprocessing.freeze_support](https://docs.python.org/3/library/multiprocessing.html#multiprocessing.freeze_support)
"""

from __future__ import annotations

from collections.abc import Iterator

from qtcompute.check._analysis import Module, callee_text
from qtcompute.check.rules._base import Hit, Rule


def check(module: Module) -> Iterator[Hit]:
    if not module.uses_processes:
        return
    for call in module.calls:
        if module.freeze_call(call) == "context":
            yield (
                call,
                (
                    f"{callee_text(call)} is a context's method, which PyInstaller does not patch "
                    "and which does nothing outside Windows; call multiprocessing.freeze_support()"
                ),
            )


RULE = Rule(
    code="QC004",
    name="context-freeze-support",
    summary="`freeze_support()` called on a context instead of the module.",
    check=check,
)
