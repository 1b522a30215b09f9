"""``qtcompute check``: a static checker for multiprocessing and freezing pitfalls in Qt apps.

No other linter knows that a frozen app needs ``multiprocessing.freeze_support()`` first in its
main guard, or that a Qt slot must not wait on a worker's queue. The rules live one per module
in :mod:`qtcompute.check.rules`; the same rules run as a flake8 plugin (``flake8_plugin.py``).
"""

from __future__ import annotations

from qtcompute.check._findings import SYNTAX_ERROR, Finding
from qtcompute.check._format import format_json, format_sarif, format_text
from qtcompute.check._runner import CheckError, Report, check_paths, check_source, discover
from qtcompute.check.rules import RULES, Rule

__all__ = [
    "RULES",
    "SYNTAX_ERROR",
    "CheckError",
    "Finding",
    "Report",
    "Rule",
    "check_paths",
    "check_source",
    "discover",
    "format_json",
    "format_sarif",
    "format_text",
]
