"""## What it does
Checks for a wait without a timeout in code that runs in the GUI thread: `.get()` on a queue or
an `AsyncResult`, `.recv()` on a pipe, `.join()` on a process, pool or `threading.Thread`,
`.wait()` on a `QThread`, `.result()` on a future. Code runs in the GUI thread when it is a
function connected to a signal (`button.clicked.connect(on_click)`,
`self.timer.timeout.connect(self.poll)`, a lambda), a method decorated `@pyqtSlot`/`@Slot`, or
a function of the same file that one of those calls.

The receiver is known from an assignment in the same file (`multiprocessing.Queue()`,
`queue.Queue()`, `Pipe()`, `Process(...)`, `pool.submit(...)`, `pool.apply_async(...)`), from
what every call site in the file passes for a parameter (`Panel(pool)` after
`pool = multiprocessing.Pool()`), or, when nothing in the file says what it is, by its name:
`.get()` on a name ending in `queue` or `_q`, `.result()` on one ending in `future` or `fut`,
`.recv()` on one ending in `conn`, `connection` or `pipe`, `.join()` on one ending in `process`
or `proc`.

Left alone, since they return at once or do not run in the GUI thread:
- a wait under a test that asks first (`if not p.is_alive():`, `while not q.empty():`,
  `if conn.poll():`, also `ready()`, `done()`, `qsize()`), or after `if q.empty(): return`;
- `join()` or `wait()` after `terminate()`, `kill()`, `quit()`, `exit()`, `stop()`,
  `cancel()` or `requestInterruption()` on the same object, or after a `processEvents()` loop in
  the same function;
- `get()` on a `queue.Queue` that nothing outside the GUI thread fills or receives;
- methods of an object moved to another thread with `moveToThread`, `run()` of a `QThread` or
  `Thread` subclass, thread and executor targets, and what those call;
- awaited calls.

## Why is this bad?
While the GUI thread waits, Qt processes no events: the window does not repaint, buttons do not
respond, and the operating system offers to kill the "not responding" app. When the worker has
died or swallowed its error, the wait never ends. The usual two-queue recipe (a worker process
reads an input queue and writes an output queue) does exactly this in its click handler, with
`output_queue.get()`.

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

## Known limitations
- Which thread runs a function is decided per file: a slot connected in another module, or a
  worker object moved to a thread in another module, is not known.
- A probe guards a wait whatever object it asks (`if a.poll(): b.recv()` is left alone).
- A `queue.Queue` counts as shared when it is passed to any call, even one that keeps it in the
  GUI thread.

## References
- [Qt: the event loop and responsiveness](https://doc.qt.io/qt-6/threads-qobject.html)
- [Python: multiprocessing.Queue.get](https://docs.python.org/3/library/multiprocessing.html#multiprocessing.Queue.get)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from qtcompute.check import _knowledge as k
from qtcompute.check._analysis import Module, calls_in, short
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


_PROBES = frozenset({"is_alive", "empty", "poll", "ready", "done", "qsize", "full", "isFinished"})
# asked to stop first: the wait that follows is the documented shutdown, and short
_STOPS = frozenset({"terminate", "kill", "stop", "quit", "exit", "requestInterruption", "cancel"})
_EXITS = (ast.Return, ast.Raise, ast.Continue, ast.Break)


def _probes(test: ast.expr) -> bool:
    """Whether a test asks first whether the wait can end at once (``not p.is_alive()``)."""
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _PROBES
        for node in ast.walk(test)
    )


def _guarded_calls(body: list[ast.stmt]) -> set[ast.Call]:
    """Calls under an ``if``/``while`` whose test probes, or after ``if probe: return``."""
    found: set[ast.Call] = set()
    stack: list[tuple[list[ast.stmt], bool]] = [(body, False)]
    while stack:
        statements, guarded = stack.pop()
        for stmt in statements:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(stmt, (ast.If, ast.While)):
                probed = guarded or _probes(stmt.test)
                stack.append((stmt.body, probed))
                stack.append((stmt.orelse, probed))
                if guarded:
                    found.update(calls_in(stmt.test))
                if probed and stmt.body and isinstance(stmt.body[-1], _EXITS):
                    guarded = True  # ``if q.empty(): return``: what follows is probed
                continue
            nested = [
                value
                for name in ("body", "orelse", "finalbody", "handlers", "cases")
                for value in [getattr(stmt, name, None)]
                if isinstance(value, list) and value
            ]
            if nested:
                for block in nested:
                    items = [h for h in block if isinstance(h, (ast.stmt, ast.ExceptHandler))]
                    stack.append(([s for h in items for s in _statements(h)], guarded))
                if guarded:
                    found.update(c for c in calls_in(stmt) if True)
                continue
            if guarded:
                found.update(calls_in(stmt))
    return found


def _statements(node: ast.AST) -> list[ast.stmt]:
    if isinstance(node, (ast.ExceptHandler, getattr(ast, "match_case", ast.ExceptHandler))):
        return list(node.body)
    return [node]  # type: ignore[list-item]


def _stopped_first(func_calls: list[ast.Call], call: ast.Call) -> bool:
    """``p.terminate()`` (or ``quit()``...) on the same receiver before ``p.join()``.

    So does a join after a loop of ``processEvents()``: that loop is the wait, and it keeps the
    window alive (it waits for a flag the thread sets last).
    """
    receiver = ast.dump(call.func.value)  # type: ignore[attr-defined]
    if any(
        isinstance(other.func, ast.Attribute)
        and other.func.attr == "processEvents"
        and pos(other) < pos(call)
        for other in func_calls
    ):
        return True
    return any(
        isinstance(other.func, ast.Attribute)
        and other.func.attr in _STOPS
        and pos(other) < pos(call)
        and ast.dump(other.func.value) == receiver
        for other in func_calls
    )


def _shared_with_a_thread(module: Module, receiver: ast.expr, gui: dict) -> bool:
    """Whether a ``queue.Queue`` is filled outside the GUI thread, or handed to anything."""
    text = ast.dump(receiver)
    for call in module.calls:
        func = call.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("put", "put_nowait")
            and ast.dump(func.value) == text
            and module.func_of(call) not in gui
        ):
            return True
        values = [*call.args, *(kw.value for kw in call.keywords)]
        values += [e for v in values if isinstance(v, (ast.Tuple, ast.List)) for e in v.elts]
        if any(ast.dump(v) == text for v in values):
            return True
    return False


def _blocking(module: Module, call: ast.Call, gui: dict) -> bool:
    func = call.func
    if not isinstance(func, ast.Attribute):
        return False
    method = func.attr
    if method not in ("get", "recv", "join", "result", "wait"):
        return False
    scope, at = module.scope_of(call), pos(call)
    kind = module.kind_of(func.value, scope, at)
    if kind is None and method != "wait" and module.qualname(func.value, scope, at) is None:
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
        if kind == k.THREAD_QUEUE:
            return _queue_get_blocks(call) and _shared_with_a_thread(module, func.value, gui)
        if kind == k.QUEUE:
            return _queue_get_blocks(call)
        return kind == k.FUTURE and not _timeout_given(call, 0)
    if method == "recv":
        return kind == k.CONNECTION and not call.args
    if method == "join":
        return kind in (k.PROCESS, k.POOL, k.THREAD) and not _timeout_given(call, 0)
    if method == "wait":
        return kind == k.THREAD and not call.args and not call.keywords
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
        guarded: set[ast.Call] | None = None
        for call in func.calls:
            if call in awaited or not _blocking(module, call, gui):
                continue
            if guarded is None:
                guarded = _guarded_calls(func.body)
            if call in guarded:
                continue
            if call.func.attr in ("join", "wait") and _stopped_first(func.calls, call):  # type: ignore[attr-defined]
                continue
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
