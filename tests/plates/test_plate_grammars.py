"""Country grammars: table tests per grammar (valid, invalid, confusable) and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plates.grammar_table import CONFUSABLE_GROUPS, GRAMMARS, RU_REGIONS
from plates.grammars import (
    allowed_confusable,
    clean,
    confusable_variants,
    grammar_by_name,
    parse_plate,
    patterns_for,
)

# text, countries, expected canonical text, expected grammar (None = unknown), substitutions
CASES = [
    # KG 2016 NN NNN LLL
    ("01 123 ABC", None, "01123ABC", "kg_2016", 0),
    ("09 999 XYZ", None, "09999XYZ", "kg_2016", 0),
    ("01123abc", None, "01123ABC", "kg_2016", 0),
    ("O1 I23 A8C", None, "01123ABC", "kg_2016", 3),  # O->0, I->1 in digit slots, 8->B in a letter slot
    ("08 5Z0 0Q1", None, "08520OQI", "kg_2016", 3),  # Z->2 digit; 0->O and 1->I in letter slots
    ("10 123 ABC", None, "10123ABC", None, 0),  # region 10 does not exist: unknown
    ("00 123 ABC", None, "00123ABC", None, 0),
    ("01 123 AB#C", None, "01123ABC", "kg_2016", 0),  # stray punctuation is dropped
    # KG 2016 legal entities / motorcycles NN NNN LL
    ("02 345 PT", None, "02345PT", "kg_2016_short", 0),
    ("02 345 P7", None, "02345P7", None, 0),  # 7 has no letter twin
    ("02 34S PT", None, "02345PT", "kg_2016_short", 1),
    ("O2 345 PT", None, "O2345PT", "kg_1994", 0),  # a genuine ambiguity: valid 1994 plate wins
    # KG foreign residents NN NNNN L (uncertain format)
    ("01 2345 A", None, "012345A", "kg_2016_foreign", 0),
    # KG 1994-2016 L NNNN LL
    ("B 1234 AB", None, "B1234AB", "kg_1994", 0),
    ("8 1234 AB", None, "B1234AB", "kg_1994", 1),
    ("S 12O4 AS", None, "S1204AS", "kg_1994", 1),
    # KZ NNN LLL NN, region 01-20
    ("123 ABC 02", None, "123ABC02", "kz_2012", 0),
    ("123 A8C O2", None, "123ABC02", "kz_2012", 2),
    ("123 ABC 21", None, "123ABC21", None, 0),  # no region 21
    # RU L NNN LL NN(N), 12 letters only
    ("A 123 BC 77", None, "A123BC77", "ru_1993", 0),
    ("А123ВС777", None, "A123BC777", "ru_1993", 0),  # Cyrillic twins
    ("A 123 BD 77", None, "A123BO77", "ru_1993", 1),  # D is not a RU letter: its twin O is
    ("A 123 BF 77", None, "A123BF77", None, 0),  # F has no twin
    ("A 123 BC 00", None, "A123BC00", None, 0),  # region 00 is never issued
    ("A 123 BC 777", ["RU"], "A123BC777", "ru_1993", 0),
    # US only when asked for: the letter O is read as zero
    ("HKOE7C", ["US"], "HK0E7C", "us_generic", 1),
    ("HKOE7C", None, "HKOE7C", None, 0),
    ("7ABC1234", ["US"], "7ABC1234", "us_generic", 0),
    ("ABC", ["US"], "ABC", None, 0),
]


@pytest.mark.parametrize(("text", "countries", "expected", "grammar", "subs"), CASES)
def test_parse_plate_table(text, countries, expected, grammar, subs) -> None:
    """Each grammar accepts its valid plates, rejects invalid ones, fixes confusables by position."""
    read = parse_plate(text, countries)
    assert read is not None
    assert (read.text, read.grammar, read.substitutions) == (expected, grammar, subs)
    assert read.country == (grammar_by_name(grammar).country if grammar else "unknown")


@pytest.mark.parametrize("text", ["", "   ", "-- ==", "ЖЖ"])
def test_no_characters_is_none(text: str) -> None:
    """Text without a letter or digit is no plate at all."""
    assert parse_plate(text) is None


def test_display_and_region() -> None:
    """The display form has the grammar's spaces; known regions are named."""
    read = parse_plate("01123ABC")
    assert read.display == "01 123 ABC"
    assert (read.region, read.region_name) == ("01", "Bishkek")
    kz = parse_plate("123ABC02")
    assert (kz.display, kz.region, kz.region_name) == ("123 ABC 02", "02", "Almaty")


@pytest.mark.parametrize(
    ("countries", "message"),
    [
        (["kg"], r"unknown country 'kg'.*did you mean 'KG'\?"),
        (["XX"], r"unknown country 'XX'"),
        ("KG", r"expected a sequence of country codes"),
        ([], r"at least one country"),
    ],
)
def test_bad_countries(countries, message) -> None:
    """Country selection errors name the problem."""
    with pytest.raises(ValueError, match=message):
        parse_plate("01123ABC", countries)


