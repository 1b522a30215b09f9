"""The smoke run, from the verifier's side: start the app headless in smoke mode, judge it.

The same run twice: from source before freezing (``python SCRIPT``, with our ``sitecustomize``
on ``PYTHONPATH`` and tracing on: the coverage the fixes come from), and frozen (the executable,
whose runtime hook starts the harness). Both under the process-tree watchdog of ``_verify``.
The harness (``qtcompute/freeze/_smoke.py``) writes what it saw to a result file; the verdict
is: exit status 0, no process left behind, no runaway, and no failure in that file.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qtcompute.bundle._coverage import Coverage, read_traces
from qtcompute.bundle._verify import VerifyResult, headless_env, run_watched
from qtcompute.freeze._smoke import SMOKE_ENV, SMOKE_SCRIPT_ENV, SMOKE_SETTLE_ENV, SMOKE_TIMEOUT_ENV
from qtcompute.freeze._trace import TRACE_ENV, TRACE_ROOT_ENV

INJECT = Path(__file__).with_name("_inject")


@dataclass
class SmokeRun:
    """One smoke run and its verdict."""

    where: str
    """"source" or "frozen"."""
    ok: bool
    message: str
    watch: VerifyResult
    harness: dict[str, Any] = field(default_factory=dict)
    coverage: Coverage | None = None
    started_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "ok": self.ok,
            "message": self.message,
            "wall_s": round(self.watch.wall_s, 3),
            "exit_code": self.watch.exit_code,
            "peak_processes": self.watch.peak_processes,
            "harness": self.harness,
            "watch": {k: v for k, v in asdict(self.watch).items() if k != "selftest"},
        }


def smoke_source(
    script: Path,
    *,
    binding: str | None,
    smoke_script: Path | None,
    settle: float,
    cap: int,
    timeout: float,
) -> SmokeRun:
    """Run ``script`` from source in smoke mode, tracing every process it starts."""
    with tempfile.TemporaryDirectory(prefix="qtcompute-smoke-src-") as tmp:
        traces = Path(tmp, "traces")
        traces.mkdir()
        path = os.pathsep.join(p for p in (str(INJECT), os.environ.get("PYTHONPATH")) if p)
        extra = {
            "PYTHONPATH": path,
            TRACE_ENV: str(traces),
            TRACE_ROOT_ENV: str(script.resolve().parent),
        }
        if binding:
            extra["QT_API"] = binding.lower()  # qtpy picks what the frozen app will hold
        command = [sys.executable, str(script.resolve())]
        run = _smoke(command, Path(tmp), extra, "source", smoke_script, settle, cap, timeout)
        run.coverage = read_traces(traces)
        return run


def smoke_frozen(
    executable: Path, *, smoke_script: Path | None, settle: float, cap: int, timeout: float
) -> SmokeRun:
    """Run the frozen ``executable`` in smoke mode."""
    with tempfile.TemporaryDirectory(prefix="qtcompute-smoke-") as tmp:
        return _smoke(
            [str(executable)], Path(tmp), {}, "frozen", smoke_script, settle, cap, timeout
        )


def _smoke(
    command: list[str],
    tmp: Path,
    extra: dict[str, str],
    where: str,
    smoke_script: Path | None,
    settle: float,
    cap: int,
    timeout: float,
) -> SmokeRun:
    result_file = tmp / "smoke.json"
    extra = {
        **extra,
        SMOKE_ENV: str(result_file),
        SMOKE_SETTLE_ENV: str(settle),
        SMOKE_TIMEOUT_ENV: str(max(timeout / 2, settle + 5)),
    }
    if smoke_script is not None:
        extra[SMOKE_SCRIPT_ENV] = str(smoke_script.resolve())
    cwd = tmp / "cwd"
    cwd.mkdir()
    watch = run_watched(
        command,
        env=headless_env(extra),
        cwd=str(cwd),
        cap=cap,
        timeout=timeout,
        log=tmp / "output.log",
    )
    harness: dict[str, Any] = {}
    if result_file.exists():
        try:
            harness = json.loads(result_file.read_text(encoding="utf-8"))
        except ValueError:
            harness = {}
    ok, message = judge(watch, harness, where)
    return SmokeRun(where, ok, message, watch, harness, started_at=watch.started_at)


def judge(watch: VerifyResult, harness: dict[str, Any], where: str) -> tuple[bool, str]:
    """The verdict and its one-paragraph reason, failures named."""
    failures = harness.get("failures", [])
    problems = [f"{f['kind']}: {_last_line(f['message'])}" for f in failures]
    if watch.runaway:
        return False, watch.message
    if not harness:
        problems.append(
            "no smoke result: the app ended before Python ran its first line (a missing shared "
            "library? see the output below) or it was killed"
        )
    if watch.exit_code not in (0, None) or not watch.ok:
        problems.append(watch.message)
    if harness.get("in_flight"):
        problems.append(f"{harness['in_flight']} task(s) were still unfinished at exit")
    if not problems:
        phases = harness.get("phases", {})
        return True, (
            f"passed ({harness.get('tasks', 0)} task(s), exited after "
            f"{phases.get('exited', watch.wall_s):.1f} s)"
        )
    return False, f"smoke run ({where}) failed: " + "; ".join(dict.fromkeys(problems))


def selftest_applies(source: SmokeRun | None) -> bool:
    """False if the run from source passed without starting a ``qtcompute.Pool``.

    The self-test takes over at the app's first ``Pool()`` (or ``qtcompute.run()``); an app
    that never gets there runs as usual under it, and a GUI app then waits in ``exec()`` until
    the verifier's timeout. The smoke run verifies such an app on its own.
    """
    if source is None or not source.ok:
        return True
    return bool(source.harness.get("pools", 1))


def failure_message(run: SmokeRun) -> str:
    """The error message of a failed run: its summary, then every failure's full text
    (tracebacks included), or the app's last output when the harness saw no failure."""
    parts = [f"[{f['kind']}] {f['message']}" for f in run.harness.get("failures", [])]
    tail = run.watch.output_tail.strip()
    if tail and not parts:
        parts.append(f"--- app output ---\n{tail}")
    return "\n".join([run.message, *parts])


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return text
    first = lines[0]
    last = lines[-1].strip()
    if first.startswith("task ") and first != last:
        return f"{first.split(':')[0]}: {last}"
    return last if len(lines) > 1 else first
