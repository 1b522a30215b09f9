"""The public surface, the rule documentation, the flake8 plugin and the pre-commit hook."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import qtcompute.check as check_api
from qtcompute.check import RULES
from qtcompute.check.flake8_plugin import QtComputeChecker

ROOT = Path(__file__).parents[2]
FIXTURES = Path(__file__).parent / "fixtures"


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def test_all_is_complete_and_sorted() -> None:
    assert check_api.__all__ == sorted(check_api.__all__, key=_isort_key)
    public = {n for n in vars(check_api) if not n.startswith("_")}
    modules = {n for n, v in vars(check_api).items() if type(v) is type(sys)}
    assert public - modules - {"annotations"} == set(check_api.__all__)


def test_codes_are_stable_and_in_order() -> None:
    codes = [rule.code for rule in RULES]
    assert codes == [f"QC{n:03d}" for n in range(1, len(RULES) + 1)]
    names = [rule.name for rule in RULES]
    assert len(set(names)) == len(names)


def test_one_module_per_rule() -> None:
    files = sorted(p.stem for p in (ROOT / "src/qtcompute/check/rules").glob("qc[0-9]*.py"))
    assert [f[:5].upper() for f in files] == [rule.code for rule in RULES]


def test_rule_docs_have_ruffs_shape_and_match_the_pages() -> None:
    sections = [
        "## What it does",
        "## Why is this bad?",
        "## Example",
        "## Use instead",
        "## Known limitations",
    ]
    for rule in RULES:
        positions = [rule.doc.index(s) for s in [*sections, "## References"]]
        assert positions == sorted(positions), rule.code
        page = ROOT / "docs" / "rules" / f"{rule.code}.md"
        assert page.read_text(encoding="utf-8") == rule.render_markdown(), (
            f"{page} is out of date: regenerate it with "
            "`python -m qtcompute.check.rules docs/rules`"
        )


def test_flake8_plugin_reports_the_same_findings() -> None:
    source = (FIXTURES / "seed_calculator.py").read_text(encoding="utf-8")
    plugin = QtComputeChecker(ast.parse(source), "seed.py")
    found = sorted((line, col + 1, message[:5]) for line, col, message, _ in plugin.run())
    expected = sorted((f.line, f.col, f.code) for f in check_api.check_source(source))
    assert found == expected


def test_flake8_runs_the_plugin(tmp_path: Path) -> None:
    target = tmp_path / "app.py"
    target.write_text("import multiprocessing\n\npool = multiprocessing.Pool(2)\n")
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "QC", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert ":3:8: QC001 " in result.stdout


def test_pre_commit_hook_runs_the_command() -> None:
    text = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    assert "id: qtcompute-check" in text
    assert "entry: qtcompute check" in text
    assert "types: [python]" in text
