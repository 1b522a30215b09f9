"""Which thread runs a function: the GUI thread (slots and what they call) or another one.

QC008 reports waits only in the GUI thread, so both directions matter: a function connected to a
signal or decorated as a slot of a widget runs there; a method of an object moved with
``moveToThread``, ``run`` of a thread class, a thread or executor target, and what those call,
run elsewhere, even when they are also slots.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from qtcompute.check import _knowledge as k
from qtcompute.check._scopes import ClassInfo, FuncInfo, pos
from qtcompute.check._text import found_name

if TYPE_CHECKING:
    from qtcompute.check._analysis import Module  # which calls this module


def off_gui_functions(module: Module) -> dict[FuncInfo, str]:
    """Functions that run in another thread. Value: the reason.

    The methods of a class whose instances are moved with ``moveToThread``, ``run`` of a
    ``QThread``/``Thread`` subclass, thread and executor targets, and what those call.
    """
    found: dict[FuncInfo, str] = {}
    moved: dict[ClassInfo, int] = {}
    for call in module.calls:
        func = call.func
        scope, at = module.scope_of(call), pos(call)
        target: ast.expr | None = None
        if isinstance(func, ast.Attribute) and func.attr == "moveToThread":
            owner = module.instance_class(func.value, scope, at)
            if isinstance(owner, ClassInfo):
                moved.setdefault(owner, call.lineno)
            continue
        if isinstance(func, ast.Attribute) and func.attr in k.THREAD_SEND_METHODS:
            if module.kind_of(func.value, scope, at) == k.THREADS and call.args:
                index = 1 if func.attr == "run_in_executor" else 0
                target = call.args[index] if len(call.args) > index else None
        elif any(kw.arg == "target" for kw in call.keywords) and (
            module.kind_of(call, scope, at) == k.THREAD
        ):
            target = _argument_value(call, "target")
        ref = module.function_ref(target, scope, at) if target is not None else None
        if ref is not None:
            found.setdefault(ref, f"run by a thread (line {call.lineno})")
    for cls in module.classes:
        line = moved.get(cls)
        for method in cls.methods.values():
            if line is not None:
                found.setdefault(
                    method, f"a method of {cls.name}, moved to a thread on line {line}"
                )
        if module.is_thread_class(cls):
            run = cls.methods.get("run")
            if run is not None:
                found.setdefault(run, f"{cls.name}.run(), which runs in its thread")
    pending = list(found)
    while pending:
        func = pending.pop()
        for call in func.calls:
            for callee in module.callees(call):
                if callee not in found:
                    found[callee] = f"called from {found_name(func)}, which runs in a thread"
                    pending.append(callee)
    return found


def gui_functions(module: Module) -> dict[FuncInfo, str]:
    """Functions that run in the GUI thread: slots, and what they call. Value: the reason."""
    found: dict[FuncInfo, str] = {}
    for call in module.calls:
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr == "connect" and call.args):
            continue
        scope, at = module.scope_of(call), pos(call)
        if module.qualname(func.value, scope, at) is not None:
            continue  # sqlite3.connect(...), QObject.connect(...): not a signal
        target = module.function_ref(call.args[0], scope, at)
        if target is not None and target not in found:
            found[target] = f"connected to a signal on line {call.lineno}"
    for func in module.functions:
        if isinstance(func.node, ast.Lambda) or func in found:
            continue
        for decorator in func.node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            qualname = module.qualname(target, func.scope.parent or func.scope, pos(func.node))
            widget = func.cls is None or module.is_widget_class(func.cls)
            if qualname and k.is_slot_decorator(qualname) and widget:
                found[func] = "a Qt slot"
    if not found:
        return found
    off = module.off_gui_functions
    found = {func: why for func, why in found.items() if func not in off}
    pending = list(found)
    while pending:
        func = pending.pop()
        for call in func.calls:
            for callee in module.callees(call):
                if callee not in found and callee not in off:
                    found[callee] = f"called from {found_name(func)}, which runs in the GUI thread"
                    pending.append(callee)
    return found


def _argument_value(call: ast.Call, *names: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg in names:
            return keyword.value
    return None
