"""``make bench``: run every benchmark module, print one table, write ``benchmarks/results.json``.

Each ``benchmarks/bench_*.py`` module exposes ``run() -> list[Row]``. ``python -m benchmarks
engine check`` runs only the named modules.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path

from benchmarks._table import Row, machine, render_markdown, write_json

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if n.removeprefix("bench_") in argv]
    rows: list[Row] = []
    failed = []
    for name in names:
        started = time.perf_counter()
        print(f"== {name} ...", flush=True)
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            new_rows = module.run()
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        rows.extend(new_rows)
        print(render_markdown(new_rows), flush=True)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    print()
    print(f"Machine: {machine()}")
    print(render_markdown(rows))
    out = HERE / "results.json"
    if argv:  # a partial run: keep the other areas' rows from the last full run
        rows = _merge(out, rows)
    write_json(rows, str(out))
    print(f"\nwritten: {out}")
    missed = [r for r in rows if r.ok is False]
    if missed:
        print(f"{len(missed)} row(s) missed their target: " + ", ".join(r.name for r in missed))
    if failed:
        print("benchmark modules that failed: " + ", ".join(failed))
        return 1
    return 0


def _merge(path: Path, new_rows: list[Row]) -> list[Row]:
    import json

    try:
        old = json.loads(path.read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return new_rows
    fresh_areas = {row.area for row in new_rows}
    fields = set(Row.__dataclass_fields__)
    kept = []
    for data in old:
        if data.get("area") in fresh_areas:
            continue
        values = {k: v for k, v in data.items() if k in fields}
        if values.get("target") is not None:
            values["target"] = tuple(values["target"])
        kept.append(Row(**values))
    return kept + new_rows


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
