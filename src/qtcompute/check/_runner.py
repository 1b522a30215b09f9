"""Find the files, read and parse them, apply the selected rules, drop what ``# noqa`` silences.

A file that cannot be parsed is a finding (``QC000``) and the run goes on; a file that cannot be
read, or a rule that crashes on a file, is an *error*: the CLI reports it and exits 2, since the
run did not check everything it was asked to.
"""

from __future__ import annotations

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

from qtcompute.check._analysis import Module
from qtcompute.check._entries import grammar_version, load_config, pyprojects_above
from qtcompute.check._findings import SYNTAX_ERROR, Finding
from qtcompute.check._jobs import chunked, map_in_processes, worker_count
from qtcompute.check._noqa import suppressed
from qtcompute.check._parse import parse
from qtcompute.check._prefilter import may_find, syntax_check, triggered
from qtcompute.check._project import FileFacts, Project, file_facts
from qtcompute.check._summary import ModuleSummary, summarize
from qtcompute.check.rules import RULES, Rule

log = logging.getLogger("qtcompute.check")

ALL_CODES: tuple[str, ...] = (SYNTAX_ERROR, *(rule.code for rule in RULES))

# Directories never entered while walking a folder (a path given explicitly is always checked).
DEFAULT_EXCLUDE: tuple[str, ...] = ("__pycache__", "node_modules", ".*")


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
    all_scripts: bool = False,
    target_version: str | None = None,
) -> list[Finding]:
    """Check one module's source as a program of its own; raises :class:`CheckError` if a rule
    crashes on it. ``all_scripts`` and ``target_version`` are the command's options."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    options = _Options(
        tuple(select),
        tuple(ignore),
        prefilter,
        grammar_version(target_version, None),
        None,
    )
    name = Path(path).stem if path.endswith((".py", ".pyw")) else "__main__"
    findings, facts = _check_data(data, path, name, False, options)
    project = Project([facts], load_config([], [], all_scripts=all_scripts), lambda _: None)
    lines = {path: _decode(data).splitlines()}
    findings += _project_findings(project, options, lines)
    return sorted(set(findings))


def _check_data(
    data: bytes, path: str, name: str, is_package: bool, options: _Options
) -> tuple[list[Finding], FileFacts]:
    """The file rules' findings on one file, and what it tells the project."""
    select, ignore = options.select, options.ignore
    if b"\x00" in data[:4096]:  # a binary file named .py (a DLL, a pickle): not source at all
        return [], file_facts(b"", path, name, is_package, None)
    with warnings.catch_warnings():
        # SyntaxWarnings ("is" with a literal, invalid escapes) belong to other linters
        warnings.simplefilter("ignore")
        try:
            if options.prefilter:
                mentioned = triggered(data)
                if not (mentioned and may_find(data)):
                    if is_selected(SYNTAX_ERROR, select, ignore):
                        syntax_check(data, path, mentioned, options.grammar)
                    return [], file_facts(data, path, name, is_package, None)
            tree = parse(data, path, options.grammar)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            facts = file_facts(data, path, name, is_package, None)
            if not is_selected(SYNTAX_ERROR, select, ignore):
                return [], facts
            return [_syntax_finding(path, exc)], facts
    module = None
    try:
        module = Module(tree, path)
        lines = _decode(data).splitlines()
        findings = []
        for rule in selected_rules(select, ignore):
            if rule.check is None:
                continue
            for node, message in rule.check(module):
                line, col = getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1
                text = lines[line - 1] if 0 < line <= len(lines) else ""
                if not suppressed(text, rule.code):
                    findings.append(Finding(path, line, col, rule.code, message))
        # Only a module that can start processes is summarised here: the others matter only
        # on a path to one, and the project loads those it needs (``_load_summary``).
        summary = None
        if module.uses_processes:
            tops = options.tops
            tops = tops if tops is not None else frozenset({name.partition(".")[0]})
            summary = summarize(module, name, is_package, tops)
    except Exception as exc:
        raise CheckError(f"{path}: internal error in the checker: {exc!r}") from exc
    finally:
        if module is not None:
            module.release()
    return findings, file_facts(data, path, name, is_package, summary)


