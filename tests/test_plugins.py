"""LazyRegistry: sorted names, lazy import, bad-name message with did-you-mean."""

from __future__ import annotations

import sys
from fractions import Fraction

import pytest

from safecity.plugins import LazyRegistry

TABLE = {
    "fraction": "fractions:Fraction",
    "decimal": "decimal:Decimal",
    "missing": "safecity_no_such_module:Thing",
}


def test_names_are_sorted() -> None:
    """names() lists the table's keys in sorted order."""
    assert LazyRegistry("widget", TABLE).names() == ["decimal", "fraction", "missing"]


def test_resolve_imports_the_registered_class() -> None:
    """A registered name resolves to the class its 'module:Class' target names."""
    assert LazyRegistry("widget", TABLE).resolve("fraction") is Fraction


def test_nothing_is_imported_until_resolved() -> None:
    """Building the registry and listing names never imports a target module."""
    registry = LazyRegistry("widget", TABLE)
    registry.names()
    assert "safecity_no_such_module" not in sys.modules
    with pytest.raises(ModuleNotFoundError, match="safecity_no_such_module"):
        registry.resolve("missing")


def test_table_is_held_by_reference() -> None:
    """An entry added to the table after construction is resolvable (one source of truth)."""
    table = dict(TABLE)
    registry = LazyRegistry("widget", table)
    table["frac"] = "fractions:Fraction"
    assert registry.resolve("frac") is Fraction


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "fractoin",
            r"^unknown widget 'fractoin': expected one of \['decimal', 'fraction', 'missing'\]; "
            r"did you mean 'fraction'\?$",
        ),
        (
            "zzz",
            r"^unknown widget 'zzz': expected one of \['decimal', 'fraction', 'missing'\]$",
        ),
        ("", r"^unknown widget '': expected one of"),
        (None, r"^unknown widget None: expected one of"),
        (3, r"^unknown widget 3: expected one of"),
    ],
)
def test_unknown_name_lists_valid_names(name: object, message: str) -> None:
    """A bad or non-str name raises ValueError naming it and the kind, with a hint when close."""
    with pytest.raises(ValueError, match=message):
        LazyRegistry("widget", TABLE).resolve(name)  # type: ignore[arg-type]
