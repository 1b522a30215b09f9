"""The program as a whole: modules linked by imports and calls, walked from its entry points.

::

    every file ──► FileFacts (name, imports, Qt?) ──┐
    analysed files ──► ModuleSummary (nodes) ───────┼──► Project ──► entry points ──► walk
                                                    │      │  guards, .spec scripts,   start?
    .spec files, pyproject.toml ──► ProjectConfig ──┘      │  [project.scripts]        freeze?
                                                           └ loads a summary on demand  joblib?

Only modules that can lead to a process start are ever loaded: a module that starts processes,
or one that imports (directly or through other project modules) one that does. Every call path
from an entry point to a process start runs through such modules only, so the walk loses nothing
by skipping the rest, and the standard library stays fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from qtcompute.check import _knowledge as k
from qtcompute.check._entries import ProjectConfig
from qtcompute.check._summary import MODULE_NODE, Evidence, ModuleSummary, Node, absolute

_IMPORT = re.compile(
    rb"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[\w, \t]*)"
    rb"|import[ \t]+([\w., \t]+))",
    re.M,
)
_GUARD_WORDS = (b"__main__", b"is_main", b"MainProcess", b"parent_process")
_FROZEN_WORDS = (b"_MEIPASS", b"sys.frozen", b"(sys, 'frozen'", b'(sys, "frozen"')


@dataclass
class FileFacts:
    """What every file tells the project, analysed or not (a regular expression reads imports)."""

    path: str
    name: str
    is_package: bool
    imports: list[str]
    qt: str | None
    guard: bool  # may hold a main guard
    frozen: bool  # mentions sys.frozen or sys._MEIPASS: written to run frozen
    summary: ModuleSummary | None = None
    aliases: tuple[str, ...] = ()  # other names it is imported by (see _runner._Names)


def file_facts(
    data: bytes, path: str, name: str, is_package: bool, summary: ModuleSummary | None
) -> FileFacts:
    guard = any(word in data for word in _GUARD_WORDS)
    frozen = any(word in data for word in _FROZEN_WORDS)
    if summary is not None:
        return FileFacts(
            path, name, is_package, summary.imports, summary.qt, guard, frozen, summary
        )
    imports: list[str] = []
    for match in _import_statements(data):
        source, names, plain = match.groups()
        if plain is not None:
            for part in plain.decode("ascii", "replace").split(","):
                module = part.split(" as ")[0].strip()
                if module:
                    imports.append(module)
        elif source:
            base = source.decode("ascii", "replace")
            imports.append(base)
            sep = "" if base.endswith(".") else "."
            for part in (names or b"").decode("ascii", "replace").strip("()").split(","):
                item = part.split(" as ")[0].strip()
                if item:
                    imports.append(f"{base}{sep}{item}")
    full = [absolute(i, name, is_package) for i in imports]
    qt = next((i.partition(".")[0] for i in full if i.partition(".")[0] in k.QT_APP_PACKAGES), None)
    return FileFacts(path, name, is_package, full, qt, guard, frozen)


def _import_statements(data: bytes) -> Iterator[re.Match[bytes]]:
    """What ``_IMPORT.finditer(data)`` finds, trying only the lines that hold ``import``.

    Every match has ``import`` on its first line, so the other lines (nearly all of them) need
    not be tried; a line inside the previous match is skipped, as ``finditer`` skips it.
    """
    done = 0
    at = data.find(b"import")
    while at >= 0:
        line = data.rfind(b"\n", 0, at) + 1
        if line >= done:
            match = _IMPORT.match(data, line)
            if match is not None:
                yield match
                done = max(match.end(), line + 1)
            else:
                done = line + 1
        at = data.find(b"import", max(at + 6, done))
    return


@dataclass
class Entry:
    """An entry point: a main guard, a frozen script's body, or a ``[project.scripts]`` function."""

    facts: FileFacts
    node: str
    line: int
    col: int
    spec: str | None = None  # the .spec file that freezes this script
    script: str | None = None  # the [project.scripts] name


