"""Every fixture file marks its expected findings inline, flake8-bugbear style.

A line that must produce a finding ends with ``# QC003`` (or ``# QC003: 12`` to pin the column,
counted from 1); every other line must produce none. One parametrized test reads them all. A
fixture whose first line is ``# check: all_scripts`` is checked with that option.
"""

from __future__ import annotations

import gc
import re
from pathlib import Path

import pytest

from qtcompute.check import RULES, check_source

FIXTURES = Path(__file__).parent / "fixtures"
_EXPECTED = re.compile(r"#\s*(QC\d{3})(?::\s*(\d+))?")


def _expected(source: str) -> tuple[set[tuple[int, str]], dict[tuple[int, str], int]]:
    places: set[tuple[int, str]] = set()
    columns: dict[tuple[int, str], int] = {}
    for number, line in enumerate(source.splitlines(), start=1):
        for match in _EXPECTED.finditer(line):
            places.add((number, match.group(1)))
            if match.group(2):
                columns[(number, match.group(1))] = int(match.group(2))
    return places, columns


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.py")), ids=lambda p: p.name)
def test_fixture(fixture: Path) -> None:
    source = fixture.read_text(encoding="utf-8")
    places, columns = _expected(source)
    options = {"all_scripts": source.startswith("# check: all_scripts")}
    findings = check_source(source, fixture.name, **options)
    assert {(f.line, f.code) for f in findings} == places
    for finding in findings:
        if (finding.line, finding.code) in columns:
            assert finding.col == columns[(finding.line, finding.code)], finding


def test_fixture_prefilter_changes_nothing() -> None:
    for fixture in sorted(FIXTURES.glob("*.py")):
        source = fixture.read_bytes()
        options = {"all_scripts": source.startswith(b"# check: all_scripts")}
        assert check_source(source, "f.py", **options) == check_source(
            source, "f.py", prefilter=False, **options
        )


def test_every_rule_has_a_firing_case_and_a_silent_case() -> None:
    fired: set[str] = set()
    for fixture in [*FIXTURES.glob("*.py"), *(FIXTURES.parent / "projects").rglob("*.py")]:
        fired |= {code for _, code in _expected(fixture.read_text(encoding="utf-8"))[0]}
    assert {rule.code for rule in RULES} <= fired


def test_seed_script_gives_exactly_blocking_wait_and_swallowed_errors() -> None:
    source = (FIXTURES / "seed_calculator.py").read_text(encoding="utf-8")
    codes = sorted(f.code for f in check_source(source, "seed.py"))
    assert codes == ["QC008", "QC009"]
    # no freeze-support finding: the seed calls freeze_support() first in its guard
    assert not {"QC002", "QC003", "QC004"} & set(codes)


def test_seed_fixture_is_the_seed_script() -> None:
    seed = Path(__file__).parents[3] / "shared" / "seed" / "000_9b8f5da2b090d47a.txt"
    if not seed.exists():
        pytest.skip("the seed article is not next to this checkout")
    fixture = (FIXTURES / "seed_calculator.py").read_text(encoding="utf-8")
    body = re.sub(r"  # QC\d{3}(: \d+)?$", "", fixture, flags=re.M).split("\n", 2)[2]
    assert body.strip() in seed.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("source", "codes"),
    [
        ("import multiprocessing\nmultiprocessing.Pool(2)\n", ["QC001"]),
        ("import multiprocessing\nmultiprocessing.Pool(2)  # noqa\n", []),
        ("import multiprocessing\nmultiprocessing.Pool(2)  # noqa: QC001\n", []),
        ("import multiprocessing\nmultiprocessing.Pool(2)  # NOQA:QC001,QC002\n", []),
        ("import multiprocessing\nmultiprocessing.Pool(2)  # noqa: QC002\n", ["QC001"]),
        ("import multiprocessing\nmultiprocessing.Pool(2)  # noqa: E501\n", ["QC001"]),
    ],
)
def test_noqa(source: str, codes: list[str]) -> None:
    assert [f.code for f in check_source(source)] == codes


