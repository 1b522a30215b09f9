"""``qtcompute check``: output formats, exit codes 0/1/2, select/ignore, folders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from qtcompute.check._cli import check

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(FIXTURES / "seed_calculator.py", tmp_path / "app.py")
    shutil.copy(FIXTURES / "clean_app.py", tmp_path / "clean.py")
    (tmp_path / "pkg").mkdir()
    shutil.copy(FIXTURES / "qc001.py", tmp_path / "pkg" / "worker.py")
    for skipped in (".venv", "__pycache__", ".hidden"):
        (tmp_path / skipped).mkdir()
        shutil.copy(FIXTURES / "qc001.py", tmp_path / skipped / "skipped.py")
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(check, list(args))
    return result.exit_code, result.output


def test_clean_file_exits_0(project: Path) -> None:
    assert run(str(project / "clean.py")) == (0, "")


def test_findings_exit_1_sorted_by_place(project: Path) -> None:
    code, output = run(str(project / "app.py"))
    assert code == 1
    lines = output.splitlines()
    assert [line.split(": ", 1)[1][:5] for line in lines] == ["QC009", "QC008"]
    assert lines[0].startswith(f"{project / 'app.py'}:17:9: QC009 ")


def test_folder_skips_hidden_and_cache_dirs(project: Path) -> None:
    code, output = run(str(project))
    assert code == 1
    assert "skipped.py" not in output
    files = {line.split(":", 1)[0] for line in output.splitlines()}
    assert files == {str(project / "app.py"), str(project / "pkg" / "worker.py")}


def test_json(project: Path) -> None:
    code, output = run("--format", "json", str(project / "app.py"))
    assert code == 1
    rows = json.loads(output)
    assert [(r["line"], r["col"], r["code"]) for r in rows] == [(17, 9, "QC009"), (65, 25, "QC008")]


def test_sarif(project: Path) -> None:
    code, output = run("--format", "sarif", str(project / "app.py"))
    assert code == 1
    log = json.loads(output)
    assert log["version"] == "2.1.0"
    run_ = log["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert ids[:2] == ["QC000", "QC001"]
    for result in run_["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("warning", "error")
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"].endswith("app.py")
        assert set(location["region"]) == {"startLine", "startColumn"}


def test_select_and_ignore(project: Path) -> None:
    path = str(project / "app.py")
    assert run("--select", "QC008", path)[1].count("QC008") == 1
    assert "QC009" not in run("--select", "QC008", path)[1]
    assert run("--ignore", "QC008,QC009", path) == (0, "")
    assert run("--ignore", "QC00", path) == (0, "")


def test_unknown_code_is_a_usage_error(project: Path) -> None:
    code, output = run("--select", "E501", str(project / "app.py"))
    assert code == 2
    assert "unknown code E501" in output


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    assert run(str(tmp_path / "missing.py"))[0] == 2


def test_syntax_error_is_reported_and_the_run_goes_on(project: Path) -> None:
    (project / "broken.py").write_text("def broken(:\n    pass\n")
    code, output = run(str(project / "broken.py"), str(project / "app.py"))
    assert code == 1
    assert "broken.py:1:12: QC000 syntax error" in output
    assert "QC008" in output


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads everything")
def test_unreadable_file_exits_2(project: Path) -> None:
    target = project / "secret.py"
    target.write_text("x = 1\n")
    target.chmod(0)
    result = CliRunner().invoke(check, [str(target)])
    assert result.exit_code == 2


def test_unreadable_file_exits_2_as_a_directory_named_py(project: Path) -> None:
    # works as root too: a folder called x.py given explicitly cannot be read as a file
    (project / "odd.py").mkdir()
    result = CliRunner().invoke(check, [str(project / "clean.py"), str(project / "odd.py")])
    assert result.exit_code == 0  # a folder is walked, not read
    fifo = project / "dangling.py"
    fifo.symlink_to(project / "nowhere.py")
    result = CliRunner().invoke(check, [str(project / "clean.py"), str(fifo)])
    assert result.exit_code == 2


def test_real_subprocess(project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "qtcompute", "check", "--format", "json", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert {row["code"] for row in json.loads(result.stdout)} >= {"QC001", "QC008", "QC009"}


def test_jobs_give_the_same_report(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in sorted(p.name for p in FIXTURES.glob("*.py")):
        shutil.copy(FIXTURES / name, project / f"fixture_{name}")
    (project / "broken.py").write_text("def broken(:\n")
    expected = run("--jobs", "1", "--format", "json", str(project))
    assert expected[0] == 1
    # even a handful of files goes to worker processes
    monkeypatch.setattr("qtcompute.check._jobs.MIN_FILES_PER_WORKER", 1)
    assert run("--jobs", "2", "--format", "json", str(project)) == expected
    assert run("-j", "3", "--format", "json", str(project)) == expected


def test_jobs_must_be_positive(project: Path) -> None:
    assert run("--jobs", "0", str(project))[0] == 2


def test_all_scripts_and_target_version(tmp_path: Path) -> None:
    script = tmp_path / "batch.py"
    script.write_text(
        "import multiprocessing\n\nif __name__ == '__main__':\n"
        "    multiprocessing.Pool(2).map(abs, [1])\n"
    )
    assert run(str(script)) == (0, "")
    code, output = run("--all-scripts", str(script))
    assert code == 1
    assert " QC002 " in output
    code, output = run("--target-version", "py2x", str(script))
    assert code == 2
    assert "unknown target version" in output


def test_newer_grammar_is_analysed(tmp_path: Path) -> None:
    # PEP 695 and PEP 701 (Python 3.12) with a real finding after them, whatever Python runs this
    script = tmp_path / "modern.py"
    script.write_text(
        "import multiprocessing\n\ntype Pair[T] = tuple[T, T]\n"
        "name = {'a': 1}\nprint(f'{name['a']}')\n\nmultiprocessing.Pool(2)\n"
    )
    code, output = run(str(script))
    assert code == 1
    assert ":7:1: QC001 " in output, output
    # the grammar of Python 3.10 has neither: a real syntax error for that target
    code, output = run("--target-version", "py310", str(script))
    if sys.version_info < (3, 12):
        assert " QC000 " in output
