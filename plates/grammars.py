"""Fit plate text to the country grammars of :mod:`plates.grammar_table` (pure, no I/O).

A read is first *cleaned* (upper case, Cyrillic twins to Latin, everything but letters and
digits dropped), then fitted to each grammar pattern of its length. A character that a position
does not allow is replaced by the first allowed member of its confusable group (``O`` in a digit
slot becomes ``0``, ``8`` in a letter slot becomes ``B``); a character without an allowed
confusable makes the pattern not fit. The fit with the fewest replacements wins, ties go to the
earlier grammar in the table. A read that fits nothing is returned as country ``"unknown"``,
unchanged, because a person can still read it.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from plates.grammar_table import (
    CONFUSABLE_GROUPS,
    CYRILLIC_TO_LATIN,
    DEFAULT_COUNTRIES,
    DIGITS,
    GRAMMARS,
    GrammarSpec,
)
from plates.types import UNKNOWN_COUNTRY, PlateRead

#: character -> its confusable group (characters outside every group map to themselves).
_GROUP_OF: dict[str, str] = {c: group for group in CONFUSABLE_GROUPS for c in group}


@dataclass(frozen=True)
class CompiledPattern:
    """One pattern of one grammar, expanded per character position.

    Attributes:
        spec: the grammar row.
        pattern: the pattern text, e.g. ``"NN NNN LLL"``.
        slots: allowed characters at each position of the compact plate number.
        group_lengths: characters per printed group, e.g. ``(2, 3, 3)``.
    """

    spec: GrammarSpec
    pattern: str
    slots: tuple[frozenset[str], ...]
    group_lengths: tuple[int, ...]

    @property
    def length(self) -> int:
        return len(self.slots)

    def region_of(self, text: str) -> str | None:
        """The region group of a fitted ``text``, or None when the grammar has none."""
        if self.spec.region_group is None:
            return None
        start = sum(self.group_lengths[: self.spec.region_group])
        return text[start : start + self.group_lengths[self.spec.region_group]]

    def region_ok(self, text: str) -> bool:
        region = self.region_of(text)
        return region is None or self.spec.regions is None or region in self.spec.regions

    def display(self, text: str) -> str:
        """``text`` with a space between the printed groups."""
        parts, start = [], 0
        for n in self.group_lengths:
            parts.append(text[start : start + n])
            start += n
        return " ".join(parts)


def _compile(spec: GrammarSpec, pattern: str) -> CompiledPattern:
    letters = frozenset(spec.letters)
    classes = {"N": frozenset(DIGITS), "L": letters, "A": frozenset(DIGITS) | letters}
    slots: list[frozenset[str]] = []
    lengths: list[int] = []
    for group in pattern.replace("|", " ").split():
        unknown = set(group) - set(classes)
        if unknown:
            raise ValueError(f"grammar {spec.name}: pattern {pattern!r} has unknown classes {sorted(unknown)}")
        slots.extend(classes[c] for c in group)
        lengths.append(len(group))
    if spec.region_group is not None and not 0 <= spec.region_group < len(lengths):
        raise ValueError(f"grammar {spec.name}: region_group {spec.region_group} outside {pattern!r}")
    return CompiledPattern(spec, pattern, tuple(slots), tuple(lengths))


def known_countries() -> tuple[str, ...]:
    """Every country some grammar reads, in table order."""
    return tuple(dict.fromkeys(spec.country for spec in GRAMMARS))


def _check_countries(countries: Iterable[str]) -> tuple[str, ...]:
    if isinstance(countries, str):
        raise ValueError(f"countries: expected a sequence of country codes, got the string {countries!r}")
    known = known_countries()
    out = []
    for code in countries:
        if code not in known:
            close = difflib.get_close_matches(str(code).upper(), known, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown country {code!r}: expected some of {list(known)}{hint}")
        out.append(code)
    if not out:
        raise ValueError("countries: expected at least one country code")
    return tuple(out)


@lru_cache(maxsize=64)
def _patterns_for(countries: tuple[str, ...]) -> tuple[CompiledPattern, ...]:
    return tuple(_compile(spec, pattern) for spec in GRAMMARS if spec.country in countries for pattern in spec.patterns)


def patterns_for(countries: Sequence[str] | None = None) -> tuple[CompiledPattern, ...]:
    """The compiled patterns of ``countries`` (default :data:`DEFAULT_COUNTRIES`), table order.

    Raises:
        ValueError: an unknown country code (with a did-you-mean).
    """
    if countries is None:
        countries = DEFAULT_COUNTRIES
    if isinstance(countries, str):
        raise ValueError(f"countries: expected a sequence of country codes, got the string {countries!r}")
    return _patterns_for(_check_countries(tuple(countries)))


def grammar_by_name(name: str) -> GrammarSpec:
    """The grammar row called ``name``.

    Raises:
        ValueError: no such grammar (with a did-you-mean).
    """
    for spec in GRAMMARS:
        if spec.name == name:
            return spec
    names = [spec.name for spec in GRAMMARS]
    close = difflib.get_close_matches(str(name), names, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown grammar {name!r}: expected one of {names}{hint}")


def clean(text: str) -> str:
    """Upper case, Cyrillic look-alikes to Latin, only letters A-Z and digits 0-9 kept.

    ``"01 kg-123 АВС"`` (Cyrillic ABC) -> ``"01KG123ABC"``.
    """
    out = []
    for ch in text.upper():
        ch = CYRILLIC_TO_LATIN.get(ch, ch)
        if ("A" <= ch <= "Z") or ("0" <= ch <= "9"):
            out.append(ch)
    return "".join(out)


def allowed_confusable(char: str, slot: frozenset[str]) -> str | None:
    """``char`` if ``slot`` allows it, else the first member of its confusable group that it
    allows, else None."""
    if char in slot:
        return char
    for other in _GROUP_OF.get(char, ""):
        if other in slot:
            return other
    return None


def confusable_group(char: str) -> str:
    """The confusable group holding ``char`` (``"0ODQ"`` for ``"D"``), or ``char`` alone."""
    return _GROUP_OF.get(char, char)


def fit_pattern(compact: str, pattern: CompiledPattern) -> tuple[str, int] | None:
    """Fit cleaned ``compact`` text to one pattern.

    Returns:
        ``(fitted text, number of characters replaced)``, or None when some character has no
        allowed confusable or the region code is not allowed.
    """
    if len(compact) != pattern.length:
        return None
    out = []
    replaced = 0
    for ch, slot in zip(compact, pattern.slots, strict=True):
        fitted = allowed_confusable(ch, slot)
        if fitted is None:
            return None
        replaced += fitted != ch
        out.append(fitted)
    text = "".join(out)
    if not pattern.region_ok(text):
        return None
    return text, replaced


def make_read(text: str, pattern: CompiledPattern | None, substitutions: int = 0) -> PlateRead:
    """The :class:`PlateRead` of an already fitted ``text`` (``pattern`` None: country unknown)."""
    if pattern is None:
        return PlateRead(text=text, display=text, country=UNKNOWN_COUNTRY, grammar=None)
    region = pattern.region_of(text)
    names = dict(pattern.spec.region_names)
    return PlateRead(
        text=text,
        display=pattern.display(text),
        country=pattern.spec.country,
        grammar=pattern.spec.name,
        region=region,
        region_name=names.get(region) if region is not None else None,
        substitutions=substitutions,
    )


def parse_plate(text: str, countries: Sequence[str] | None = None) -> PlateRead | None:
    """Fit free text (an OCR read, a typed plate) to the grammars of ``countries``.

    Args:
        text: any text; spaces, dashes and Cyrillic twins are fine.
        countries: ISO codes whose grammars to try, default :data:`DEFAULT_COUNTRIES`
            (KG, KZ, RU); ``("US",)`` for the US benchmark.

    Returns:
        The best fit (fewest confusable replacements, then table order); a
        ``country="unknown"`` read of the cleaned text when no grammar fits; None when the text
        has no letter or digit at all.

    Raises:
        ValueError: an unknown country code.
    """
    patterns = patterns_for(countries)
    compact = clean(text)
    if not compact:
        return None
    best: tuple[int, int, str, CompiledPattern] | None = None
    for order, pattern in enumerate(patterns):
        fitted = fit_pattern(compact, pattern)
        if fitted is None:
            continue
        key = (fitted[1], order, fitted[0], pattern)
        if best is None or key[:2] < best[:2]:
            best = key
    if best is None:
        return make_read(compact, None)
    replaced, _, fitted_text, pattern = best
    return make_read(fitted_text, pattern, replaced)


def confusable_variants(
    text: str,
    countries: Sequence[str] | None = None,
    max_substitutions: int = 2,
    limit: int = 200,
) -> list[tuple[str, int]]:
    """Plate numbers one confusion or a few away from ``text`` that still fit a grammar.

    Used for fuzzy registry lookup: the OCR may have read ``8`` for ``B``; the registry then
    ranks what it holds. A variant replaces characters only within their confusable group and
    only with characters its grammar allows at that position.

    Args:
        text: the read (any spacing/case).
        countries: as :func:`parse_plate`.
        max_substitutions: most characters replaced in one variant.
        limit: most variants returned.

    Returns:
        ``(canonical text, substitutions from the cleaned read)`` without duplicates, fewest
        substitutions first, the read itself (0) first when it fits; for a read that fits no
        grammar, the variants within the confusable groups at every position.
    """
    if max_substitutions < 0:
        raise ValueError(f"max_substitutions: expected >= 0, got {max_substitutions}")
    compact = clean(text)
    if not compact:
        return []
    found: dict[str, int] = {}
    patterns = [p for p in patterns_for(countries) if p.length == len(compact)]
    slot_lists: list[tuple[frozenset[str], ...] | None] = [p.slots for p in patterns] or [None]
    for pattern, slots in zip(patterns or [None], slot_lists, strict=True):
        options = []
        for i, ch in enumerate(compact):
            group = confusable_group(ch)
            allowed = [c for c in dict.fromkeys(ch + group) if slots is None or c in slots[i]]
            options.append(allowed)
        if any(not opts for opts in options):
            continue
        positions = [i for i, opts in enumerate(options) if len(opts) > 1 or opts[0] != compact[i]]
        forced = [i for i, opts in enumerate(options) if compact[i] not in opts]
        for n_free in range(0, max_substitutions + 1):
            for chosen in itertools.combinations(positions, n_free):
                if not set(forced) <= set(chosen):
                    continue
                per_pos = [
                    [c for c in options[i] if c != compact[i]] if i in chosen else [compact[i]]
                    for i in range(len(compact))
                ]
                for combo in itertools.product(*per_pos):
                    candidate = "".join(combo)
                    if pattern is not None and not pattern.region_ok(candidate):
                        continue
                    subs = sum(a != b for a, b in zip(candidate, compact, strict=True))
                    if subs <= max_substitutions and found.get(candidate, subs + 1) > subs:
                        found[candidate] = subs
    ranked = sorted(found.items(), key=lambda kv: (kv[1], kv[0]))
    return ranked[:limit]
