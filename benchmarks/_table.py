"""Benchmark rows, the table printed by ``make bench`` and ``benchmarks/results.json``.

Every row is measured against a peer *in the same run* on the same machine, and judged by the
ratio, never by an absolute time: absolute times say more about the machine than about the code.
"""

from __future__ import annotations

import json
import platform
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Row:
    """One benchmark result.

    ``ratio`` is ``value / peer_value``; ``target`` states what the ratio must satisfy, as
    ``("<=", 1.5)`` or ``(">=", 5.0)``; ``ok`` is None when the row has no target.
    """

    area: str
    name: str
    value: float
    unit: str
    peer: str = ""
    peer_value: float | None = None
    target: tuple[str, float] | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.peer_value in (None, 0):
            return None
        return self.value / self.peer_value

    @property
    def ok(self) -> bool | None:
        if self.target is None or self.ratio is None:
            return None
        op, bound = self.target
        return self.ratio <= bound if op == "<=" else self.ratio >= bound

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = asdict(self)
        data["ratio"] = self.ratio
        data["ok"] = self.ok
        return data


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; samples need not be sorted."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def machine() -> dict[str, object]:
    import os

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def render_markdown(rows: Sequence[Row]) -> str:
    """The table as Markdown, as pasted into the README."""
    lines = [
        "| area | benchmark | qtcompute | peer (same run) | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        peer = f"{row.peer}: {_fmt(row.peer_value, row.unit)}" if row.peer else "-"
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        target = f"{row.target[0]} {row.target[1]:g}x" if row.target else "-"
        met = {True: "yes", False: "**no**", None: "-"}[row.ok]
        lines.append(
            f"| {row.area} | {row.name} | {_fmt(row.value, row.unit)} | {peer} | {ratio} "
            f"| {target} | {met} |"
        )
    return "\n".join(lines)


def write_json(rows: Sequence[Row], path: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"machine": machine(), "rows": [r.to_json() for r in rows]}, fh, indent=2)
        fh.write("\n")
