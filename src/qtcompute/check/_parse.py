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
import importlib.util
import os
import re
import sys
import unicodedata

NEWEST = (3, 15)  # the newest grammar the fallback parser knows (LibCST 1.9)
RUNNING = sys.version_info[:2]


def parse(data: bytes, path: str, grammar: tuple[int, int] | None = None) -> ast.Module:
    """The syntax tree of ``data``; raises the standard parser's SyntaxError on a real error."""
    try:
        return ast.parse(data, path)
    except SyntaxError as error:
        wanted = grammar or NEWEST
        if wanted <= RUNNING or _no_grammar_accepts(error):
            raise
        source = _downgrade(data, wanted)
        if source is None:
            raise error from None
        try:
            return ast.parse(source, path)
        except SyntaxError:
            raise error from None


# Errors no newer grammar takes back (Python 2 code; how the bytes decode, which no version
# changed): LibCST would reject the file as well, so it is not asked (importing it costs a
# third of a second).
_NO_GRAMMAR = (
    "Missing parentheses in call to ",
    "leading zeros in decimal integer literals",
    "unknown encoding: ",
    "encoding problem: ",
    "invalid or missing encoding declaration",
    "(unicode error) 'utf-8' codec can't decode",
)
_INVALID_CHARACTER = re.compile(r"invalid character .* \(U\+([0-9A-F]{4,6})\)")


def _no_grammar_accepts(error: SyntaxError) -> bool:
    message = error.msg or ""
    if message.startswith(_NO_GRAMMAR):
        return True
    # A character that is not a letter, mark, digit or connector (a currency sign, a quotation
    # mark) is in no identifier under any Unicode version; an unassigned one may become a letter.
    invalid = _INVALID_CHARACTER.match(message)
    if invalid is None:
        return False
    category = unicodedata.category(chr(int(invalid.group(1), 16)))
    return category[0] not in "LMN" and category not in ("Pc", "Cn")


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


def compiled_already(path: str, data: bytes) -> bool:
    """True when this interpreter's ``__pycache__`` holds a ``.pyc`` compiled from ``data``.

    The byte-code cache exists only for a source that compiled without error, so a current one
    answers the syntax check without compiling again (which costs more than everything else the
    checker does on a file it does not analyse). "Current" is what the import system itself
    trusts: this interpreter's magic number and either the source's hash (a hash-based ``.pyc``)
    or its modification time and size. Anything else (no cache, another Python's, unreadable) is
    False, and the caller compiles.
    """
    try:
        cache = importlib.util.cache_from_source(path)
        with open(cache, "rb") as file:
            header = file.read(16)
        if len(header) < 16 or header[:4] != importlib.util.MAGIC_NUMBER:
            return False
        flags = int.from_bytes(header[4:8], "little")
        if flags & 0b1:  # hash-based: the hash of the source bytes
            return header[8:16] == importlib.util.source_hash(data)
        if flags:
            return False
        stat = os.stat(path)
    except (OSError, ValueError, NotImplementedError):
        return False
    mtime = int.from_bytes(header[8:12], "little")
    size = int.from_bytes(header[12:16], "little")
    return (
        mtime == int(stat.st_mtime) & 0xFFFFFFFF
        and size == stat.st_size & 0xFFFFFFFF
        and size == len(data) & 0xFFFFFFFF
    )
