"""The checker on real code: the whole standard library and site-packages of this environment.

Every standard-library file gets the full analysis (no pre-filter), so every rule meets every
construct Python has; site-packages is checked as a real run would. Neither may end in an
internal error. Findings are expected (the standard library
starts processes in its own tests) and only counted. A run as the command makes it (pre-filter,
worker processes) must find the same as the full analysis.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import pytest

from qtcompute.check import check_paths


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_stdlib_and_site_packages_without_internal_errors() -> None:
    paths = sysconfig.get_paths()
    # the standard library with the full analysis on every file; site-packages as a real run
    stdlib = check_paths([Path(paths["stdlib"])], prefilter=False, exclude=["site-packages"])
    site = check_paths([Path(paths["purelib"])])
    assert stdlib.files > 1000
    assert site.files > 100
    assert stdlib.errors == [], stdlib.errors[:5]
    assert site.errors == [], site.errors[:5]
    # the command's way: pre-filter and worker processes; the same rule findings, and the same
    # syntax errors plus those only the compiler finds in files no rule can fire on
    fast = check_paths([Path(paths["stdlib"])], exclude=["site-packages"], jobs=2)
    assert fast.files == stdlib.files
    assert fast.errors == []
    rules = [f for f in stdlib.findings if f.code != "QC000"]
    assert [f for f in fast.findings if f.code != "QC000"] == rules
    assert {f for f in stdlib.findings if f.code == "QC000"} <= set(fast.findings)
    syntax = [f for f in stdlib.findings + site.findings if f.code == "QC000"]
    # the standard library keeps a few deliberately broken files for its own tests
    assert len(syntax) < 60, syntax[:5]
    found = len(stdlib.findings) + len(site.findings)
    print(f"\n{stdlib.files + site.files} files, {found} findings", file=sys.stderr)
