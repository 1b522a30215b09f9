"""## What it does
Checks for joblib or loky process parallelism in a program that is plausibly frozen (see QC002,
and every program `qtcompute build` freezes)
and does not start through qtcompute's entry point (`qtcompute.run(main)` or a function
decorated `@qtcompute.main`): `joblib.Parallel(n_jobs=...)` on its default back end (loky),
`loky.get_reusable_executor()` and `loky.ProcessPoolExecutor()`, anywhere the program's entry
points reach (across modules, as in QC002).

`Parallel` with `n_jobs=1` (or none), `backend="threading"`, `"multiprocessing"`, `"dask"` or
`"qtcompute"`, or `prefer="threads"`/`require="sharedmem"` runs no loky worker and is not
reported.

## Why is this bad?
loky starts its workers by running `sys.executable` with its own arguments. In a frozen app
`sys.executable` is the app, and that path does not go through
`multiprocessing.freeze_support()`: every loky worker starts the whole app again, which starts
more workers. A frozen joblib script reached 410 processes in 20 s and never printed its result,
although its main guard called `freeze_support()` first (loky issue #236, open since 2020).

## Example
```python
def on_click():
    total = sum(Parallel(n_jobs=2)(delayed(square)(i) for i in range(100)))


if __name__ == "__main__":
    multiprocessing.freeze_support()  # not enough for loky
    main()
```

## Use instead
```python
if __name__ == "__main__":
    qtcompute.run(main)  # a frozen child started by loky becomes the loky worker it was meant to be
```
or run the work on the app's own pool: `with parallel_config(backend="qtcompute"):`.

## Known limitations
- `with parallel_config(backend="threading"):` (or `parallel_backend`) around the call is not
  seen: the call is reported as if it used loky. Pass `backend=` to `Parallel` itself, or
  silence the line with `# noqa: QC011`.
- scikit-learn estimators with `n_jobs=` reach loky inside scikit-learn, which is not followed.
- A back end given as a variable is taken not to be loky.

## References
- [loky issue #236: frozen executables](https://github.com/joblib/loky/issues/236)
- [joblib: Parallel](https://joblib.readthedocs.io/en/stable/generated/joblib.Parallel.html)
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
        if not walk.joblib or walk.entry:
            continue
        reason = project.frozen_reason(entry)
        if reason is None:
            continue
        for evidence in walk.joblib:
            if (evidence.path, evidence.line) in reported:
                continue
            reported.add((evidence.path, evidence.line))
            message = (
                f"{evidence.text} runs loky workers, which start by running sys.executable with "
                "loky's own arguments and so bypass multiprocessing.freeze_support(): in the "
                f"frozen app ({reason}) each worker starts the whole app again; start the app "
                "with qtcompute.run(main) (or @qtcompute.main), which turns those children into "
                'loky workers, or use backend="qtcompute"'
            )
            yield evidence.path, evidence.line, evidence.col, message


RULE = Rule(
    code="QC011",
    name="loky-in-frozen-app",
    summary="joblib/loky process workers in a frozen app not started through qtcompute.",
    check_project=check_project,
)
