"""The rules as a flake8 plugin (entry point ``QC``, registered in ``pyproject.toml``).

flake8 handles ``# noqa``, ``--select`` and ``--extend-ignore`` itself, and reports syntax errors
as E999, so the plugin only runs the rules on the tree flake8 already parsed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from qtcompute.check._analysis import Module
from qtcompute.check.rules import RULES


class QtComputeChecker:
    """flake8 AST plugin: yields ``(line, col, "QCnnn message", type)``; ``col`` counts from 0."""

    name = "qtcompute"
    version = "0.1.0"

    def __init__(self, tree: ast.Module, filename: str = "<unknown>") -> None:
        self.tree = tree
        self.filename = filename

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        module = Module(self.tree, self.filename)
        for rule in RULES:
            for node, message in rule.check(module):
                line = getattr(node, "lineno", 1)
                col = getattr(node, "col_offset", 0)
                yield line, col, f"{rule.code} {message}", type(self)
