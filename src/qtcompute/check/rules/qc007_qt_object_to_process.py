"""## What it does
Checks for a Qt object passed as an argument to another process: in `Process(args=...,
kwargs=...)`, as an extra argument of `submit(fn, ...)`, in the `args`/`kwargs` of `schedule`
or `apply_async`, in a literal list given to `map`, or sent through a pipe (`conn.send(x)`) or a
multiprocessing queue (`queue.put(x)`, also inside a literal tuple). A `queue.Queue` between
threads pickles nothing and is not reported. A Qt object is `self` inside a class
derived from a Qt class, or a value created by calling a Qt class (`QLabel(...)`,
`self.label = QLabel(...)`), except the value types Qt can pickle (`QPoint`, `QColor`,
`QByteArray`, ...). Receivers are recognised as in QC006.

## Why is this bad?
Widgets and other `QObject`s wrap C++ objects owned by the GUI thread: they cannot be pickled,
so the task fails with `TypeError: cannot pickle 'QLabel' object` (and even if they could, a
copy in another process would not be the widget on the screen).

## Example
```python
class Window(QMainWindow):
    def start(self):
        self.pool.submit(render, self.canvas)
```

## Use instead
```python
class Window(QMainWindow):
    def start(self):
        future = self.pool.submit(render, self.canvas.width(), self.canvas.height())
```
Send plain data, and update widgets in the GUI thread when the result comes back.

## Known limitations
- Only Qt objects the file creates or holds in `self` are known: a widget that arrives as a
  parameter from another module, or is returned by a function, is not recognised.
- What a container holds is not followed (`conn.send({"label": self.label})` is reported only
  for a literal tuple or list).

## References
- [Python: what can be pickled and unpickled](https://docs.python.org/3/library/pickle.html#what-can-be-pickled-and-unpickled)
- [Qt: threads and QObjects](https://doc.qt.io/qt-6/threads-qobject.html)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from qtcompute.check import _knowledge as k
from qtcompute.check._analysis import Module, short
from qtcompute.check._scopes import pos
from qtcompute.check._sends import iter_sends
from qtcompute.check.rules._base import Hit, Rule

_CHANNEL_METHODS = frozenset({"send", "put", "put_nowait"})


_MESSAGE = (
    "`{}` is a Qt object and cannot be pickled for a worker process (TypeError); send plain "
    "data (text, numbers, bytes) instead"
)


def _channel_sends(module: Module) -> Iterator[ast.expr]:
    """What ``conn.send(x)`` and ``queue.put(x)`` pickle, on a pipe or multiprocessing queue."""
    for call in module.calls:
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr in _CHANNEL_METHODS and call.args):
            continue
        kind = module.kind_at(func.value, call)
        if kind not in (k.CONNECTION, k.QUEUE):
            continue
        value = call.args[0]
        yield from value.elts if isinstance(value, (ast.Tuple, ast.List)) else [value]


def check(module: Module) -> Iterator[Hit]:
    if not module.uses_processes:
        return
    for send in iter_sends(module):
        at = pos(send.call)
        for argument in send.arguments:
            if module.kind_of(argument, send.scope, at) == k.QT_OBJECT:
                yield argument, _MESSAGE.format(short(argument))
    for value in _channel_sends(module):
        if module.kind_at(value, value) == k.QT_OBJECT:
            yield value, _MESSAGE.format(short(value))


RULE = Rule(
    code="QC007",
    name="qt-object-to-process",
    summary="A Qt object passed as an argument to another process.",
    check=check,
)
