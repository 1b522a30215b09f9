"""Find the files, read and parse them, apply the selected rules, drop what ``# noqa`` silences.

A file that cannot be parsed is a finding (``QC000``) and the run goes on; a file that cannot be
read, or a rule that crashes on a file, is an *error*: the CLI reports it and exits 2, since the
run did not check everything it was asked to.
"""

from __future__ import annotations

import ast
import gc
import logging
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatch
from functools import partial
from pathlib import Path

from qtcompute.check import _knowledge as k
from qtcompute.check._analysis import PROCESS_MODULES, Module
from qtcompute.check._findings import SYNTAX_ERROR, Finding
from qtcompute.check._jobs import chunked, map_in_processes, worker_count
from qtcompute.check._noqa import suppressed
from qtcompute.check.rules import RULES, Rule

log = logging.getLogger("qtcompute.check")

ALL_CODES: tuple[str, ...] = (SYNTAX_ERROR, *(rule.code for rule in RULES))

# Directories never entered while walking a folder (a path given explicitly is always checked).
DEFAULT_EXCLUDE: tuple[str, ...] = ("__pycache__", "node_modules", ".*")

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
#    ``param.get()`` ... ``except``). Keep this in step with the rules: a rule that fires
#    without any of these words needs its own word set here (the fixtures test it).
_FINDING_WORDS: tuple[tuple[bytes, ...], ...] = (
    *((name.encode(),) for name in PROCESS_MODULES),
    (b"connect",),
    *((name.encode(),) for name in sorted(k.QT_PACKAGES)),
    (b"while", b"get", b"except"),
)


def _triggered(data: bytes) -> bool:
    return any(trigger in data for trigger in _TRIGGERS)


def _may_find(data: bytes) -> bool:
    """False only when no rule can fire on this source (so only its syntax is checked)."""
    if not data.isascii():
        return True  # identifiers in other scripts are normalized (NFKC): words can hide
    return any(all(word in data for word in words) for words in _FINDING_WORDS)


def _syntax_check(data: bytes, path: str, triggered: bool) -> None:
    """Raise what checking ``data`` in full would raise on parsing it, without the tree.

    compile() also rejects what only the compiler finds (``return`` outside a function). A
    triggered file was always parsed with ast.parse, which accepts those; it still is, on the
    rare compile error, so the report is the same as before the second filter existed.
    """
    try:
        compile(data, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        if not triggered:
            raise
        ast.parse(data, path)


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
            if prefilter:
                triggered = _triggered(data)
                if not (triggered and _may_find(data)):
                    if is_selected(SYNTAX_ERROR, select, ignore):
                        _syntax_check(data, path, triggered)
                    return []
            tree = ast.parse(data, path)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            if not is_selected(SYNTAX_ERROR, select, ignore):
                return []
            return [_syntax_finding(path, exc)]
    module = None
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
    finally:
        if module is not None:
            module.release()
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


@dataclass(frozen=True)
class _Options:
    """What a worker needs to check files the way the caller asked."""

    select: tuple[str, ...]
    ignore: tuple[str, ...]
    prefilter: bool


@dataclass(frozen=True)
class _FileResult:
    """One file's outcome, sent back from a worker: its findings, or why it was not checked."""

    findings: tuple[Finding, ...] = ()
    error: str | None = None


def _check_file(path: Path, options: _Options) -> _FileResult:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return _FileResult(error=f"{path}: cannot read: {exc.strerror or exc}")
    try:
        found = check_source(
            data,
            str(path),
            select=options.select,
            ignore=options.ignore,
            prefilter=options.prefilter,
        )
    except CheckError as exc:
        log.debug("internal error", exc_info=True)
        return _FileResult(error=str(exc))
    return _FileResult(tuple(found))


# Collect cycles by hand every this many files while the collector is paused (a safety net:
# check_source leaves no cycles behind).
_COLLECT_EVERY = 64


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while files are checked.

    The syntax tree of a large file is hundreds of thousands of objects, all alive until the file
    is done, and the collector would traverse them again and again while the parser builds them
    (a fifth of the run). Nothing needs it: :meth:`Module.release` breaks the only cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check_batch(paths: Sequence[Path], options: _Options) -> list[_FileResult]:
    results = []
    with _collector_paused():
        for index, path in enumerate(paths, start=1):
            results.append(_check_file(path, options))
            if index % _COLLECT_EVERY == 0:
                gc.collect(1)
    return results


def check_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    exclude: Sequence[str] = (),
    prefilter: bool = True,
    jobs: int = 1,
) -> Report:
    """Check files and folders; never raises for a bad file, records it in ``errors``.

    ``jobs`` above 1 checks in up to that many worker processes when there are enough files to
    be worth it (``_jobs.py``); the report is the same, in the same order, either way.
    """
    files = discover(paths, exclude)
    options = _Options(tuple(select), tuple(ignore), prefilter)
    results: list[_FileResult] | None = None
    workers = worker_count(jobs, len(files))
    if workers > 1:
        batches = map_in_processes(
            partial(_check_batch, options=options), chunked(files, workers), workers
        )
        if batches is not None:
            results = [result for batch in batches for result in batch]
    if results is None:
        results = _check_batch(files, options)
    report = Report(files=len(files))
    for result in results:
        report.findings.extend(result.findings)
        if result.error is not None:
            report.errors.append(result.error)
    report.findings.sort()
    return report
