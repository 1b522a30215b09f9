"""Where a program starts, and whether it is likely to be frozen: PyInstaller ``.spec`` files and
``pyproject.toml`` (``[project.scripts]``, ``[project.gui-scripts]``, ``requires-python``,
``[tool.qtcompute]``), found in the checked folders and above the checked paths.

A ``.spec`` file is Python; it is parsed, never run. Its ``Analysis([...])`` names the scripts
PyInstaller freezes, relative to the ``.spec`` file's folder.
"""

from __future__ import annotations

import ast
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("qtcompute.check")

_VERSION = re.compile(r"(\d+)\.(\d+)")


@dataclass
class ProjectConfig:
    """What the files around the Python sources say about the program."""

    spec_scripts: dict[str, str] = field(default_factory=dict)  # resolved script path -> spec
    specs: list[str] = field(default_factory=list)
    build_config: str | None = None  # the pyproject.toml holding [tool.qtcompute]
    scripts: list[tuple[str, str, str]] = field(default_factory=list)  # (name, "mod:func", toml)
    requires_python: str | None = None
    all_scripts: bool = False  # QC002 on every script, not only frozen-plausible ones
    frozen: bool = False  # the caller freezes these paths (`qtcompute build`)


def spec_scripts(spec: Path) -> list[Path]:
    """The scripts a PyInstaller spec freezes: the strings of its ``Analysis([...])`` list."""
    try:
        tree = ast.parse(spec.read_bytes(), str(spec))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        log.debug("cannot read %s: %r", spec, exc)
        return []
    found: list[Path] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        if name != "Analysis":
            continue
        scripts = node.args[0] if node.args else None
        for keyword in node.keywords:
            if keyword.arg == "scripts":
                scripts = keyword.value
        if scripts is None:
            continue
        for value in ast.walk(scripts):
            text = value.value if isinstance(value, ast.Constant) else None
            if isinstance(text, str) and text.endswith((".py", ".pyw")):
                found.append((spec.parent / text).resolve())
    return found


def _read_toml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # Python 3.10: the few keys needed, read line by line
        return _read_toml_lines(text)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        log.debug("cannot parse %s: %r", path, exc)
        return {}


def _read_toml_lines(text: str) -> dict:
    data: dict = {}
    table = data
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            table = data
            for part in line.strip("[]").split("."):
                table = table.setdefault(part.strip().strip('"'), {})
        elif "=" in line:
            key, _, value = line.partition("=")
            table[key.strip().strip('"')] = value.strip().strip("\"'")
    return data


def load_config(
    specs: list[Path], pyprojects: list[Path], *, all_scripts: bool = False, frozen: bool = False
) -> ProjectConfig:
    config = ProjectConfig(all_scripts=all_scripts, frozen=frozen)
    for spec in specs:
        config.specs.append(str(spec))
        for script in spec_scripts(spec):
            config.spec_scripts.setdefault(str(script), spec.name)
    for pyproject in pyprojects:
        data = _read_toml(pyproject)
        project = data.get("project", {}) if isinstance(data.get("project"), dict) else {}
        for table in ("scripts", "gui-scripts"):
            scripts = project.get(table, {})
            if isinstance(scripts, dict):
                for name, target in scripts.items():
                    if isinstance(target, str) and ":" in target:
                        config.scripts.append((name, target, str(pyproject)))
        if isinstance(project.get("requires-python"), str) and config.requires_python is None:
            config.requires_python = project["requires-python"]
        tool = data.get("tool", {})
        if isinstance(tool, dict) and "qtcompute" in tool and config.build_config is None:
            config.build_config = str(pyproject)
    return config


def grammar_version(target: str | None, requires_python: str | None) -> tuple[int, int] | None:
    """The Python version whose grammar files are parsed with; None: the newest known.

    ``--target-version py312`` (or ``3.12``) names it. Otherwise ``requires-python`` caps it
    when it has an upper bound (``>=3.10,<3.13`` is 3.12): a file that is valid in any version the
    project allows is analysed. A lower bound alone does not lower it.
    """
    if target:
        digits = target.lower().removeprefix("py")
        match = _VERSION.match(digits) or re.match(r"(\d)(\d+)$", digits)
        if match:
            return int(match.group(1)), int(match.group(2))
        raise ValueError(f"unknown target version {target!r} (write py312 or 3.12)")
    if requires_python:
        for spec in requires_python.split(","):
            spec = spec.strip()
            match = _VERSION.search(spec)
            if match is None:
                continue
            major, minor = int(match.group(1)), int(match.group(2))
            if spec.startswith("<="):
                return major, minor
            if spec.startswith("<"):
                return major, max(minor - 1, 0)
    return None


def pyprojects_above(paths: list[Path]) -> list[Path]:
    """The nearest ``pyproject.toml`` at or above each checked path (at most 6 levels up)."""
    found: dict[Path, None] = {}
    folders = {path if path.is_dir() else path.parent for path in paths}  # many files, few folders
    for folder in folders:
        current = folder.resolve()
        for _ in range(6):
            candidate = current / "pyproject.toml"
            if candidate.is_file():
                found[candidate] = None
                break
            if current.parent == current:
                break
            current = current.parent
    return list(found)
