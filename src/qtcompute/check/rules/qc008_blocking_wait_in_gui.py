"""## What it does
Checks for a wait without a timeout in code that runs in the GUI thread: `.get()` on a queue or
an `AsyncResult`, `.recv()` on a pipe, `.join()` on a process or pool, `.result()` on a future.
Code runs in the GUI thread when it is a function connected to a signal
(`button.clicked.connect(on_click)`, `self.timer.timeout.connect(self.poll)`, a lambda), a
method decorated `@pyqtSlot`/`@Slot`, or a function of the same file that one of those calls.

The receiver is known from an assignment in the same file (`multiprocessing.Queue()`,
`queue.Queue()`, `Pipe()`, `Process(...)`, `pool.submit(...)`) or, when nothing in the file says
what it is, by its name: `.get()` on a name ending in `queue` or `_q`, `.result()` on one ending
in `future` or `fut`, `.recv()` on one ending in `conn`, `connection` or `pipe`, `.join()` on one
ending in `process` or `proc`. Awaited calls are not reported.

## Why is this bad?
While the GUI thread waits, Qt processes no events: the window does not repaint, buttons do not
respond, and the operating system offers to kill the "not responding" app. When the worker has
died or swallowed its error, the wait never ends. The seed script's click handler does exactly
this with `output_queue.get()`.

## Example
```python
def on_click():
    input_queue.put((x, y))
    result = output_queue.get()
    output_list.addItem(str(result))


button.clicked.connect(on_click)
```

## Use instead
```python
def on_click():
    input_queue.put((x, y))


def poll_results():
    while not output_queue.empty():
        output_list.addItem(str(output_queue.get_nowait()))


timer.timeout.connect(poll_results)
```
or let `qtcompute.qt` deliver results as signals.

## References
- [Qt: the event loop and responsiveness](https://doc.qt.io/qt-6/threads-qobject.html)
- [Python: multiprocessing.Queue.get](https://docs.python.org/3/library/multiprocessing.html#multiprocessing.Queue.get)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from qtcompute.check import _knowledge as k
from qtcompute.check._analysis import Module, short
from qtcompute.check._scopes import pos
from qtcompute.check._sends import last_name
from qtcompute.check.rules._base import Hit, Rule


def _timeout_given(call: ast.Call, positional: int) -> bool:
    """A ``timeout=`` keyword that is not None, or a positional argument at index ``positional``."""
    for keyword in call.keywords:
        if keyword.arg == "timeout":
            return not (isinstance(keyword.value, ast.Constant) and keyword.value.value is None)
    return len(call.args) > positional


def _queue_get_blocks(call: ast.Call) -> bool:
    for keyword in call.keywords:
        if keyword.arg == "block" and not (
            isinstance(keyword.value, ast.Constant) and keyword.value.value is True
        ):
            return False
    if call.args:
        first = call.args[0]
        if not (isinstance(first, ast.Constant) and first.value is True):
            return False
    return not _timeout_given(call, 1)


def _blocking(module: Module, call: ast.Call) -> bool:
    func = call.func
    if not isinstance(func, ast.Attribute):
        return False
    method = func.attr
    if method not in ("get", "recv", "join", "result"):
        return False
    scope, at = module.scope_of(call), pos(call)
    kind = module.kind_of(func.value, scope, at)
    if kind is None and module.qualname(func.value, scope, at) is None:
        name = last_name(func.value) or ""
        guesses = {
            "get": (k.QUEUE_NAME, k.QUEUE),
            "result": (k.FUTURE_NAME, k.FUTURE),
            "recv": (k.CONNECTION_NAME, k.CONNECTION),
            "join": (k.PROCESS_NAME, k.PROCESS),
        }
        pattern, guess = guesses[method]
        kind = guess if pattern.search(name) else None
    if method == "get":
        if kind == k.QUEUE:
            return _queue_get_blocks(call)
        return kind == k.FUTURE and not _timeout_given(call, 0)
    if method == "recv":
        return kind == k.CONNECTION and not call.args
    if method == "join":
        return kind in (k.PROCESS, k.POOL) and not _timeout_given(call, 0)
    return kind == k.FUTURE and not _timeout_given(call, 0)


def check(module: Module) -> Iterator[Hit]:
    gui = module.gui_functions
    if not gui:
        return
    awaited = {
        node.value
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Await) and isinstance(node.value, ast.Call)
    }
    for func, reason in gui.items():
        for call in func.calls:
            if call not in awaited and _blocking(module, call):
                name = f"{func.name}()" if func.name != "<lambda>" else "this lambda"
                message = (
                    f"`{short(call)}` blocks the GUI thread ({name} is {reason}) and the "
                    "window freezes until a worker answers; pass a timeout, poll without "
                    "blocking, or deliver results with a signal"
                )
                yield call, message


RULE = Rule(
    code="QC008",
    name="blocking-wait-in-gui",
    summary="A wait without a timeout in a function that runs in the GUI thread.",
    check=check,
)
