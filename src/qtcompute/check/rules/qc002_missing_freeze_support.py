"""## What it does
Checks for a program whose entry point starts worker processes but never calls
`multiprocessing.freeze_support()` or a qtcompute entry point (`qtcompute.run(main)`, a function
decorated `@qtcompute.main`) before.

The whole program is followed: an entry point is a main guard (`if __name__ == "__main__":`, or a
guard-like test such as `if is_main():`), a script named in a PyInstaller `.spec` file's
`Analysis([...])`, or a function named in `[project.scripts]`/`[project.gui-scripts]`. From
there the checker follows calls across the modules of the checked folders, class constructions,
functions connected to signals, `QThread.run` and `Thread`/executor targets. The finding sits on
the entry point and names the line that starts the processes.

By default it reports only programs that are plausibly frozen: the program imports a Qt binding
or checks `sys.frozen`/`sys._MEIPASS` (directly or through its own modules), or the project has
a `[tool.qtcompute]` table in `pyproject.toml`. An entry script named in a `.spec` file is
certainly frozen, and the message says so; so is every program `qtcompute build` checks before
freezing it. A `.spec` file makes only the scripts it names frozen.
`--all-scripts` (`all_scripts=True`) reports plain scripts too.

The main guard of a module that a `.spec` entry script or a `[project.scripts]` function
imports is a developer's test block that never runs in the frozen app: it is not reported (the
app's entry point is judged instead).

## Why is this bad?
A frozen executable has no Python interpreter to spawn. `multiprocessing` starts workers by
running the executable itself with special arguments, and only `freeze_support()` recognises
them and turns the new process into a worker. Without it each worker runs the whole application
again, which starts more workers: PyInstaller gives no warning, and the frozen app creates
processes until the machine stops.

## Example
```python
# app.py, named in app.spec: Analysis(["app.py"])
from mypkg.gui import main_gui

if __name__ == "__main__":
    main_gui()  # ... a slot in mypkg/analysis.py calls multiprocessing.Pool()
```

## Use instead
```python
import multiprocessing

from mypkg.gui import main_gui

if __name__ == "__main__":
    multiprocessing.freeze_support()
    main_gui()
```
or let qtcompute do it: `qtcompute.run(main_gui)`.

## Known limitations
- Calls are followed by name: a function stored in a container, returned by a factory, or
  chosen at run time (`getattr`, a plugin registry) is not followed, nor are methods inherited
  from a class in another module.
- Only modules under the checked paths are followed; an installed package that starts
  processes on the app's behalf is opaque (name its call in the app if it matters).
- A function is reached as a whole: a process start behind a condition the app never meets
  still counts.
- Plain command-line scripts are not reported without `--all-scripts`, even if someone freezes
  them.

## References
- [Python: multiprocessing.freeze_support](https://docs.python.org/3/library/multiprocessing.html#multiprocessing.freeze_support)
- [PyInstaller: multiprocessing](https://pyinstaller.org/en/stable/common-issues-and-pitfalls.html#multi-processing)
"""

from __future__ import annotations

from collections.abc import Iterator

from qtcompute.check._project import Project
from qtcompute.check.rules._base import ProjectHit, Rule


def check_project(project: Project) -> Iterator[ProjectHit]:
    reported: set[tuple[str, int]] = set()
    for entry in project.entries():
        if project.is_harness(entry):
            continue
        walk = project.walk(entry)
        if walk.start is None or walk.freeze is not None:
            continue
        reason = project.frozen_reason(entry)
        if reason is None or (entry.facts.path, entry.line) in reported:
            continue
        reported.add((entry.facts.path, entry.line))
        start = walk.start
        where = f"line {start.line}" if start.path == entry.facts.path else start.where
        if entry.spec is not None:
            what = f"this is the entry script of {entry.spec}, so it is frozen, and it"
        elif entry.script is not None:
            what = f"`{entry.script}` ([project.scripts]) is an entry point that"
        else:
            what = "the main guard"
        message = (
            f"{what} starts processes ({start.text} at {where}) but never calls "
            "multiprocessing.freeze_support(), so the frozen app re-runs itself in every worker"
            f"{'' if entry.spec else f' ({reason})'}; call it first in the main guard "
            "(or use qtcompute.run(main))"
        )
        yield entry.facts.path, entry.line, entry.col, message


RULE = Rule(
    code="QC002",
    name="missing-freeze-support",
    summary="A program starts processes but never calls `freeze_support()`.",
    check_project=check_project,
)
