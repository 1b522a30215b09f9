"""The architecture of src/qtcompute, enforced: each rule is one test, and its failure names the
module, the file and the line to change.

- No import cycles between modules. A cycle makes import order matter (a module half-imported
  when another needs it), and a change on one side can break the other.
- No module over 500 lines: a reader keeps a module in mind at once.
- No project jargon in the source: "the seed" (the blog post the project started from) means
  nothing to a reader who has not read it.
- One home for writing the private state of ``concurrent.futures.Future``: CPython's internals,
  which a new CPython may change, are touched in one module only.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import deque
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
TOP = "qtcompute"
MAX_LINES = 500
FUTURE_STATE_HOME = SRC / "qtcompute" / "engine" / "_future_state.py"

# "the seed" or "seed's", as words; "the seed value/parameter/argument" is a random seed.
JARGON = re.compile(
    r"\bthe\s+seed\b(?!\s+(?:value|parameter|argument|of\s+the\s+random|for\s+the\s+random))"
    r"|\bseed['\u2019]s\b",
    re.IGNORECASE,
)
# The private attributes of concurrent.futures.Future. Assigning the first three sets a
# future's outcome behind its back; the others are its lock, its waiters and its callbacks.
FUTURE_STATE_WRITTEN = frozenset({"_state", "_result", "_exception"})
FUTURE_STATE_USED = frozenset({"_waiters", "_condition", "_invoke_callbacks"})


# --- the modules and their imports ---------------------------------------------------------


def discover(src: Path, top: str = TOP) -> dict[str, Path]:
    """Every module of package ``top`` under ``src``: dotted name -> file."""
    modules: dict[str, Path] = {}
    for path in sorted((src / top).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at module level or in a function, except under TYPE_CHECKING."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)  # the body runs for the type checker only
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def _most_specific(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` if it is a module, else the nearest enclosing module (None: not ours)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _targets(
    node: ast.Import | ast.ImportFrom, importer: str, modules: dict[str, Path]
) -> list[str]:
    """The modules an import statement names, each the most specific one."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: from the importer's package, then up (level - 1) times
            parts = importer.split(".")
            if modules[importer].name != "__init__.py":
                parts.pop()
            package = ".".join(parts[: len(parts) - (node.level - 1)])
            base = f"{package}.{base}" if base else package
        names = [base if alias.name == "*" else f"{base}.{alias.name}" for alias in node.names]
    targets = (_most_specific(name, modules) for name in names)
    return [target for target in targets if target is not None and target != importer]


def import_graph(modules: dict[str, Path]) -> dict[str, dict[str, int]]:
    """module -> {imported module: line of its first import}, over ``modules`` only."""
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in sorted(_import_nodes(tree), key=lambda n: n.lineno):
            for target in _targets(node, name, modules):
                edges.setdefault(target, node.lineno)
        graph[name] = edges
    return graph


# --- cycles ------------------------------------------------------------------------------


