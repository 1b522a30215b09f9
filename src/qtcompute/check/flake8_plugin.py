"""The rules as a flake8 plugin (entry point ``QC``, registered in ``pyproject.toml``).

flake8 handles ``# noqa``, ``--select`` and ``--extend-ignore`` itself, and reports syntax errors
as E999, so the plugin only runs the rules on the tree flake8 already parsed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from qtcompute.check._analysis import Module
from qtcompute.check._entries import ProjectConfig
from qtcompute.check._project import FileFacts, Project
from qtcompute.check._summary import summarize
from qtcompute.check.rules import RULES


class QtComputeChecker:
    """flake8 AST plugin: yields ``(line, col, "QCnnn message", type)``; ``col`` counts from 0."""

    name = "qtcompute"
    version = "0.1.0"

    def __init__(self, tree: ast.Module, filename: str = "<unknown>") -> None:
        self.tree = tree
        self.filename = filename

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        """The file rules, then the whole-program rules on this file as a program of its own."""
        module = Module(self.tree, self.filename)
        name = Path(self.filename).stem
        try:
            for rule in RULES:
                for node, message in rule.check(module) if rule.check else ():
                    line = getattr(node, "lineno", 1)
                    col = getattr(node, "col_offset", 0)
                    yield line, col, f"{rule.code} {message}", type(self)
            summary = summarize(module, name, False, frozenset({name}))
        finally:
            module.release()
        facts = FileFacts(
            self.filename, name, False, summary.imports, summary.qt, True, False, summary
        )
        project = Project([facts], ProjectConfig(), lambda _: None)
        for rule in RULES:
            for _, line, col, message in rule.check_project(project) if rule.check_project else ():
                yield line, col - 1, f"{rule.code} {message}", type(self)
