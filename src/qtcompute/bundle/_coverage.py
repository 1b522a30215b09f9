"""Coverage from source, and the fixes it drives: what the app used that the bundle lacks.

1. Before freezing, the app runs from source in smoke mode with tracing on (``freeze/_trace``):
   each process (the app's, every worker's) writes the modules it loaded and the project files
   it read. :func:`read_traces` merges them into a :class:`Coverage`; :func:`needs` keeps what
   a frozen app must carry (not the interpreter's built-ins, not our own harness, not files the
   app wrote during the run).
2. In the spec, after PyInstaller's Analysis (inside PyInstaller), :func:`complete_analysis`
   compares that with what the Analysis collected. Missing modules become hidden imports (and
   leave the excludes), by a second Analysis; missing files become data files placed at the
   same path relative to the main script, so ``Path(__file__).with_name(...)`` finds them
   (PyInstaller sets a frozen script's ``__file__`` to ``<bundle>/<script>.py``). With
   ``--no-fix`` nothing is added: each is reported with the PyInstaller option that adds it.
3. :func:`record_bundle` writes what the bundle holds (after trimming), for the report and for
   the system-library check.

The plan file (JSON) carries the data between the build process and the spec, both ways.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Our own machinery in the source run, never the app's.
_OURS = (
    "__main__",
    "__mp_main__",
    "__smoke__",
    "sitecustomize",
    "_next_sitecustomize",
)
_CODE_SUFFIXES = (".py", ".pyc", ".pyo", ".pyd", ".so", ".pyi")


@dataclass
class Coverage:
    """What a run from source used, merged over its processes."""

    modules: dict[str, list[str]] = field(default_factory=dict)
    """Module name -> roles of the processes that loaded it ("app", "worker", "helper")."""
    files: list[str] = field(default_factory=list)
    processes: dict[str, int] = field(default_factory=dict)
    """Trace files per role: a worker killed before exit writes none."""


def read_traces(folder: Path) -> Coverage:
    coverage = Coverage()
    files: set[str] = set()
    for path in sorted(folder.glob("trace-*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        role = str(data.get("role", "app"))
        coverage.processes[role] = coverage.processes.get(role, 0) + 1
        for name in data.get("modules", []):
            roles = coverage.modules.setdefault(name, [])
            if role not in roles:
                roles.append(role)
        files.update(data.get("files", []))
    coverage.files = sorted(files)
    return coverage


def needs(
    coverage: Coverage,
    *,
    script: Path,
    started: float,
    ignore_modules: Iterable[str] = (),
    ignore_dirs: Iterable[Path] = (),
) -> tuple[list[str], list[tuple[str, str]]]:
    """(modules, [(data file, destination folder)]) the frozen app must carry."""
    ignored = set(ignore_modules)
    builtin = set(sys.builtin_module_names)
    modules = sorted(
        name
        for name in coverage.modules
        if name not in _OURS
        and name not in ignored
        and name not in builtin
        and not name.startswith(("qtcompute.freeze._smoke", "qtcompute.freeze._trace"))
    )
    root = script.resolve().parent
    # Libraries' own files (a virtual environment inside the project) come with their packages.
    environments = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    skip = [Path(d).resolve() for d in ignore_dirs] + sorted(environments)
    files: list[tuple[str, str]] = []
    for text in coverage.files:
        path = Path(text)
        if path.suffix.lower() in _CODE_SUFFIXES or {"__pycache__", "site-packages"} & set(
            path.parts
        ):
            continue
        if any(path.is_relative_to(folder) for folder in skip):
            continue
        try:
            if path.stat().st_mtime >= started:
                continue  # written by the run itself (a log, a cache): not shipped
        except OSError:
            continue
        if not path.is_relative_to(root):
            continue
        files.append((str(path), path.parent.relative_to(root).as_posix() or "."))
    return modules, files


def add_data_option(src: str, dest: str) -> str:
    return f"--add-data={src}{os.pathsep if sys.platform == 'win32' else ':'}{dest}"


# --- inside PyInstaller (called from the generated spec) -----------------------------------

# The run from source goes on while PyInstaller analyses the app (the build runs PyInstaller in
# its own process): the plan file then says "pending", and the spec asks the build for the plan
# through this function, which waits for the run (and raises if the app failed from source).
_pending: Callable[[], dict[str, Any]] | None = None


def set_pending_plan(provider: Callable[[], dict[str, Any]] | None) -> None:
    global _pending
    _pending = provider


def _extension_name(dest: str) -> str:
    parts = dest.replace("\\", "/").split("/")
    if "lib-dynload" in parts:  # PyInstaller 6: python3.11/lib-dynload/_bisect.cpython-...so
        parts = parts[parts.index("lib-dynload") + 1 :]
    parts[-1] = parts[-1].split(".")[0]
    return ".".join(parts)


def bundled_modules(analysis: Any) -> set[str]:
    """The module names an Analysis collected: PYZ, extensions, base_library.zip."""
    from PyInstaller.compat import PY3_BASE_MODULES

    names = {name for name, _src, _type in analysis.pure}
    names |= {_extension_name(d) for d, _s, t in analysis.binaries if t == "EXTENSION"}
    names |= {name for name, _src, _type in getattr(analysis, "_modules_outside_pyz", [])}
    names |= set(PY3_BASE_MODULES)
    return names


def _present(name: str, bundled: set[str], analysis: Any) -> bool:
    if name in bundled or name.split(".")[0] in _base_modules():
        return True
    graph = getattr(analysis, "graph", None)
    node = graph.find_node(name) if graph is not None else None
    kind = type(node).__name__ if node is not None else None
    return kind in {"BuiltinModule", "NamespacePackage", "AliasNode", "RuntimeModule"}


def _base_modules() -> set[str]:
    from PyInstaller.compat import PY3_BASE_MODULES

    return set(PY3_BASE_MODULES)


def _bundled_datas(analysis: Any) -> set[str]:
    return {dest.replace("\\", "/") for dest, _src, _type in analysis.datas}


def _missing(analysis: Any, plan: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    bundled = bundled_modules(analysis)
    modules = [m for m in plan.get("modules", []) if not _present(m, bundled, analysis)]
    datas = _bundled_datas(analysis)
    files = [
        [src, dest] for src, dest in plan.get("files", []) if _dest_path(src, dest) not in datas
    ]
    return modules, files


def _dest_path(src: str, dest: str) -> str:
    name = os.path.basename(src)
    return name if dest in ("", ".") else f"{dest}/{name}"


def complete_analysis(
    analysis_class: Any, analysis: Any, scripts: list[str], options: dict[str, Any], plan_file: str
) -> Any:
    """Add what the run from source used and ``analysis`` lacks (see the module docstring).

    Returns the Analysis to build from: ``analysis`` itself, or a second one with the hidden
    imports added. The plan file gets ``missing_modules``, ``missing_files``, and, after a fix,
    ``added_modules``, ``added_files`` and ``not_added`` (PyInstaller could not find them).
    """
    plan = json.loads(Path(plan_file).read_text(encoding="utf-8"))
    if plan.pop("pending", False):
        if _pending is None:
            raise RuntimeError("the spec waits for a run from source that no build started")
        plan.update(_pending())
    modules, files = _missing(analysis, plan)
    plan["missing_modules"], plan["missing_files"] = modules, files
    if plan.get("fix") and modules:
        tops = {m.split(".")[0] for m in modules} | set(modules)
        options = dict(options)
        options["hiddenimports"] = sorted({*options.get("hiddenimports", []), *modules})
        options["excludes"] = [e for e in options.get("excludes", []) if e not in tops]
        options["excludes"] = [
            e for e in options["excludes"] if not any(m.startswith(e + ".") for m in modules)
        ]
        analysis = analysis_class(scripts, **options)
        still, _files = _missing(analysis, plan)
        plan["added_modules"] = [m for m in modules if m not in still]
        plan["not_added"] = still
    if plan.get("fix") and files:
        for src, dest in files:
            analysis.datas.append((_dest_path(src, dest), src, "DATA"))
        plan["added_files"] = files
    Path(plan_file).write_text(json.dumps(plan, indent=1), encoding="utf-8")
    return analysis


def record_bundle(analysis: Any, plan_file: str) -> None:
    """Write the bundle's binaries (after trimming) into the plan file."""
    plan = json.loads(Path(plan_file).read_text(encoding="utf-8"))
    plan["binaries"] = [[dest, src] for dest, src, typecode in analysis.binaries]
    Path(plan_file).write_text(json.dumps(plan, indent=1), encoding="utf-8")
