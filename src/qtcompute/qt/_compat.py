"""The few places where PyQt and PySide differ, behind one name each.

qtpy already unifies the modules and the ``Signal``/``Slot`` names; what it leaves to us is the
question "is the C++ side of this wrapper gone?", which PyQt answers with ``sip.isdeleted`` and
PySide with ``shiboken.isValid``. The bridge asks it before every delivery, so that a callback never
touches a deleted object ("wrapped C/C++ object ... has been deleted").
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

import qtpy
from qtpy.QtCore import QObject, Signal

API_NAME: str = qtpy.API_NAME
"""The binding in use, as qtpy names it (``"PyQt5"``, ``"PyQt6"``, ``"PySide6"``, ...)."""

if qtpy.PYQT5 or qtpy.PYQT6:
    from qtpy import sip as _sip

    def is_deleted(obj: Any) -> bool:
        """True when ``obj`` wraps a Qt object whose C++ side has been destroyed."""
        return bool(_sip.isdeleted(obj))

else:
    from qtpy import shiboken as _shiboken

    def is_deleted(obj: Any) -> bool:
        """True when ``obj`` wraps a Qt object whose C++ side has been destroyed."""
        return not _shiboken.isValid(obj)


def is_alive(obj: Any) -> bool:
    """True for anything that is not a Qt wrapper of a destroyed C++ object.

    Plain Python objects and functions are always alive; a bound method is alive when the object
    it is bound to is.
    """
    target = getattr(obj, "__self__", obj)
    return not (isinstance(target, QObject) and is_deleted(target))


def _emit_steals_result() -> bool:
    """Does ``emit`` return its bool without a reference (PySide6 6.12.0 on Python < 3.12)?"""
    if not (qtpy.PYSIDE6 or qtpy.PYSIDE2) or sys.version_info >= (3, 12):
        return False

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    stolen = False
    for value in (True, False):
        before = sys.getrefcount(value)
        probe.ping.emit()  # the result is dropped at once, so a missing reference shows now
        missing = before - sys.getrefcount(value)
        for _ in range(max(0, missing)):  # repair the probe's own damage
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(value))
        stolen = stolen or missing > 0
    return stolen


_EMIT_STEALS_RESULT = _emit_steals_result()


def emit(signal: Any, *args: Any) -> None:
    """``signal.emit(*args)``, safe from the PySide6 6.12.0 reference bug (see module doc)."""
    result = signal.emit(*args)
    if _EMIT_STEALS_RESULT and isinstance(result, bool):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))