def test_grammar_by_name_did_you_mean() -> None:
    """An unknown grammar name suggests the closest one."""
    with pytest.raises(ValueError, match=r"did you mean 'kg_2016'\?"):
        grammar_by_name("kg2016")


def test_table_is_consistent() -> None:
    """Grammar names are unique, patterns compile, and regions fit their group's length."""
    names = [g.name for g in GRAMMARS]
    assert len(names) == len(set(names))
    for pattern in patterns_for([g.country for g in GRAMMARS]):
        if pattern.spec.regions is not None:
            n = pattern.group_lengths[pattern.spec.region_group]
            assert any(len(r) == n for r in pattern.spec.regions)
    assert "77" in RU_REGIONS and "777" in RU_REGIONS and "00" not in RU_REGIONS


def test_clean() -> None:
    """Cleaning maps Cyrillic twins, drops separators, upper-cases."""
    assert clean("01 kg-123 АВС") == "01KG123ABC"


def test_confusable_variants_rank_and_stay_in_grammar() -> None:
    """Variants replace only within confusable groups, keep the grammar, fewest changes first."""
    variants = confusable_variants("01 123 AOC", max_substitutions=1)
    assert variants[0] == ("01123AOC", 0)
    texts = {t for t, _ in variants}
    assert {"01123ADC", "01123AQC"} <= texts
    assert all(parse_plate(t).grammar == "kg_2016" for t in texts)
    assert all(n <= 1 for _, n in variants)


def test_confusable_variants_of_unknown_read() -> None:
    """A read that fits no grammar still gets group-wise variants."""
    variants = dict(confusable_variants("HK0E7C", max_substitutions=1))
    assert variants["HK0E7C"] == 0 and variants["HKOE7C"] == 1


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

ALL_COUNTRIES = ("KG", "KZ", "RU")


@st.composite
def valid_plates(draw):
    """A canonical plate of a random default grammar: (text, grammar name)."""
    pattern = draw(st.sampled_from(patterns_for(ALL_COUNTRIES)))
    chars = [draw(st.sampled_from(sorted(slot))) for slot in pattern.slots]
    text = "".join(chars)
    if pattern.spec.regions is not None:
        region = draw(
            st.sampled_from(
                sorted(r for r in pattern.spec.regions if len(r) == pattern.group_lengths[pattern.spec.region_group])
            )
        )
        start = sum(pattern.group_lengths[: pattern.spec.region_group])
        text = text[:start] + region + text[start + len(region) :]
    return text, pattern


plate_like_text = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ -АВЕКМНОРСТУХ", max_size=12)


@given(plate_like_text)
@settings(max_examples=300, deadline=None)
def test_normalisation_is_idempotent(text: str) -> None:
    """Parsing a parsed plate changes nothing: same text, grammar, no new replacements."""
    first = parse_plate(text)
    if first is None:
        return
    second = parse_plate(first.text)
    assert second.text == first.text
    assert second.grammar == first.grammar
    assert second.substitutions == 0
    assert parse_plate(first.display).text == first.text


@given(valid_plates())
@settings(max_examples=300, deadline=None)
def test_valid_plate_is_never_changed(plate) -> None:
    """A plate valid under a grammar comes back unchanged, with that grammar's country."""
    text, pattern = plate
    read = parse_plate(text)
    assert read.text == text
    assert read.substitutions == 0
    assert read.country == pattern.spec.country


@given(valid_plates(), st.data())
@settings(max_examples=300, deadline=None)
def test_one_confusion_costs_at_most_one_replacement(plate, data) -> None:
    """Swapping one character for a confusable twin still fits a grammar with <= 1 replacement;
    when it fits the original grammar, the slot gets the group's preferred allowed member, which
    is the original character whenever the original was that member (0 in a digit slot, O in a
    letter slot)."""
    text, pattern = plate
    i = data.draw(st.integers(0, len(text) - 1))
    group = next((g for g in CONFUSABLE_GROUPS if text[i] in g), None)
    if group is None:
        return
    twin = data.draw(st.sampled_from([c for c in group if c != text[i]]))
    corrupted = text[:i] + twin + text[i + 1 :]
    read = parse_plate(corrupted)
    assert read.substitutions <= 1
    if read.grammar == pattern.spec.name and twin not in pattern.slots[i]:
        preferred = allowed_confusable(twin, pattern.slots[i])
        assert read.text == text[:i] + preferred + text[i + 1 :]
        if preferred == allowed_confusable(text[i], frozenset(c for c in group if c in pattern.slots[i])):
            assert read.text == text


@given(plate_like_text)
@settings(max_examples=200, deadline=None)
def test_output_alphabet(text: str) -> None:
    """Reads are upper-case Latin letters and digits only; replacements stay in confusable groups."""
    read = parse_plate(text)
    if read is None:
        return
    assert read.text.isascii() and read.text.isalnum() and read.text == read.text.upper()
    src = clean(text)
    assert len(src) == len(read.text)
    for a, b in zip(src, read.text, strict=True):
        assert a == b or any(a in g and b in g for g in CONFUSABLE_GROUPS)
