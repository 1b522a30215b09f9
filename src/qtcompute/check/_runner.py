"""Find the files, read and parse them, apply the selected rules, drop what ``# noqa`` silences.

A file that cannot be parsed is a finding (``QC000``) and the run goes on; a file that cannot be
read, or a rule that crashes on a file, is an *error*: the CLI reports it and exits 2, since the
run did not check everything it was asked to.
"""

from __future__ import annotations

import ast
import logging
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from qtcompute.check._analysis import Module
from qtcompute.check._findings import SYNTAX_ERROR, Finding
from qtcompute.check._noqa import suppressed
from qtcompute.check.rules import RULES, Rule

log = logging.getLogger("qtcompute.check")

ALL_CODES: tuple[str, ...] = (SYNTAX_ERROR, *(rule.code for rule in RULES))

# Directories never entered while walking a folder (a path given explicitly is always checked).
DEFAULT_EXCLUDE: tuple[str, ...] = ("__pycache__", "node_modules", ".*")

# A file that mentions none of these cannot trigger any rule (each rule needs an import of a
# process library, or a receiver whose name or call these substrings cover), so it is only
# compiled to find syntax errors: compiling costs half as much as building the syntax tree.
_TRIGGERS = (
    b"multiprocessing",
    b"concurrent",
    b"qtcompute",
    b"loky",
    b"pebble",
    b"queue",
    b"Queue",
    b"fut",
    b".get()",
    b".recv()",
    b".join()",
)


class CheckError(Exception):
    """A path that cannot be checked (unreadable, or a rule failed on it)."""


@dataclass
class Report:
    """What a run found: findings, the number of files, and paths it could not check."""

    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    errors: list[str] = field(default_factory=list)


def selected_rules(select: Sequence[str] = (), ignore: Sequence[str] = ()) -> list[Rule]:
    return [rule for rule in RULES if is_selected(rule.code, select, ignore)]


def is_selected(code: str, select: Sequence[str] = (), ignore: Sequence[str] = ()) -> bool:
    """``select``/``ignore`` hold codes or prefixes (``QC00``); syntax errors always pass select."""
    chosen = not select or code == SYNTAX_ERROR or any(code.startswith(s) for s in select)
    return chosen and not any(code.startswith(i) for i in ignore)


def unknown_codes(codes: Iterable[str]) -> list[str]:
    return [c for c in codes if not any(code.startswith(c) for code in ALL_CODES)]


def check_source(
    source: str | bytes,
    path: str = "<string>",
    *,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    prefilter: bool = True,
) -> list[Finding]:
    """Check one module's source; raises :class:`CheckError` if a rule crashes on it."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    rules = selected_rules(select, ignore)
    with warnings.catch_warnings():
        # SyntaxWarnings ("is" with a literal, invalid escapes) belong to other linters
        warnings.simplefilter("ignore")
        try:
            if prefilter and not any(trigger in data for trigger in _TRIGGERS):
                compile(data, path, "exec", dont_inherit=True)
                return []
            tree = ast.parse(data, path)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            if not is_selected(SYNTAX_ERROR, select, ignore):
                return []
            return [_syntax_finding(path, exc)]
    try:
        module = Module(tree, path)
        lines = _decode(data).splitlines()
        findings = []
        for rule in rules:
            for node, message in rule.check(module):
                line, col = getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1
                text = lines[line - 1] if 0 < line <= len(lines) else ""
                if not suppressed(text, rule.code):
                    findings.append(Finding(path, line, col, rule.code, message))
    except Exception as exc:
        raise CheckError(f"{path}: internal error in the checker: {exc!r}") from exc
    return sorted(set(findings))


def _syntax_finding(path: str, exc: BaseException) -> Finding:
    if isinstance(exc, SyntaxError):
        line, col = exc.lineno or 1, exc.offset or 1
        message = f"syntax error: {exc.msg}; the file cannot be imported, so it was not checked"
    else:
        line, col = 1, 1
        message = f"cannot compile: {exc!r}; the file was not checked"
    return Finding(path, max(line, 1), max(col, 1), SYNTAX_ERROR, message)


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def discover(paths: Iterable[str | os.PathLike[str]], exclude: Sequence[str] = ()) -> list[Path]:
    """The ``.py`` files under ``paths``, sorted; folders matching an exclude glob are skipped.

    Folders holding a ``pyvenv.cfg`` (virtual environments) are skipped too.
    """
    patterns = (*DEFAULT_EXCLUDE, *exclude)
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            found.add(path)
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = [
                d
                for d in dirs
                if not any(fnmatch(d, p) for p in patterns)
                and not os.path.exists(os.path.join(root, d, "pyvenv.cfg"))
            ]
            found.update(Path(root, f) for f in files if f.endswith((".py", ".pyw")))
    return sorted(found)


def check_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    exclude: Sequence[str] = (),
    prefilter: bool = True,
) -> Report:
    """Check files and folders; never raises for a bad file, records it in ``errors``."""
    report = Report()
    for path in discover(paths, exclude):
        report.files += 1
        try:
            data = path.read_bytes()
        except OSError as exc:
            report.errors.append(f"{path}: cannot read: {exc.strerror or exc}")
            continue
        try:
            found = check_source(data, str(path), select=select, ignore=ignore, prefilter=prefilter)
        except CheckError as exc:
            log.debug("internal error", exc_info=True)
            report.errors.append(str(exc))
            continue
        report.findings.extend(found)
    report.findings.sort()
    return report