def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def _shortest_cycle(start: str, members: set[str], graph: dict[str, dict[str, int]]) -> list[str]:
    """The shortest import path from ``start`` back to itself inside one component."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node]):
            if target not in members:
                continue
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"{start} is in a component but on no cycle")


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """For every module on a cycle, the shortest cycle through it (each cycle listed once)."""
    found: dict[frozenset[tuple[str, str]], list[str]] = {}
    for component in strongly_connected(graph):
        for start in component:
            path = _shortest_cycle(start, set(component), graph)
            found.setdefault(frozenset(pairwise(path)), path)
    return list(found.values())


def describe_cycle(
    path: list[str], graph: dict[str, dict[str, int]], modules: dict[str, Path], root: Path
) -> str:
    """``a (src/a.py:12) -> b (src/b.py:3) -> a``: each module with the line importing the next."""
    steps = [
        f"{importer} ({modules[importer].relative_to(root)}:{graph[importer][target]})"
        for importer, target in pairwise(path)
    ]
    return " -> ".join([*steps, path[-1]])


def test_no_import_cycles() -> None:
    """Imports inside functions count (they run too); only ``if TYPE_CHECKING:`` ones do not."""
    modules = discover(SRC)
    graph = import_graph(modules)
    found = cycles(graph)
    assert not found, f"{len(found)} import cycle(s) in src/{TOP} (each import at file:line):\n" + (
        "\n".join(f"  {describe_cycle(path, graph, modules, ROOT)}" for path in found)
    )


def test_the_cycle_finder_sees_what_python_imports(tmp_path: Path) -> None:
    """Relative and in-function imports are edges, TYPE_CHECKING ones and parent packages not."""
    package = tmp_path / "pkg"
    package.mkdir()
    files = {
        "__init__.py": "from pkg.a import f\n",
        "a.py": "from . import b\n\ndef f():\n    from .c import h\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n",
        "c.py": "import os\nimport pkg.a\n\ndef h(): ...\n",
    }
    for name, text in files.items():
        (package / name).write_text(text, encoding="utf-8")
    modules = discover(tmp_path, "pkg")
    graph = import_graph(modules)
    assert graph == {
        "pkg": {"pkg.a": 1},
        "pkg.a": {"pkg.b": 1, "pkg.c": 4},
        "pkg.b": {},
        "pkg.c": {"pkg.a": 2},
    }
    assert cycles(graph) == [["pkg.a", "pkg.c", "pkg.a"]]
    assert describe_cycle(["pkg.a", "pkg.c", "pkg.a"], graph, modules, tmp_path) == (
        f"pkg.a ({Path('pkg/a.py')}:4) -> pkg.c ({Path('pkg/c.py')}:2) -> pkg.a"
    )


# --- freeze safety and the engine ---------------------------------------------------------

# The engine calls freeze safety first thing in Pool(); it may import this module of freeze
# and no other: the self-test and the entry point must not need the engine to import them, nor
# the engine them.
FREEZE_FOR_THE_ENGINE = "qtcompute.freeze._guard"


def _reachable(graph: dict[str, dict[str, int]], start: str) -> dict[str, list[str]]:
    """Every module ``start`` imports, directly or not: module -> the import path to it."""
    paths = {start: [start]}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node]):
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    return paths


def test_freeze_safety_imports_nothing_of_the_engine() -> None:
    graph = import_graph(discover(SRC))
    for start in (FREEZE_FOR_THE_ENGINE, "qtcompute.freeze._selftest"):
        into_engine = [
            " -> ".join(path)
            for name, path in _reachable(graph, start).items()
            if name == "qtcompute.engine" or name.startswith("qtcompute.engine.")
        ]
        assert not into_engine, f"{start} reaches the engine:\n  " + "\n  ".join(into_engine)


def test_the_engine_imports_only_the_guard_of_freeze() -> None:
    graph = import_graph(discover(SRC))
    wrong = [
        f"  {module} imports {target} (line {line})"
        for module, edges in graph.items()
        if module == "qtcompute.engine" or module.startswith("qtcompute.engine.")
        for target, line in edges.items()
        if (target == "qtcompute.freeze" or target.startswith("qtcompute.freeze."))
        and target != FREEZE_FOR_THE_ENGINE
    ]
    assert not wrong, f"the engine may import {FREEZE_FOR_THE_ENGINE} only:\n" + "\n".join(wrong)


def test_importing_freeze_safety_loads_no_engine_module() -> None:
    """At run time too (Python imports ``qtcompute.freeze/__init__.py`` first)."""
    code = (
        f"import sys, {FREEZE_FOR_THE_ENGINE}\n"
        "print(sorted(m for m in sys.modules if m.startswith('qtcompute.engine')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"importing {FREEZE_FOR_THE_ENGINE} loaded {done.stdout}"


# --- size, words, Future's private state -------------------------------------------------


def _source_files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_no_module_over_500_lines() -> None:
    too_long = {
        path.relative_to(ROOT): count
        for path in _source_files()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, f"modules over {MAX_LINES} lines (split along a seam):\n" + "\n".join(
        f"  {path}: {count} lines" for path, count in sorted(too_long.items())
    )


def jargon_in(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every "the seed"/"seed's" in ``text``."""
    lines = text.splitlines()
    hits = []
    for match in JARGON.finditer(text):
        number = text.count("\n", 0, match.start()) + 1
        hits.append((number, lines[number - 1]))
    return hits


def test_no_seed_jargon_in_the_source() -> None:
    """Say what is meant ("a queue-pair worker loop, as in the usual multiprocessing recipe")."""
    hits = [
        f"  {path.relative_to(ROOT)}:{line}: {text.strip()}"
        for path in _source_files()
        for line, text in jargon_in(path.read_text(encoding="utf-8"))
    ]
    assert not hits, (
        '"the seed" (the blog post the project started from) is jargon; say what is meant:\n'
        + "\n".join(hits)
    )


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("as in the seed, the worker loops", True),
        ("The seed's calculator blocks", True),
        ("the\nseed script", True),
        ("seed\u2019s GUI", True),
        ("def shuffle(items, seed: int = 0):", False),
        ("random.seed(seed)", False),
        ("rng = np.random.default_rng(seed=1234)", False),
        ("pass the seed value on to every worker", False),
        ("seeds of doubt; seedling", False),
    ],
)
def test_the_jargon_pattern(text: str, flagged: bool) -> None:
    assert bool(jargon_in(text)) is flagged


def future_state_uses(path: Path) -> list[tuple[int, str]]:
    """(line, what) of every write to, or use of, a Future's private state in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    uses = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if node.attr in FUTURE_STATE_WRITTEN and isinstance(node.ctx, (ast.Store, ast.Del)):
            uses.append((node.lineno, f"assigns .{node.attr}"))
        elif node.attr in FUTURE_STATE_USED:
            uses.append((node.lineno, f"uses .{node.attr}"))
    return sorted(uses)


def test_future_private_state_is_written_in_one_module() -> None:
    """Only engine/_future_state.py touches ``Future._state``, ``._condition``... (reading
    ``._state`` elsewhere is allowed). The names are CPython's: a class of ours picks others."""
    hits = [
        f"  {path.relative_to(ROOT)}:{line}: {what}"
        for path in _source_files()
        if path != FUTURE_STATE_HOME
        for line, what in future_state_uses(path)
    ]
    assert not hits, (
        "concurrent.futures.Future's private state is written outside "
        f"{FUTURE_STATE_HOME.relative_to(ROOT)} (give it a verb there and call that):\n"
        + "\n".join(hits)
    )


def test_the_future_state_scan(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def finish(f, value):\n"
        "    with f._condition:\n"
        "        if f._state == 'RUNNING':\n"  # a read: allowed
        "            f._result = value\n"
        "            f._state, f._exception = 'FINISHED', None\n"
        "    f._invoke_callbacks()\n",
        encoding="utf-8",
    )
    assert future_state_uses(sample) == [
        (2, "uses ._condition"),
        (4, "assigns ._result"),
        (5, "assigns ._exception"),
        (5, "assigns ._state"),
        (6, "uses ._invoke_callbacks"),
    ]
