"""Step 1: the static checker (``qtcompute check``), run on the app before freezing it.

Through its Python API (``qtcompute.check.check_paths``) when it is installed; otherwise through
its command line (``qtcompute check SCRIPT --format json``: exit 0 clean, 1 findings). Every
finding of the checker is an error (its findings carry no severity); a finding that carries a
severity other than "error" would be shown and not stop the build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class CheckOutcome:
    """The checker's verdict on the app."""

    ran: bool
    note: str
    findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if str(f.get("severity", "error")).lower() == "error"]


def format_finding(finding: dict[str, Any]) -> str:
    place = f"{finding.get('path', '?')}:{finding.get('line', '?')}:{finding.get('col', '?')}"
    return f"{place}: {finding.get('code', '?')} {finding.get('message', '')}".rstrip()


def run_check(script: Path, timeout: float = 120.0) -> CheckOutcome:
    """Run the checker on ``script``; a checker that is not installed is reported, not fatal."""
    try:
        from qtcompute.check import check_paths
    except ImportError:
        return _run_check_cli(script, timeout)
    report = check_paths([script], frozen=True)  # the build freezes it: judged as frozen
    findings = [asdict(finding) for finding in report.findings]
    problems = [{"path": str(script), "code": "unchecked", "message": e} for e in report.errors]
    note = "clean" if not findings else f"{len(findings)} finding(s)"
    if problems:
        note += f"; {len(problems)} file(s) could not be checked"
    return CheckOutcome(True, note, findings + problems)


def _run_check_cli(script: Path, timeout: float) -> CheckOutcome:
    command = [sys.executable, "-m", "qtcompute", "check", str(script), "--format", "json"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return CheckOutcome(False, f"skipped: the checker could not run ({exc})")
    if done.returncode not in (0, 1):
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return CheckOutcome(False, f"skipped: `qtcompute check` is not available ({reason})")
    try:
        data = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        if done.returncode == 1:
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return CheckOutcome(False, f"skipped: `qtcompute check` is not available ({reason})")
        return CheckOutcome(False, "skipped: the checker's output was not JSON")
    findings = data.get("findings", []) if isinstance(data, dict) else data
    findings = [f for f in findings if isinstance(f, dict)]
    note = "clean" if not findings else f"{len(findings)} finding(s)"
    return CheckOutcome(True, note, findings)
