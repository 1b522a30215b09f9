"""Run a frozen build of apps/joblib_slot_app.py under the watchdog; exit 0 if it computed.

For the other-platforms workflow (Windows, macOS), after ``qtcompute build ... --report FILE``::

    python tests/joblib/run_frozen_joblib_app.py FILE

Prints the app's output and its largest process tree. Exit 1 if the tree passed the cap (it is
killed there), the app failed, or a total is missing or wrong.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for tests_support

from tests_support import run_bounded

CAP = 16
TOTAL = sum(i * i for i in range(1000))


def main(report_path: str) -> int:
    executable = json.loads(Path(report_path).read_text(encoding="utf-8"))["executable"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTCOMPUTE_")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    done = run_bounded([executable], cap=CAP, timeout=300, env=env)
    print(done.output)
    print(f"exit code {done.returncode}, largest tree {done.peak} processes (cap {CAP})")
    ok = (
        not done.runaway
        and done.returncode == 0
        and f"loky total {TOTAL}" in done.output
        and f"qtcompute total {TOTAL}" in done.output
    )
    if done.runaway:
        print(f"runaway: more than {CAP} processes after {done.runaway_after:.1f} s; killed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
