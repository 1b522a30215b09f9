"""Whole programs: each folder of ``projects/`` is checked as one, markers as in the fixtures.

Every ``.py`` file of a project marks its expected findings inline (``# QC002`` or
``# QC002: 1``); findings anywhere else fail the test. The folders are copied first, so that no
``pyproject.toml`` above them (this repository's) takes part.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from qtcompute.check import check_paths

PROJECTS = Path(__file__).parent / "projects"
_EXPECTED = re.compile(r"#\s*(QC\d{3})(?::\s*(\d+))?")


def _markers(root: Path) -> tuple[set[tuple[str, int, str]], dict[tuple[str, int, str], int]]:
    places: set[tuple[str, int, str]] = set()
    columns: dict[tuple[str, int, str], int] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), start=1):
            for match in _EXPECTED.finditer(line):
                places.add((rel, number, match.group(1)))
                if match.group(2):
                    columns[(rel, number, match.group(1))] = int(match.group(2))
    return places, columns


@pytest.mark.parametrize("name", sorted(p.name for p in PROJECTS.iterdir()), ids=str)
def test_project(name: str, tmp_path: Path) -> None:
    root = tmp_path / name
    shutil.copytree(PROJECTS / name, root)
    places, columns = _markers(root)
    report = check_paths([root], all_scripts=(root / "ALL_SCRIPTS").exists())
    assert report.errors == []
    found = {(Path(f.path).relative_to(root).as_posix(), f.line, f.code) for f in report.findings}
    assert found == places, [str(f) for f in report.findings]
    for finding in report.findings:
        key = (Path(finding.path).relative_to(root).as_posix(), finding.line, finding.code)
        if key in columns:
            assert finding.col == columns[key], finding


def test_spec_entry_is_named_and_the_start_is_the_evidence(tmp_path: Path) -> None:
    root = tmp_path / "spec_app"
    shutil.copytree(PROJECTS / "spec_app", root)
    [finding] = check_paths([root]).findings
    assert "entry script of app.spec" in finding.message
    assert f"{root / 'mypkg' / 'analysis.py'}:9" in finding.message
    assert "multiprocessing.Pool()" in finding.message


def test_the_same_program_with_jobs_gives_the_same_report(tmp_path: Path) -> None:
    root = tmp_path / "spec_app"
    shutil.copytree(PROJECTS / "spec_app", root)
    for index in range(60):  # enough files for worker processes
        (root / "mypkg" / f"filler{index}.py").write_text("import queue\nx = queue.Queue()\n")
    assert check_paths([root], jobs=2).findings == check_paths([root], jobs=1).findings


def test_plain_scripts_are_reported_on_request(tmp_path: Path) -> None:
    root = tmp_path / "scripts_ok"
    shutil.copytree(PROJECTS / "scripts_ok", root)
    assert check_paths([root]).findings == []
    [finding] = check_paths([root], all_scripts=True).findings
    assert finding.code == "QC002"
    assert "--all-scripts" in finding.message


def test_a_script_being_frozen_is_judged_as_frozen(tmp_path: Path) -> None:
    # issue 14's script: freeze_support() first, then joblib on loky; no Qt, no .spec
    script = tmp_path / "squares.py"
    script.write_text(
        "import multiprocessing\n\nfrom joblib import Parallel, delayed\n\n\n"
        "def square(x):\n    return x * x\n\n\n"
        'if __name__ == "__main__":\n    multiprocessing.freeze_support()\n'
        "    print(sum(Parallel(n_jobs=2)(delayed(square)(i) for i in range(100))))\n"
    )
    assert check_paths([script]).findings == []  # a plain script
    [finding] = check_paths([script], frozen=True).findings  # as `qtcompute build` asks
    assert (finding.code, finding.line) == ("QC011", 12)
    assert "it is being frozen" in finding.message
    assert "bypass multiprocessing.freeze_support()" in finding.message


IMPORTS = (
    b"import os, sys as system; import json\r\n"
    b"x = 'import re'  # import time\n"
    b"from . import (\n    a,\n    b as c,\n)\n"
    b"    from ..pkg.mod import name  # indented: in a function\n"
    b"from importlib import import_module\n"
    b"import_thing = 1\n"
    b"import"
)


def test_the_import_scan_finds_what_the_regular_expression_finds_on_every_line() -> None:
    from qtcompute.check._project import _IMPORT, _import_statements

    expected = [m.group(0) for m in _IMPORT.finditer(IMPORTS)]
    assert [m.group(0) for m in _import_statements(IMPORTS)] == expected
    assert len(expected) == 4  # the first line, the parenthesised one, the indented, importlib
