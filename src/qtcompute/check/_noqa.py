"""``# noqa`` comments: alone they silence every finding on the line, ``# noqa: QC003,QC004``
silences only those codes (other tools' codes in the list are ignored)."""

from __future__ import annotations

import re

_NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.I)


def suppressed(line: str, code: str) -> bool:
    """Whether the source ``line`` carries a ``# noqa`` that covers ``code``."""
    if "#" not in line:
        return False
    for match in _NOQA.finditer(line):
        codes = match.group("codes")
        if codes is None:
            return True
        if code.upper() in {c.upper() for c in re.split(r"[,\s]+", codes.strip())}:
            return True
    return False