@dataclass
class Walk:
    """What an entry point reaches, across modules."""

    start: Evidence | None = None
    freeze: Evidence | None = None
    entry: bool = False
    joblib: list[Evidence] = field(default_factory=list)


class Project:
    def __init__(
        self,
        facts: list[FileFacts],
        config: ProjectConfig,
        load: Callable[[FileFacts], ModuleSummary | None],
    ) -> None:
        self.config = config
        self._load = load
        self.by_path = {f.path: f for f in facts}
        self.by_resolved = (  # resolving every path costs a system call each: only for specs
            {str(Path(f.path).resolve()): f for f in facts} if config.spec_scripts else {}
        )
        self.by_name: dict[str, list[FileFacts]] = {}
        for f in facts:
            for name in (f.name, *f.aliases):
                self.by_name.setdefault(name, []).append(f)
        self.relevant = self._relevant(facts)
        self._app_modules: set[str] | None = None

    # -- modules ------------------------------------------------------------------------------

    def module(self, name: str, near: str) -> FileFacts | None:
        """The module called ``name``; of several (scripts in different folders), the nearest."""
        found = self.by_name.get(name)
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        near_parts = Path(near).parts
        return max(found, key=lambda f: _common(Path(f.path).parts, near_parts))

    def imported(self, dotted: str, near: str) -> FileFacts | None:
        """The project module an import of ``dotted`` loads (``pkg.mod.func`` loads ``pkg.mod``)."""
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            found = self.module(".".join(parts[:cut]), near)
            if found is not None:
                return found
        return None

    def summary(self, facts: FileFacts) -> ModuleSummary | None:
        if facts.path not in self.relevant:
            return None
        if facts.summary is None:
            facts.summary = self._load(facts)
        return facts.summary

    def _relevant(self, facts: list[FileFacts]) -> set[str]:
        """Modules that start processes, and those that import them (the walk needs no other)."""
        importers: dict[str, set[str]] = {}
        for f in facts:
            for dotted in f.imports:
                target = self.imported(dotted, f.path)
                if target is not None and target is not f:
                    importers.setdefault(target.path, set()).add(f.path)
        pending = [f.path for f in facts if f.summary is not None and f.summary.has_processes()]
        relevant = set(pending)
        while pending:
            for importer in importers.get(pending.pop(), ()):
                if importer not in relevant:
                    relevant.add(importer)
                    pending.append(importer)
        return relevant

    def resolve(self, dotted: str, near: str, depth: int = 0) -> tuple[ModuleSummary, str] | None:
        """The node that calling ``dotted`` runs: ``pkg.mod.f``, ``pkg.mod.Class.method``."""
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            facts = self.module(".".join(parts[:cut]), near)
            if facts is None:
                continue
            summary = self.summary(facts)
            if summary is None:
                return None
            rest = parts[cut:]
            key = ".".join(rest)
            if key in summary.nodes:
                return summary, key
            alias = summary.aliases.get(rest[0])
            if alias is not None and depth < 8:  # a re-export: ``from .core import main``
                return self.resolve(".".join([alias, *rest[1:]]), facts.path, depth + 1)
            return None
        return None

    # -- entry points ---------------------------------------------------------------------------

    def entries(self) -> Iterator[Entry]:
        seen: set[tuple[str, str]] = set()
        for path, spec in self.config.spec_scripts.items():
            facts = self.by_resolved.get(path)
            summary = self.summary(facts) if facts is not None else None
            if facts is None or summary is None:
                continue
            for line, col, node in summary.guards or [(1, 1, MODULE_NODE)]:
                seen.add((facts.path, node))
                yield Entry(facts, node, line, col, spec=spec)
        for name, target, _ in self.config.scripts:
            module, _, func = target.partition(":")
            found = self.resolve(f"{module.strip()}.{func.strip()}", "")
            if found is None:
                continue
            summary, node = found
            facts = self.by_path[summary.path]
            if (facts.path, node) not in seen:
                seen.add((facts.path, node))
                info = summary.nodes[node]
                yield Entry(facts, node, info.line, info.col, script=name)
        for facts in self.by_path.values():
            if not facts.guard or facts.path not in self.relevant:
                continue
            summary = self.summary(facts)
            for line, col, node in summary.guards if summary is not None else ():
                if (facts.path, node) not in seen:
                    seen.add((facts.path, node))
                    yield Entry(facts, node, line, col)

    def walk(self, entry: Entry) -> Walk:
        """Breadth first, so the start reported is the one closest to the entry point."""
        result = Walk()
        first = self.summary(entry.facts)
        if first is None:
            return result
        queue: list[tuple[ModuleSummary, str]] = [(first, entry.node), (first, MODULE_NODE)]
        seen = set()
        while queue:
            summary, node_id = queue.pop(0)
            if (summary.path, node_id) in seen:
                continue
            seen.add((summary.path, node_id))
            node: Node | None = summary.nodes.get(node_id)
            if node is None:
                continue
            if node.start is not None and result.start is None:
                result.start = node.start
            if node.freeze is not None and result.freeze is None:
                result.freeze = node.freeze
            result.entry |= node.entry
            if node.joblib is not None and node.joblib not in result.joblib:
                result.joblib.append(node.joblib)
            queue.extend((summary, local) for local in node.local)
            for dotted in node.external:
                found = self.resolve(dotted, summary.path)
                if found is not None:
                    queue.append(found)
        return result

    def frozen_reason(self, entry: Entry) -> str | None:
        """Why this program is plausibly frozen, or None (a plain script).

        A ``.spec`` file makes the scripts it names frozen, not every script of the project
        (a project's other main guards are usually test harnesses).
        """
        if entry.spec is not None:
            return f"it is the entry script of {entry.spec}"
        if self.config.frozen:
            return "it is being frozen"
        if self.config.build_config:
            return "the project configures `qtcompute build`"
        found = self.program_reason(entry.facts)
        if found is not None:
            return found
        if self.config.all_scripts:
            return "--all-scripts"
        return None

    def is_harness(self, entry: Entry) -> bool:
        """A main guard of a module that a frozen entry script or a ``[project.scripts]``
        function imports: a developer's test block, which never runs in the frozen app (the
        app's own entry point is judged instead)."""
        if entry.spec is not None or entry.script is not None:
            return False
        if self._app_modules is None:
            starts = [
                self.by_resolved[p] for p in self.config.spec_scripts if p in self.by_resolved
            ]
            for _, target, _ in self.config.scripts:
                found = self.imported(target.partition(":")[0].strip(), "")
                if found is not None:
                    starts.append(found)
            closure: set[str] = set()
            for start in starts:
                closure |= set(self.imports_of(start)) - {start.path}
            self._app_modules = closure
        return entry.facts.path in self._app_modules

    def imports_of(self, start: FileFacts) -> dict[str, FileFacts]:
        """The project modules ``start`` imports, directly or not, and itself."""
        pending, seen = [start], {start.path: start}
        while pending:
            for dotted in pending.pop().imports:
                target = self.imported(dotted, start.path)
                if target is not None and target.path not in seen:
                    seen[target.path] = target
                    pending.append(target)
        return seen

    def program_reason(self, start: FileFacts) -> str | None:
        """A Qt import or a check of ``sys.frozen`` in the modules the program imports."""
        seen = self.imports_of(start)
        ordered = [start, *sorted((f for f in seen.values() if f is not start), key=_by_path)]
        for facts in ordered:
            if facts.qt is not None:
                where = "" if facts is start else f" (through {Path(facts.path).name})"
                return f"the program imports {facts.qt}{where}"
        for facts in ordered:
            if facts.frozen:
                return f"{Path(facts.path).name} checks sys.frozen or sys._MEIPASS"
        return None


def _by_path(facts: FileFacts) -> str:
    return facts.path


def _common(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count
