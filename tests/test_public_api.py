"""The public surface of every subpackage: ``__all__`` complete, sorted, nothing private leaks."""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = [
    "qtcompute",
    "qtcompute.engine",
    "qtcompute.errors",
    "qtcompute.qt",
    "qtcompute.freeze",
    "qtcompute.bundle",
    "qtcompute.check",
]


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then CamelCase, then everything else."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_public(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_key), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
    for attr in exported:
        assert not attr.startswith("_") or attr == "__version__", f"{name} exports {attr}"
        assert hasattr(module, attr), f"{name}.__all__ names {attr}, which does not exist"


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_name_is_in_all(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and not inspect.ismodule(value)
        and getattr(value, "__module__", name).startswith("qtcompute")
        and attr not in {"annotations", "TYPE_CHECKING", "Any"}
    }
    missing = public - set(module.__all__)
    assert not missing, f"{name} defines public names missing from __all__: {sorted(missing)}"


def test_errors_are_the_same_classes_everywhere() -> None:
    import qtcompute
    from qtcompute.engine import errors as engine_errors

    for name in engine_errors.__all__:
        assert getattr(qtcompute.errors, name) is getattr(engine_errors, name)


def test_py_typed_is_shipped() -> None:
    import pathlib

    import qtcompute

    assert (pathlib.Path(qtcompute.__file__).parent / "py.typed").is_file()
