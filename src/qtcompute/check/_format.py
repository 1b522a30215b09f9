"""Output formats: text (``path:line:col: QCnnn message``), JSON, and SARIF 2.1.0 for code-scanning
services (GitHub code scanning, GitLab, Azure DevOps)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from qtcompute.check._findings import SYNTAX_ERROR, Finding
from qtcompute.check.rules import RULES

_DOCS = "https://github.com/qtcompute/qtcompute/blob/main/docs/rules/{code}.md"
_SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def format_text(findings: Sequence[Finding]) -> str:
    return "".join(f"{finding}\n" for finding in findings)


def format_json(findings: Sequence[Finding]) -> str:
    rows = [
        {
            "path": f.path,
            "line": f.line,
            "col": f.col,
            "code": f.code,
            "message": f.message,
        }
        for f in findings
    ]
    return json.dumps(rows, indent=2) + "\n"


def _uri(path: str) -> str:
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            return candidate.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return candidate.as_uri()
    return candidate.as_posix()


def format_sarif(findings: Sequence[Finding], version: str = "0.1.0") -> str:
    descriptors = [
        {
            "id": SYNTAX_ERROR,
            "name": "syntax-error",
            "shortDescription": {"text": "The file cannot be parsed."},
            "defaultConfiguration": {"level": "error"},
        }
    ]
    descriptors += [
        {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": rule.doc.split("\n## ", 1)[0].removeprefix("## ")},
            "helpUri": _DOCS.format(code=rule.code),
            "defaultConfiguration": {"level": "warning"},
        }
        for rule in RULES
    ]
    index = {d["id"]: i for i, d in enumerate(descriptors)}
    results = [
        {
            "ruleId": f.code,
            "ruleIndex": index.get(f.code, 0),
            "level": "error" if f.code == SYNTAX_ERROR else "warning",
            "message": {"text": f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(f.path)},
                        "region": {"startLine": f.line, "startColumn": f.col},
                    }
                }
            ],
        }
        for f in findings
    ]
    log = {
        "$schema": _SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "qtcompute-check",
                        "version": version,
                        "informationUri": "https://github.com/qtcompute/qtcompute",
                        "rules": descriptors,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
