"""The shape of a rule: a stable code, a kebab-case name, a one-line summary and a check.

A rule module's docstring is its documentation, in ruff's shape (*What it does*, *Why is this
bad?*, *Example*, *Use instead*, *References*); ``docs/rules/QCnnn.md`` mirrors it and a test keeps
the two equal.
"""

from __future__ import annotations

import ast
import inspect
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from qtcompute.check._analysis import Module
from qtcompute.check._project import Project

Hit = tuple[ast.AST, str]  # where (its line and column) and the message
ProjectHit = tuple[str, int, int, str]  # path, line, column (from 1) and the message


@dataclass(frozen=True)
class Rule:
    """A rule checks one module (``check``) or the whole program (``check_project``)."""

    code: str
    name: str
    summary: str
    check: Callable[[Module], Iterable[Hit]] | None = None
    check_project: Callable[[Project], Iterable[ProjectHit]] | None = None

    @property
    def doc(self) -> str:
        """The rule's documentation: its module's docstring, cleaned."""
        function = self.check or self.check_project
        module = sys.modules[function.__module__]  # type: ignore[union-attr]
        return inspect.cleandoc(module.__doc__ or "")

    def render_markdown(self) -> str:
        """The page ``docs/rules/<code>.md``."""
        return f"# {self.code}: {self.name}\n\n{self.summary}\n\n{self.doc}\n"