def test_select_and_ignore() -> None:
    source = (FIXTURES / "qc005.py").read_text(encoding="utf-8")
    assert {f.code for f in check_source(source)} == {"QC005"}
    assert check_source(source, ignore=["QC005"]) == []
    assert check_source(source, ignore=["QC00"]) == []
    assert check_source(source, select=["QC001"]) == []
    assert {f.code for f in check_source(source, select=["QC0"])} == {"QC005"}


def test_syntax_error_is_a_finding() -> None:
    [finding] = check_source("def broken(:\n", "bad.py")
    assert (finding.code, finding.line) == ("QC000", 1)
    assert "syntax error" in finding.message
    [finding] = check_source("x = (\n", "bad.py", prefilter=True)
    assert finding.code == "QC000"


def test_deeply_nested_code_does_not_crash() -> None:
    # deeper than Python's recursion limit once the checker walks it
    source = "import multiprocessing\nx = " + " + ".join(["f()"] * 1500) + "\n"
    assert check_source(source, prefilter=False) == []
    # too deep even for the parser: reported, not raised
    source = "import multiprocessing\nx = " + " + ".join(["1"] * 20000) + "\n"
    assert [f.code for f in check_source(source, prefilter=False)] == ["QC000"]


def test_prefilter_keeps_syntax_results() -> None:
    # a compiler-only error (`return` outside a function): a file that mentions a trigger was
    # always parsed, not compiled, so it is not reported even when no rule can fire on it
    assert check_source("import queue\nreturn 1\n", prefilter=True) == []
    assert check_source("import queue\nreturn 1\n", prefilter=False) == []
    # a file without any trigger is only compiled, as it always was
    assert [f.code for f in check_source("return 1\n", prefilter=True)] == ["QC000"]
    # a parser error is reported either way
    assert [f.code for f in check_source("import queue\nx = (\n")] == ["QC000"]
    assert check_source("x = (\n", ignore=["QC000"]) == []


def test_checking_leaves_no_reference_cycles() -> None:
    # check_paths pauses the cyclic collector: a file's tables must be freed by refcounting
    source = (FIXTURES / "seed_calculator.py").read_text(encoding="utf-8")
    gc.collect()
    gc.disable()
    try:
        assert check_source(source)
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_a_binary_file_named_py_is_not_source() -> None:
    assert check_source(b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)), "lib.py") == []


WORKER_LOOP = """\
def worker(jobs, results):
    while True:
        try:
            results.put(jobs.get() * 2)
        except {handler}:
            {body}
"""


@pytest.mark.parametrize(
    ("handler", "body", "fires"),
    [
        ("", "continue", True),
        (" \\\n", "...", True),
        (" Exception", "pass", True),
        (" (OSError, BaseException)", "'ignored'", True),
        (" ValueError", "pass", False),
    ],
)
def test_prefilter_keeps_worker_loops_without_a_process_library(
    handler: str, body: str, fires: bool
) -> None:
    # QC009's own word set: a worker loop and a broad handler (bare, or naming an Exception)
    source = WORKER_LOOP.format(handler=handler, body=body)
    findings = check_source(source, "w.py")
    assert findings == check_source(source, "w.py", prefilter=False)
    assert [f.code for f in findings] == (["QC009"] if fires else [])


def test_prefilter_reads_identifiers_as_python_does() -> None:
    from qtcompute.check._prefilter import may_find

    # Python NFKC-normalizes identifiers: a fullwidth first letter still names multiprocessing
    hidden = "# the queue\nimport \uff4dultiprocessing\n\uff4dultiprocessing.Pool(2)\n"
    findings = check_source(hidden, "hidden.py")
    assert [f.code for f in findings] == ["QC001"]
    assert findings == check_source(hidden, "hidden.py", prefilter=False)
    # text in another script that hides no word is not analysed
    assert not may_find("# the queue\nname = 'caf\u00e9'\n".encode())
    assert not may_find("# -*- coding: latin-1 -*-\nname = 'caf\u00e9'\n".encode("latin-1"))
