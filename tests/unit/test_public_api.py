"""The public surface: `raystra.__all__` is complete, and `import raystra` stays light."""

from __future__ import annotations

import inspect
import subprocess
import sys

import raystra


def test_every_name_in_all_resolves() -> None:
    for name in raystra.__all__:
        assert getattr(raystra, name) is not None, name


def test_all_lists_every_public_class_and_function() -> None:
    public = {
        name
        for name, value in vars(raystra).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "").startswith("raystra")
    }
    assert public <= set(raystra.__all__), sorted(public - set(raystra.__all__))


def test_all_is_sorted_and_unique() -> None:
    assert raystra.__all__ == sorted(set(raystra.__all__))


def test_public_names_have_docstrings() -> None:
    missing = [name for name in raystra.__all__ if not inspect.getdoc(getattr(raystra, name))]
    assert missing == []


def test_import_raystra_imports_neither_ray_pandas_nor_sqlalchemy() -> None:
    code = (
        "import sys, raystra\n"
        "heavy = ('ray', 'pandas', 'sqlalchemy', 'pyarrow', 'polars')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        raystra.not_a_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as err:
        assert "not_a_name" in str(err)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")
