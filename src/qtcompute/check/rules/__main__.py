"""``python -m qtcompute.check.rules DIR``: write each rule's page, ``DIR/QCnnn.md``."""

from __future__ import annotations

import sys
from pathlib import Path

from qtcompute.check.rules import RULES


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else "docs/rules")
    folder.mkdir(parents=True, exist_ok=True)
    for rule in RULES:
        (folder / f"{rule.code}.md").write_text(rule.render_markdown(), encoding="utf-8")
        print(folder / f"{rule.code}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
