"""Parsing a file whatever Python runs the checker.

The rules work on the standard library's :mod:`ast`, and CPython's own parser is the fastest
there is, so every file is parsed with it first. Only when it fails, and the file may be written
for a newer Python than the one running (the grammar version is newer than this interpreter's),
the file goes to LibCST's parser, which knows the grammars of Python 3.0 to 3.15 whatever runs
it. When LibCST accepts the file, the constructs this interpreter does not know are rewritten
into ones it does, keeping every line where it was (``type X = ...`` becomes an assignment, type
parameters go, a PEP 701 f-string or a t-string becomes a tuple of its expressions, ``except A,
B:`` gets its parentheses, ``lazy import`` loses ``lazy``, ``except*`` becomes ``except``), and
the rewritten source is parsed with :mod:`ast` again. When LibCST rejects it too, the first
parser's error is the report: the file has a real syntax error.

Why LibCST and not the alternatives (docs/check.md has the longer version): the standard
library's parser cannot read a newer grammar, and ``feature_version`` only goes back; parso
is pure Python (slower by two orders of magnitude) and lags behind new grammar; tree-sitter's
grammar is not CPython's and needs a separate grammar package. LibCST is maintained, ships
wheels with a native parser, is exact about CPython's grammar per version, and is imported only
for the rare file that needs it.
"""

from __future__ import annotations

import ast
import sys

NEWEST = (3, 15)  # the newest grammar the fallback parser knows (LibCST 1.9)
RUNNING = sys.version_info[:2]


def parse(data: bytes, path: str, grammar: tuple[int, int] | None = None) -> ast.Module:
    """The syntax tree of ``data``; raises the standard parser's SyntaxError on a real error."""
    try:
        return ast.parse(data, path)
    except SyntaxError as error:
        wanted = grammar or NEWEST
        if wanted <= RUNNING:
            raise
        source = _downgrade(data, wanted)
        if source is None:
            raise error from None
        try:
            return ast.parse(source, path)
        except SyntaxError:
            raise error from None


def _downgrade(data: bytes, grammar: tuple[int, int]) -> str | None:
    """``data`` rewritten for this interpreter's parser, or None if LibCST rejects it."""
    try:
        import libcst as cst
    except ImportError:  # pragma: no cover - a dependency; an install without it parses less
        return None
    version = f"{min(grammar, NEWEST)[0]}.{min(grammar, NEWEST)[1]}"
    try:
        tree = cst.parse_module(data, cst.PartialParserConfig(python_version=version))
    except (cst.ParserSyntaxError, ValueError, RecursionError):
        return None
    from qtcompute.check._downgrade import Downgrade

    try:
        return tree.visit(Downgrade(tree)).code
    except (ValueError, RecursionError, cst.CSTValidationError):
        return None
