"""Step 5: the build report, as a terminal table and as JSON."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def tree_size(path: Path) -> int:
    """Bytes of a file, or of every file below a folder (symlinks not followed)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _dirnames, filenames in os.walk(path):
        for name in filenames:
            file = Path(dirpath, name)
            if not file.is_symlink():
                total += file.stat().st_size
    return total


def human(size: float | None) -> str:
    if size is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(size) < 1024 or unit == "GB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size:.0f} B"
        size /= 1024
    return f"{size:.1f} GB"


@dataclass
class BuildReport:
    """Everything ``qtcompute build`` measured; ``verdict`` is "verified" only for a good build."""

    script: str
    name: str
    mode: str
    verdict: str = "not built"
    message: str = ""
    target: str | None = None
    executable: str | None = None
    size_bytes: int | None = None
    binding: str | None = None
    excluded_modules: list[str] = field(default_factory=list)
    trimmed_bytes: dict[str, int] = field(default_factory=dict)
    upx: dict[str, Any] = field(default_factory=dict)
    check: dict[str, Any] = field(default_factory=dict)
    verify: dict[str, Any] = field(default_factory=dict)
    durations_s: dict[str, float] = field(default_factory=dict)
    smoke: dict[str, Any] = field(default_factory=dict)
    """The smoke runs of the app itself: "source" (before freezing) and "frozen"."""
    additions: dict[str, Any] = field(default_factory=dict)
    """What the run from source used and the first Analysis lacked, and what was added."""
    system_libraries: list[dict[str, Any]] = field(default_factory=list)
    """Linux: what the xcb platform plugin needs from users' systems (a warning)."""
    platform: str = field(
        default_factory=lambda: f"{platform.platform()} / {sys.version.split()[0]}"
    )

    @property
    def verified(self) -> bool:
        return self.verdict == "verified"

    @property
    def trimmed_total(self) -> int:
        return sum(self.trimmed_bytes.values())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["trimmed_total_bytes"] = self.trimmed_total
        return data

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    def rows(self) -> list[tuple[str, str]]:
        """(item, value) rows for the terminal table."""
        label = "onefile executable" if self.mode == "onefile" else "onedir folder"
        rows = [
            ("app", f"{self.script} -> {self.target or '-'}"),
            (f"size ({label})", human(self.size_bytes)),
            ("Qt binding", self.binding or "none detected"),
        ]
        for reason, size in self.trimmed_bytes.items():
            if size:
                rows.append((f"trimmed: {reason}", human(size)))
        if self.trimmed_bytes:
            rows.append(("trimmed: total", human(self.trimmed_total)))
        if self.upx:
            saved = self.upx.get("saved_bytes")
            rows.append(("UPX", self.upx.get("reason", "")))
            if saved is not None:
                rows.append(("UPX saved", human(saved)))
        if self.check:
            rows.append(("check", self.check.get("note", "")))
        v = self.verify
        if v:
            rows.append(("verify", v.get("message", "")))
            if v.get("first_result_s") is not None:
                rows.append(("time to first worker result", f"{v['first_result_s']:.2f} s"))
            rows.append(("peak processes", f"{v.get('peak_processes')} (cap {v.get('cap')})"))
            rows.append(("peak memory (tree RSS)", human(v.get("peak_rss_bytes"))))
            if v.get("qt"):
                rows.append(
                    ("Qt platform", f"{v['qt'].get('binding')} / {v['qt'].get('platform')}")
                )
            if v.get("shm_removed"):
                rows.append(("/dev/shm entries cleaned", str(v["shm_removed"])))
        for where in ("source", "frozen"):
            if where in self.smoke:
                rows.append((f"smoke ({where})", self.smoke[where].get("message", "")))
        added = self.additions
        if added.get("hidden_imports"):
            rows.append(("added hidden imports", ", ".join(added["hidden_imports"])))
        if added.get("data_files"):
            names = ", ".join(f"{Path(s).name} -> {d}" for s, d in added["data_files"])
            rows.append(("added data files", names))
        if self.system_libraries:
            rows.append(
                (
                    "system libraries (users need)",
                    "; ".join(
                        f"{lib['soname']} ({lib['debian']} / {lib['fedora']})"
                        for lib in self.system_libraries
                    ),
                )
            )
        rows.append(("verdict", self.verdict))
        return rows
