"""Files written for a newer Python than the one running the checker are analysed, line for line.

Each source below is valid from some Python release (3.11 to 3.15) and ends with a finding on a
known line, so the test fails if the file is skipped as a syntax error or if lines shift.
"""

from __future__ import annotations

import os
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

from qtcompute.check import check_paths, check_source
from qtcompute.check._parse import compiled_already

TAIL = "\nimport multiprocessing\nmultiprocessing.Pool(2)\n"  # QC001 on its last line

NEWER = {
    "PEP 701 f-strings (3.12)": "cfg = {'a': 1}\nprint(f'{cfg['a']}: {f'{1:>{2}}'}')\n",
    "multi-line f-string expression (3.12)": "x = f'{len(\n    [1, 2]\n)}'\n",
    "triple-quoted f-string": 'x = f"""a\nb {len("c")}\nd"""\n',
    "PEP 695 type alias and parameters (3.12)": (
        "type Pair[T] = tuple[T, T]\n\n\ndef first[T](p: Pair[T]) -> T:\n    return p[0]\n\n\n"
        "class Box[T: int = int]:\n    pass\n"
    ),
    "except* (3.11)": "try:\n    pass\nexcept* ValueError:\n    pass\n",
    "PEP 758 except without parentheses (3.14)": (
        "try:\n    pass\nexcept ValueError, TypeError:\n    pass\n"
    ),
    "PEP 750 t-strings (3.14)": "name = 'x'\ntemplate = t'hello {name}'\n",
    "lazy imports (3.15)": "lazy import json\nlazy from os import path\n",
}


@pytest.mark.parametrize("source", NEWER.values(), ids=NEWER.keys())
def test_newer_syntax_is_analysed_with_lines_in_place(source: str) -> None:
    text = source + TAIL
    findings = check_source(text, "modern.py")
    assert [(f.code, f.line) for f in findings] == [("QC001", text.count("\n"))]


def test_a_real_syntax_error_is_still_reported_with_its_line() -> None:
    [finding] = check_source("import multiprocessing\n\ndef broken(:\n    pass\n", "bad.py")
    assert (finding.code, finding.line) == ("QC000", 3)
    assert "syntax error" in finding.message


def test_target_version_picks_the_grammar() -> None:
    source = "type Alias = int\n" + TAIL
    assert [f.code for f in check_source(source, target_version="py312")] == ["QC001"]
    import sys

    if sys.version_info < (3, 12):  # the running parser and the 3.11 grammar both reject it
        assert [f.code for f in check_source(source, target_version="py311")] == ["QC000"]


@pytest.mark.parametrize(
    "invalidation",
    [py_compile.PycInvalidationMode.TIMESTAMP, py_compile.PycInvalidationMode.CHECKED_HASH],
    ids=["timestamp", "hash"],
)
def test_a_current_byte_code_cache_stands_for_the_syntax_check_and_a_stale_one_does_not(
    tmp_path: Path, invalidation: py_compile.PycInvalidationMode
) -> None:
    script = tmp_path / "plain.py"
    script.write_text("x = 1\n")
    assert not compiled_already(str(script), script.read_bytes())  # no cache yet
    py_compile.compile(str(script), doraise=True, invalidation_mode=invalidation)
    assert compiled_already(str(script), script.read_bytes())
    assert check_paths([script]).findings == []
    # The source changes after the cache was written: the cache no longer vouches for it.
    script.write_text("def broken(:\n    pass\n")
    os.utime(script, (1, 1))
    assert not compiled_already(str(script), script.read_bytes())
    [finding] = check_paths([script]).findings
    assert (finding.code, finding.line) == ("QC000", 1)


HOPELESS = {
    "python2.py": b"print 'hello'\n",
    "octal.py": b"mode = 0755\n",
    "currency.py": "price\u20ac = 1\n".encode(),
    "codec.py": b"# -*- coding: uft-8 -*-\nx = 1\n",
    "latin1.py": b"name = 'b\xf6se'\n",
}

_PROBE = """
import sys
from qtcompute.check import check_paths
report = check_paths(sys.argv[1:])
print(sorted((f.path.rsplit('/', 1)[-1], f.code) for f in report.findings))
print('libcst' in sys.modules)
"""


def test_errors_no_grammar_takes_back_are_reported_without_asking_libcst(tmp_path: Path) -> None:
    for name, data in HOPELESS.items():
        (tmp_path / name).write_bytes(data)
    paths = [str(tmp_path / name) for name in HOPELESS]
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *paths], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == str(sorted((name, "QC000") for name in HOPELESS))
    assert out[1] == "False"
    # a newer grammar's construct still goes to LibCST, and is analysed
    (tmp_path / "modern.py").write_text("type Pair = tuple[int, int]\n" + TAIL)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / "modern.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out == ["[('modern.py', 'QC001')]", str(sys.version_info < (3, 12))]