def _project_findings(
    project: Project, options: _Options, lines: dict[str, list[str]] | None = None
) -> list[Finding]:
    """The whole-program rules' findings (``lines``: the sources already read, by path)."""
    lines = {} if lines is None else lines
    findings = []
    for rule in selected_rules(options.select, options.ignore):
        if rule.check_project is None:
            continue
        for path, line, col, message in rule.check_project(project):
            if path not in lines:
                try:
                    lines[path] = _decode(Path(path).read_bytes()).splitlines()
                except OSError:
                    lines[path] = []
            text = lines[path][line - 1] if 0 < line <= len(lines[path]) else ""
            if not suppressed(text, rule.code):
                findings.append(Finding(path, line, col, rule.code, message))
    return findings


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
    return _walk(paths, exclude)[0]


def _walk(
    paths: Iterable[str | os.PathLike[str]], exclude: Sequence[str] = ()
) -> tuple[list[Path], list[Path], list[Path]]:
    """The Python files, the PyInstaller ``.spec`` files and the ``pyproject.toml`` files."""
    patterns = (*DEFAULT_EXCLUDE, *exclude)
    found: set[Path] = set()
    specs: set[Path] = set()
    tomls: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            (specs if path.suffix == ".spec" else found).add(path)
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = [
                d
                for d in dirs
                if not any(fnmatch(d, p) for p in patterns)
                and not os.path.exists(os.path.join(root, d, "pyvenv.cfg"))
            ]
            for f in files:
                if f.endswith((".py", ".pyw")):
                    found.add(Path(root, f))
                elif f.endswith(".spec"):
                    specs.add(Path(root, f))
                elif f == "pyproject.toml":
                    tomls.add(Path(root, f))
    return sorted(found), sorted(specs), sorted(tomls)


class _Names:
    """Module names from file paths.

    A file's name is its path below the checked folder, less the leading folders that are not
    packages (``src/``, a folder of scripts): ``src/calc/app.py`` is ``calc.app``. Folders below
    a package need no ``__init__.py`` (namespace packages: ``source/controller/x.py`` is
    ``source.controller.x`` when ``source/`` is a package). The names the file has when its own
    folder is on ``sys.path``, and its full path below the checked folder, are aliases.
    """

    def __init__(self) -> None:
        self._package: dict[Path, bool] = {}

    def _is_package(self, folder: Path) -> bool:
        known = self._package.get(folder)
        if known is None:
            known = self._package[folder] = (folder / "__init__.py").is_file()
        return known

    def _climb(self, path: Path) -> list[str]:
        parts = [] if path.stem == "__init__" else [path.stem]
        folder = path.parent
        for _ in range(64):
            if not self._is_package(folder) or folder.parent == folder:
                break
            parts.insert(0, folder.name)
            folder = folder.parent
        return parts

    def of(self, path: Path, root: Path) -> tuple[str, bool, tuple[str, ...]]:
        is_package = path.stem == "__init__"
        try:
            relative = list(path.relative_to(root).parts)
        except ValueError:
            relative = [path.name]
        relative[-1] = path.stem
        if is_package:
            relative.pop()
        folders = len(relative) - (0 if is_package else 1)
        strip = 0
        while strip < folders and not self._is_package(root.joinpath(*relative[: strip + 1])):
            strip += 1
        parts = relative[strip:] or self._climb(path) or [path.stem]
        name = ".".join(parts)
        aliases = {".".join(self._climb(path)), ".".join(relative)} - {name, ""}
        return name, is_package, tuple(sorted(aliases))


def _roots(paths: list[str | os.PathLike[str]], files: list[Path]) -> dict[Path, Path]:
    """The checked folder each file was found in (a file given by itself: its own folder)."""
    folders = sorted((Path(p) for p in paths if Path(p).is_dir()), key=lambda p: -len(p.parts))
    roots = {}
    for path in files:
        roots[path] = next((f for f in folders if path.is_relative_to(f)), path.parent)
    return roots


