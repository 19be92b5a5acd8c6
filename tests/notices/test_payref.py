"""ISO 11649 RF payment references: known vector, error detection, bad input."""

from __future__ import annotations

import pytest

from notices.payref import grouped, is_valid_rf, rf_reference


def test_known_vector():
    """The ISO 11649 example body 539007547034 gets check digits 18."""
    assert rf_reference("539007547034") == "RF18539007547034"
    assert is_valid_rf("rf18 5390 0754 7034")
    assert grouped("RF18539007547034") == "RF18 5390 0754 7034"


def test_every_single_substitution_and_neighbour_swap_is_caught():
    """Any digit changed to another digit (or letter to letter), or two different neighbours swapped, is caught.

    (MOD 97-10 guarantees this; a digit read as a letter, e.g. 0 as O, changes the numeric
    length and is not always caught, which is why the notice body is digits after the prefix.)
    """
    ref = rf_reference("SC20260000123")
    for i in range(2, len(ref)):
        same_class = "0123456789" if ref[i].isdigit() else "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        for ch in same_class:
            if ch != ref[i]:
                assert not is_valid_rf(ref[:i] + ch + ref[i + 1:]), (i, ch)
    for i in range(2, len(ref) - 1):
        if ref[i] != ref[i + 1]:
            assert not is_valid_rf(ref[:i] + ref[i + 1] + ref[i] + ref[i + 2:]), i


@pytest.mark.parametrize(("body", "message"), [("", "expected 1-21"), ("sc2026", "expected 1-21"), ("A" * 22, "expected 1-21"), ("SC-1", "expected 1-21")])
def test_bad_bodies_are_refused(body, message):
    """Empty, lower-case, too long or punctuated bodies are refused with the rule."""
    with pytest.raises(ValueError, match=message):
        rf_reference(body)


@pytest.mark.parametrize("text", ["RF1853900754703", "XX18539007547034", "RF18", "", None])
def test_malformed_references_are_invalid(text):
    """A wrong check, prefix or length is not a valid reference."""
    assert not is_valid_rf(text)
