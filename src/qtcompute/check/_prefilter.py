"""The pre-filter: which files are analysed, and the syntax check of those that are not.

A file no rule can fire on (decided from its text) is only checked for syntax errors; the
analysis, most of the checker's time per file, is skipped. See ``_runner._check_data``.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import unicodedata

from qtcompute.check import _knowledge as k
from qtcompute.check._analysis import PROCESS_MODULES
from qtcompute.check._parse import compiled_already, parse

# The pre-filter: a file that cannot produce a finding is only compiled, to find syntax errors
# (compiling costs two thirds of building the syntax tree, and the analysis is skipped).
#
# 1. A file that mentions none of the triggers is never analysed (the filter the checker has
#    always had; its results are kept exactly as they were, QC000 included).
_TRIGGERS = (
    b"multiprocessing",
    b"concurrent",
    b"qtcompute",
    b"loky",
    b"joblib",
    b"pebble",
    b"queue",
    b"Queue",
    b"fut",
    b".get()",
    b".recv()",
    b".join()",
)
# 2. Of the others, only a file holding one of these word sets can produce a finding, since names
#    appear in the source as written: QC001-QC007 need an import of a process library
#    (``Module.uses_processes``), QC008 a function run by the GUI thread (a ``.connect()`` call or
#    a Qt slot decorator), QC009 without a process library a worker loop (``while`` ...
#    ``param.get()`` ... ``except``) with a broad handler: one naming ``Exception`` or
#    ``BaseException`` (no other name resolves to them), or a bare ``except:``. Keep this in
#    step with the rules: a rule that fires without any of these words needs its own word set
#    here (the fixtures test it).
_FINDING_WORDS: tuple[tuple[bytes, ...], ...] = (
    *((name.encode(),) for name in PROCESS_MODULES),
    (b"joblib",),
    (b"connect",),
    *((name.encode(),) for name in sorted(k.QT_PACKAGES)),
    (b"while", b"get", b"except", b"Exception"),
)
_WORKER_LOOP = (b"while", b"get", b"except")
_BARE_EXCEPT = re.compile(rb"except[\s\\]*:")  # line continuations allowed


def triggered(data: bytes) -> bool:
    return any(trigger in data for trigger in _TRIGGERS)


def may_find(data: bytes) -> bool:
    """False only when no rule can fire on this source (so only its syntax is checked)."""
    if not data.isascii():
        data = _normalized(data)
        if data is None:
            return True
    if any(all(word in data for word in words) for words in _FINDING_WORDS):
        return True
    return all(word in data for word in _WORKER_LOOP) and _BARE_EXCEPT.search(data) is not None


def _normalized(data: bytes) -> bytes | None:
    """The source as its identifiers read: Python NFKC-normalizes them, so a word can hide in
    other characters (``multiprocessing`` with a fullwidth first letter). Normalizing the
    whole text only adds words, never removes an ASCII one. None if it cannot be decoded."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding, errors="replace")
    except (SyntaxError, LookupError):
        return None
    return unicodedata.normalize("NFKC", text).encode("utf-8", errors="replace")


def syntax_check(data: bytes, path: str, mentioned: bool, grammar: tuple[int, int] | None) -> None:
    """Raise what checking ``data`` in full would raise on parsing it, without the tree
    (``mentioned``: the file holds a trigger word).

    compile() also rejects what only the compiler finds (``return`` outside a function). A
    triggered file was always parsed with ast.parse, which accepts those; it still is, on the
    rare compile error, so the report is the same as before the second filter existed. A
    current byte-code cache of the file says it compiles (``compiled_already``).
    """
    if compiled_already(path, data):
        return
    try:
        compile(data, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        try:
            ast.parse(data, path)
        except SyntaxError:
            parse(data, path, grammar)  # a newer grammar may accept it; if not, this raises
            return
        if not mentioned:
            raise
