"""Score the checker on `fixtures/`: small programs written here in the shapes the corpus showed.

Each folder under `fixtures/` is one project (several files where the shape crosses modules, a
`.spec` or `pyproject.toml` where the shape needs one). Lines carry their expectation in a
comment, in the manner of flake8-bugbear's eval files:

- `# expect: QC008` a finding with this code must be reported on this line;
- `# expect-file: QC002` a finding with this code must be reported somewhere in this file;
- `# quiet: QC008 QC01?` no finding with these codes may be reported on this line (the corpus
  showed it to be a false positive).

Codes are patterns (`QC01?` is any rule added after QC009). Findings on unmarked lines are
listed, to be judged. Unlike the corpus, the fixtures are in the repository, so this part of the
evaluation runs anywhere.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MARK = re.compile(r"#\s*(expect|expect-file|quiet):\s*([A-Z0-9?* ]+)")


@dataclass(frozen=True)
class Mark:
    fixture: str
    path: str
    line: int
    kind: str  # expect, expect-file, quiet
    codes: tuple[str, ...]

    def matches(self, code: str) -> bool:
        return any(fnmatch.fnmatchcase(code, pattern) for pattern in self.codes)


def read_marks(fixture_dir: Path) -> list[Mark]:
    marks = []
    for path in sorted(fixture_dir.rglob("*.py")):
        relative = path.relative_to(fixture_dir).as_posix()
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            found = MARK.search(text)
            if found:
                codes = tuple(found.group(2).split())
                marks.append(Mark(fixture_dir.name, relative, number, found.group(1), codes))
    return marks


@dataclass
class FixtureScore:
    expected_found: list[Mark]
    expected_missed: list[Mark]
    quiet_kept: list[Mark]
    quiet_broken: list[tuple[Mark, object]]
    unmarked: list[object]


def score_fixture(marks: list[Mark], findings: list) -> FixtureScore:
    """`findings` have .path, .line and .code (evaluate.Finding)."""
    result = FixtureScore([], [], [], [], [])
    used = set()
    for mark in marks:
        if mark.kind == "quiet":
            broken = [
                f
                for f in findings
                if (f.path, f.line) == (mark.path, mark.line) and mark.matches(f.code)
            ]
            if broken:
                result.quiet_broken.extend((mark, f) for f in broken)
                used.update(id(f) for f in broken)
            else:
                result.quiet_kept.append(mark)
            continue
        hits = [
            f
            for f in findings
            if f.path == mark.path
            and mark.matches(f.code)
            and (mark.kind == "expect-file" or f.line == mark.line)
        ]
        used.update(id(f) for f in hits)
        (result.expected_found if hits else result.expected_missed).append(mark)
    result.unmarked = [f for f in findings if id(f) not in used]
    return result


def run_fixtures(root: Path, check: Callable[[Path, str], list]) -> dict[str, int]:
    """Check every fixture with `check(folder, name)` and print what held and what did not."""
    totals = {"expect": 0, "expect_found": 0, "quiet": 0, "quiet_kept": 0, "unmarked": 0}
    print(f"\nFixtures ({root}):")
    for fixture_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        marks = read_marks(fixture_dir)
        score = score_fixture(marks, check(fixture_dir, fixture_dir.name))
        expected = len(score.expected_found) + len(score.expected_missed)
        quiet = len(score.quiet_kept) + len(score.quiet_broken)
        totals["expect"] += expected
        totals["expect_found"] += len(score.expected_found)
        totals["quiet"] += len(score.quiet_kept) + len({id(m) for m, _ in score.quiet_broken})
        totals["quiet_kept"] += len(score.quiet_kept)
        totals["unmarked"] += len(score.unmarked)
        status = "ok  " if not score.expected_missed and not score.quiet_broken else "FAIL"
        found, kept = len(score.expected_found), len(score.quiet_kept)
        counts = f"expected {found}/{expected}, quiet {kept}/{quiet}"
        print(f"  {status} {fixture_dir.name:<40} {counts}")
        for mark in score.expected_missed:
            print(f"         not reported: {mark.path}:{mark.line} {' '.join(mark.codes)}")
        for mark, finding in score.quiet_broken:
            print(f"         false positive: {mark.path}:{mark.line} {finding.code}")
        for finding in score.unmarked:
            where = f"{finding.path}:{finding.line} {finding.code}"
            print(f"         unmarked: {where} {finding.message[:80]}")
    print(f"  expected findings reported {totals['expect_found']}/{totals['expect']}, "
          f"quiet lines kept quiet {totals['quiet_kept']}/{totals['quiet']}, "
          f"unmarked findings {totals['unmarked']}")  # fmt: skip
    return totals
