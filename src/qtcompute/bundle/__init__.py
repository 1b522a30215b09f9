"""``qtcompute build``: freeze an app with PyInstaller, trimmed, and prove it runs.

- :func:`build_app` / :class:`BuildOptions` - the steps: check, the app from source (smoke run
  with coverage), freeze (trimmed, completed with what that run used), UPX, verify (self-test,
  then the frozen app's smoke run), report.
- :class:`BuildReport` - what was measured; written as JSON.
- :func:`verify` - run a frozen app's self-test under a process-tree watchdog.
- :func:`detect_qt` - which Qt binding (and heavy Qt modules) an app's source uses.
- :func:`plan_upx` - whether UPX will be applied here, and why.
"""

from qtcompute.bundle._build import build_app
from qtcompute.bundle._errors import (
    BuildError,
    CheckFailedError,
    FreezeFailedError,
    RunawaySpawningError,
    VerifyFailedError,
)
from qtcompute.bundle._options import BuildOptions
from qtcompute.bundle._qt import QtUsage, detect_qt
from qtcompute.bundle._report import BuildReport
from qtcompute.bundle._upx import UpxPlan, plan_upx
from qtcompute.bundle._verify import VerifyResult, verify

__all__ = [
    "BuildError",
    "BuildOptions",
    "BuildReport",
    "CheckFailedError",
    "FreezeFailedError",
    "QtUsage",
    "RunawaySpawningError",
    "UpxPlan",
    "VerifyFailedError",
    "VerifyResult",
    "build_app",
    "detect_qt",
    "plan_upx",
    "verify",
]
