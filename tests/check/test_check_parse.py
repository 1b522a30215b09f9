"""Files written for a newer Python than the one running the checker are analysed, line for line.

Each source below is valid from some Python release (3.11 to 3.15) and ends with a finding on a
known line, so the test fails if the file is skipped as a syntax error or if lines shift.
"""

from __future__ import annotations

import pytest

from qtcompute.check import check_source

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
