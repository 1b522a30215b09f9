"""Re-run `qtcompute check` on the real-code corpus and score it against the classification.

The corpus is public Qt applications that start worker processes (listed with the commit judged
in `repos.json`). Every finding the checker reported on them was read in its source and judged
true or false (`classification.json`), and real bugs it did not report are listed as `miss`
entries. This script puts the repositories in place, runs the checker at its default settings
on each, matches the findings to the judgements and prints:

- per rule and in total: findings, true, false, not yet judged, precision;
- the findings nobody has judged yet (to be read and added to `classification.json`);
- the known misses, and which of them the checker now reports.

A judgement is keyed by repository, file, code and the text of the reported source line
(whitespace collapsed), not by line number, so it survives edits elsewhere in the file. When the
checker starts pointing a finding at another line, it shows up as not yet judged.

The same run scores the checker on `fixtures/` (see `fixture_marks.py`), small programs written
here in the shapes the corpus showed; those need no download.

Repositories are looked for in `--corpus` (one folder per entry, named like `owner+name`). A
missing one is taken from a local bare mirror (`--mirror-root`, the layout of the workplace's
fetch tool) or, with `--clone`, cloned from GitHub at the recorded commit; otherwise it is
skipped with a note. Only text files are extracted: the checker needs nothing else.

    python tools/check_corpus/evaluate.py                # the checker of this checkout
    python tools/check_corpus/evaluate.py --checker-src /tmp/old/src --save before.json
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fixture_marks import run_fixtures

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
COMMIT_MARKER = ".corpus-commit"
# Files worth extracting: sources, PyInstaller specs, build scripts and configuration.
TEXT_SUFFIXES = (
    ".py", ".pyw", ".spec", ".toml", ".cfg", ".txt", ".bat", ".sh", ".ps1", ".md", ".yml",
    ".yaml", "Makefile",
)  # fmt: skip
VERDICTS = ("true", "false", "miss")


@dataclass(frozen=True)
class Finding:
    repo: str
    path: str
    line: int
    code: str
    message: str
    text: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.repo, self.path, self.code, self.text)


@dataclass
class Judgement:
    repo: str
    file: str
    code: str
    text: str
    verdict: str
    reason: str
    line: int = 0
    # For a miss: the codes whose finding in this file counts as catching it, and whether the
    # finding may sit on any line of the file (a missing freeze_support() has no one line).
    codes: list[str] = field(default_factory=list)  # patterns: "QC01?" is any rule added later
    anywhere_in_file: bool = False
    # Other files where a finding also catches it (QC002 may point at the line starting processes).
    other_files: list[str] = field(default_factory=list)
    # For a miss: bug (breaks today), policy (frozen-plausible only), new-rule (no rule covers it).
    kind: str = ""
    seen_with: str = ""  # the checker version that produced the judged finding

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.repo, self.file, self.code, normalise(self.text))


def normalise(text: str) -> str:
    return " ".join(text.split())


def load_repos(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["repos"]


def load_judgements(path: Path) -> list[Judgement]:
    judgements = [Judgement(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))]
    for judgement in judgements:
        if judgement.verdict not in VERDICTS:
            raise SystemExit(f"{path}: unknown verdict {judgement.verdict!r} in {judgement}")
    return judgements


# -- putting the repositories in place -------------------------------------------------------


def git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)


def extract_from_git_dir(git_dir: Path, commit: str, dest: Path) -> bool:
    """Write the text files of `commit` to `dest`, skipping blobs a partial mirror lacks."""
    listing = git(f"--git-dir={git_dir}", "ls-tree", "-r", "-z", commit)
    if listing.returncode:
        return False
    for entry in listing.stdout.split(b"\0"):
        if not entry:
            continue
        meta, raw_path = entry.split(b"\t", 1)
        _mode, kind, sha = meta.split()
        path = raw_path.decode("utf-8", "surrogateescape")
        if kind != b"blob" or not path.endswith(TEXT_SUFFIXES):
            continue
        blob = git(f"--git-dir={git_dir}", "cat-file", "blob", sha.decode())
        if blob.returncode:
            continue  # large files are missing from the mirrors; none of them is source
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob.stdout)
    (dest / COMMIT_MARKER).write_text(commit + "\n", encoding="utf-8")
    return True


def clone_at_commit(url: str, commit: str, dest: Path) -> bool:
    """Shallow-fetch one commit from the remote into a scratch git dir, then extract it."""
    scratch = dest.with_name(dest.name + ".git-tmp")
    if git("init", "--bare", "-q", str(scratch)).returncode:
        return False
    fetched = git(f"--git-dir={scratch}", "fetch", "-q", "--depth", "1", url, commit)
    ok = fetched.returncode == 0 and extract_from_git_dir(scratch, commit, dest)
    subprocess.run(["rm", "-rf", str(scratch)], check=False)
    return ok


def materialise(repo: dict, corpus: Path, mirror_root: Path | None, clone: bool) -> Path | None:
    dest = corpus / repo["name"]
    if dest.is_dir():
        marker = dest / COMMIT_MARKER
        if marker.exists() and marker.read_text(encoding="utf-8").strip() != repo["commit"]:
            print(f"  note: {dest} holds another commit than {repo['commit'][:12]}")
        return dest
    if mirror_root is not None:
        git_dir = mirror_root / repo["name"] / "repo"
        if git_dir.is_dir():
            dest.mkdir(parents=True)
            if extract_from_git_dir(git_dir, repo["commit"], dest):
                return dest
            subprocess.run(["rm", "-rf", str(dest)], check=False)
    if clone:
        dest.mkdir(parents=True)
        if clone_at_commit(repo["url"], repo["commit"], dest):
            return dest
        subprocess.run(["rm", "-rf", str(dest)], check=False)
    return None


# -- running the checker ---------------------------------------------------------------------


def run_checker(repo_dir: Path, name: str, checker_src: Path | None, jobs: int) -> list[Finding]:
    env = dict(os.environ)
    if checker_src is not None:
        env["PYTHONPATH"] = str(checker_src) + os.pathsep + env.get("PYTHONPATH", "")
    command = [sys.executable, "-m", "qtcompute.check", "--format", "json", "--jobs", str(jobs)]
    done = subprocess.run(
        [*command, "."], cwd=repo_dir, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode not in (0, 1):
        print(f"  checker exit status {done.returncode} on {name}: {done.stderr.strip()[:500]}")
    findings = []
    for item in json.loads(done.stdout or "[]"):
        path = item["path"].removeprefix("./")
        findings.append(
            Finding(name, path, item["line"], item["code"], item["message"],
                    source_line(repo_dir / path, item["line"]))
        )  # fmt: skip
    return findings


def source_line(path: Path, line: int) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return normalise(lines[line - 1]) if 0 < line <= len(lines) else ""


# -- scoring ---------------------------------------------------------------------------------


@dataclass
class Score:
    verdicts: dict[Finding, str] = field(default_factory=dict)  # true / false / unjudged
    caught: dict[int, list[Finding]] = field(default_factory=dict)  # miss index -> findings


def score(findings: list[Finding], judgements: list[Judgement]) -> Score:
    by_key = {j.key: j for j in judgements if j.verdict != "miss"}
    misses = [(i, j) for i, j in enumerate(judgements) if j.verdict == "miss"]
    result = Score()
    for finding in findings:
        judged = by_key.get(finding.key)
        if judged is not None:
            result.verdicts[finding] = judged.verdict
            continue
        for index, miss in misses:
            if catches(finding, miss):
                result.verdicts[finding] = "true"
                result.caught.setdefault(index, []).append(finding)
                break
        else:
            result.verdicts[finding] = "unjudged"
    return result


def catches(finding: Finding, miss: Judgement) -> bool:
    if finding.repo != miss.repo or finding.path not in (miss.file, *miss.other_files):
        return False
    if not any(fnmatch.fnmatchcase(finding.code, pattern) for pattern in miss.codes or [miss.code]):
        return False
    if finding.path != miss.file:
        return True
    return miss.anywhere_in_file or finding.text == normalise(miss.text)


def precision(true: int, false: int) -> str:
    return f"{100 * true / (true + false):.0f}%" if true + false else "-"


def print_table(result: Score) -> dict[str, dict[str, int]]:
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for finding, verdict in result.verdicts.items():
        counts[finding.code][verdict] += 1
    rows = {}
    print(f"\n{'code':<8}{'findings':>9}{'true':>6}{'false':>6}{'unjudged':>9}{'precision':>10}")
    total: collections.Counter[str] = collections.Counter()
    for code in sorted(counts):
        c = counts[code]
        n = sum(c.values())
        rows[code] = {"findings": n, **{v: c[v] for v in ("true", "false", "unjudged")}}
        print(f"{code:<8}{n:>9}{c['true']:>6}{c['false']:>6}{c['unjudged']:>9}"
              f"{precision(c['true'], c['false']):>10}")  # fmt: skip
        if code != "QC000":
            total.update(c)
    n = sum(total.values())
    print(f"{'rules':<8}{n:>9}{total['true']:>6}{total['false']:>6}{total['unjudged']:>9}"
          f"{precision(total['true'], total['false']):>10}   (QC000 apart)")  # fmt: skip
    rows["rules"] = {"findings": n, **{v: total[v] for v in ("true", "false", "unjudged")}}
    return rows


def print_comparison(before: dict, after: dict[str, dict[str, int]], caught_after: int) -> None:
    print(f"\nCompared with {len(before['findings'])} findings saved earlier:")
    print(f"{'code':<8}{'before':>16}{'after':>16}")
    for code in sorted(set(before["table"]) | set(after), key=lambda c: (c == "rules", c)):
        cells = []
        for table in (before["table"], after):
            row = table.get(code, {"findings": 0, "true": 0, "false": 0})
            cells.append(f"{row['true']}/{row['true'] + row['false']} "
                         f"{precision(row['true'], row['false']):>4}")  # fmt: skip
        print(f"{code:<8}{cells[0]:>16}{cells[1]:>16}")
    print(f"misses reported: {len(before['misses_caught'])} before, {caught_after} after")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=Path, default=HERE / "repos.json")
    parser.add_argument("--classification", type=Path, default=HERE / "classification.json")
    default_corpus = Path(os.environ.get("QTC_CORPUS", "/work/corpus"))
    parser.add_argument("--corpus", type=Path, default=default_corpus)
    parser.add_argument("--mirror-root", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--clone", action="store_true", help="clone what is missing")
    parser.add_argument("--checker-src", type=Path, help="run the checker from this src/ folder")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--only", action="append", help="only this repository (repeatable)")
    parser.add_argument("--no-fixtures", action="store_true", help="skip fixtures/")
    parser.add_argument("--save", type=Path, help="write findings and scores as JSON here")
    parser.add_argument("--compare", type=Path, help="a --save file to print side by side")
    args = parser.parse_args(argv)

    repos = load_repos(args.repos)
    judgements = load_judgements(args.classification)
    mirror_root = args.mirror_root if args.mirror_root.is_dir() else None
    findings: list[Finding] = []
    present = []
    for repo in repos:
        if args.only and repo["name"] not in args.only:
            continue
        repo_dir = materialise(repo, args.corpus, mirror_root, args.clone)
        if repo_dir is None:
            hint = "" if args.clone else " (--clone fetches it from GitHub)"
            print(f"skipped {repo['name']}: not present in {args.corpus}{hint}")
            continue
        present.append(repo["name"])
        found = run_checker(repo_dir, repo["name"], args.checker_src, args.jobs)
        print(f"{repo['name']:<40} {len(found):>3} findings")
        findings.extend(found)

    result = score(findings, [j for j in judgements if j.repo in present])
    rows = print_table(result)

    unjudged = [f for f, v in result.verdicts.items() if v == "unjudged"]
    print(f"\nNot yet judged ({len(unjudged)}):")
    for f in unjudged:
        print(f"  {f.repo}/{f.path}:{f.line} {f.code} | {f.text[:90]}\n      {f.message[:200]}")

    misses = [(i, j) for i, j in enumerate(judgements) if j.verdict == "miss" and j.repo in present]
    caught = [(i, j) for i, j in misses if i in result.caught]
    print(f"\nKnown misses: {len(misses)}, now reported: {len(caught)}")
    for index, miss in misses:
        status = "REPORTED" if index in result.caught else "missed  "
        codes = "/".join(miss.codes or [miss.code])
        where = f"{miss.repo}/{miss.file}:{miss.line}"
        print(f"  {status} {codes:<8} {miss.kind:<9} {where} {miss.reason[:90]}")
        for f in result.caught.get(index, []):
            print(f"             by {f.path}:{f.line} {f.code} {f.message[:120]}")

    fixtures = None
    if not args.no_fixtures:

        def check(folder: Path, name: str) -> list[Finding]:
            return run_checker(folder, name, args.checker_src, args.jobs)

        fixtures = run_fixtures(HERE / "fixtures", check)

    if args.compare:
        print_comparison(json.loads(args.compare.read_text(encoding="utf-8")), rows, len(caught))
    if args.save:
        args.save.write_text(json.dumps({
            "table": rows,
            "findings": [{**f.__dict__, "verdict": v} for f, v in result.verdicts.items()],
            "misses_caught": [f"{j.repo}/{j.file}:{j.line}" for _, j in caught],
            "fixtures": fixtures,
        }, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