@dataclass(frozen=True)
class _Options:
    """What a worker needs to check files the way the caller asked."""

    select: tuple[str, ...]
    ignore: tuple[str, ...]
    prefilter: bool
    grammar: tuple[int, int] | None = None  # None: the newest
    tops: frozenset[str] | None = None  # the project's top-level module names


@dataclass(frozen=True)
class _FileResult:
    """One file's outcome, sent back from a worker: its findings, or why it was not checked."""

    findings: tuple[Finding, ...] = ()
    error: str | None = None
    facts: FileFacts | None = None


def _check_file(job: tuple[Path, str, bool, tuple[str, ...]], options: _Options) -> _FileResult:
    path, name, is_package, aliases = job
    try:
        data = path.read_bytes()
    except OSError as exc:
        return _FileResult(error=f"{path}: cannot read: {exc.strerror or exc}")
    try:
        found, facts = _check_data(data, str(path), name, is_package, options)
    except CheckError as exc:
        log.debug("internal error", exc_info=True)
        return _FileResult(error=str(exc))
    facts.aliases = aliases
    return _FileResult(tuple(found), facts=facts)


def _load_summary(facts: FileFacts, options: _Options) -> ModuleSummary | None:
    """A module the project walk needs that the pre-filter left unanalysed: analyse it now."""
    try:
        data = Path(facts.path).read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = parse(data, facts.path, options.grammar)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    module = Module(tree, facts.path)
    try:
        return summarize(module, facts.name, facts.is_package, options.tops)
    finally:
        module.release()


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


def _check_batch(
    jobs: Sequence[tuple[Path, str, bool, tuple[str, ...]]], options: _Options
) -> list[_FileResult]:
    results = []
    with _collector_paused():
        for index, job in enumerate(jobs, start=1):
            results.append(_check_file(job, options))
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
    all_scripts: bool = False,
    target_version: str | None = None,
    frozen: bool = False,
) -> Report:
    """Check files and folders as one program; never raises for a bad file, records it in
    ``errors``.

    ``jobs`` above 1 checks in up to that many worker processes when there are enough files to
    be worth it (``_jobs.py``); the report is the same, in the same order, either way. The
    whole-program rules run here, on what the workers sent back (``_project.py``).
    ``all_scripts``: report QC002 on plain scripts too; ``target_version`` (``py312``): the
    grammar (default: ``requires-python``'s upper bound, else the newest); ``frozen``: the
    caller freezes these paths (``qtcompute build``), so every program is judged as frozen.
    """
    paths = list(paths)
    files, specs, tomls = _walk(paths, exclude)
    roots = _roots(paths, files)
    config = load_config(specs, [*tomls, *pyprojects_above([Path(p) for p in paths])],
                         all_scripts=all_scripts, frozen=frozen)  # fmt: skip
    names = _Names()
    work = [(path, *names.of(path, roots[path])) for path in files]
    tops = frozenset(n.partition(".")[0] for _, name, _, aliases in work for n in (name, *aliases))
    grammar = grammar_version(target_version, config.requires_python)
    options = _Options(tuple(select), tuple(ignore), prefilter, grammar, tops)
    results: list[_FileResult] | None = None
    workers = worker_count(jobs, len(files))
    if workers > 1:
        batches = map_in_processes(
            partial(_check_batch, options=options), chunked(work, workers), workers
        )
        if batches is not None:
            results = [result for batch in batches for result in batch]
    if results is None:
        results = _check_batch(work, options)
    report = Report(files=len(files))
    facts = []
    for result in results:
        report.findings.extend(result.findings)
        if result.error is not None:
            report.errors.append(result.error)
        if result.facts is not None:
            facts.append(result.facts)
    project = Project(facts, config, partial(_load_summary, options=options))
    try:
        report.findings.extend(_project_findings(project, options))
    except Exception as exc:  # a whole-program rule crashed: say so, keep the file findings
        log.debug("internal error", exc_info=True)
        report.errors.append(f"project analysis: internal error in the checker: {exc!r}")
    report.findings.sort()
    return report
