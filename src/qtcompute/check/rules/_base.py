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

Hit = tuple[ast.AST, str]  # where (its line and column) and the message


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    check: Callable[[Module], Iterable[Hit]]

    @property
    def doc(self) -> str:
        """The rule's documentation: its module's docstring, cleaned."""
        module = sys.modules[self.check.__module__]
        return inspect.cleandoc(module.__doc__ or "")

    def render_markdown(self) -> str:
        """The page ``docs/rules/<code>.md``."""
        return f"# {self.code}: {self.name}\n\n{self.summary}\n\n{self.doc}\n"
