"""A finding: one problem at one place. Sorted by place, then code."""

from __future__ import annotations

from dataclasses import dataclass

SYNTAX_ERROR = "QC000"  # not a rule: the file could not be parsed, the run goes on


@dataclass(frozen=True, order=True)
class Finding:
    """One problem. ``line`` and ``col`` count from 1, as editors and SARIF do."""

    path: str
    line: int
    col: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}"
