"""Exact and confusable-variant lookup over any "fetch these plates" function (pure core).

Both adapters use this, so they rank candidates identically: the read is fitted to the grammars
(:func:`plates.grammars.parse_plate`), its variants within the confusable groups that the
grammar allows at each position are generated (:func:`plates.grammars.confusable_variants`),
all of them are fetched in one batch, and the registered ones are ranked by how many
characters had to change (then by plate, for a stable order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from plates.grammars import confusable_variants, parse_plate
from registry_adapters.base import AccessContext, AccessRecorder, Candidate, LookupResult, VehicleRecord

Fetch = Callable[[Sequence[str]], Mapping[str, VehicleRecord]]


def canonical_plate(text: str, countries: Sequence[str] | None = None) -> str:
    """The canonical form of a typed or read plate (``"01 123 abc"`` -> ``"01123ABC"``).

    Raises:
        ValueError: the text has no letter or digit.
    """
    read = parse_plate(text, countries)
    if read is None:
        raise ValueError(f"plate: expected letters or digits, got {text!r}")
    return read.text


def lookup_plates(
    plates: Sequence[str],
    access: AccessContext,
    recorder: AccessRecorder,
    fetch: Fetch,
    *,
    fuzzy: bool = True,
    countries: Sequence[str] | None = None,
    max_substitutions: int = 2,
) -> list[LookupResult]:
    """Look several read plates up with one fetch.

    Every queried plate is recorded *before* the fetch (an access attempt is an access), and
    every other plate whose record comes back as a candidate is recorded after it.

    Args:
        plates: read plates, any spacing/case.
        access: who and why.
        recorder: the access recorder (its failure stops the lookup).
        fetch: returns the registered records among the given canonical plates.
        fuzzy: also look up confusable variants.
        countries: grammars for canonical form and variants (default KG, KZ, RU).
        max_substitutions: most characters a variant changes.

    Returns:
        One :class:`LookupResult` per plate, in order.
    """
    queries = [canonical_plate(p, countries) for p in plates]
    variants: list[list[tuple[str, int]]] = []
    for query in queries:
        found = confusable_variants(query, countries, max_substitutions) if fuzzy else []
        if query not in {v for v, _ in found}:
            found = [(query, 0), *found]
        variants.append(found)
    for query in queries:
        recorder.record(access.actor, access.purpose, query, access.case_id)
    wanted = sorted({v for found in variants for v, _ in found})
    records = fetch(wanted)
    results = []
    for query, found in zip(queries, variants, strict=True):
        exact = records.get(query)
        candidates = sorted(
            (Candidate(records[v], n) for v, n in found if v != query and v in records),
            key=lambda c: (c.substitutions, c.record.plate),
        )
        for candidate in candidates:
            recorder.record(access.actor, access.purpose, candidate.record.plate, access.case_id)
        if exact is not None:
            results.append(LookupResult(query, "exact", exact, tuple(candidates)))
        elif len(candidates) == 1:
            results.append(LookupResult(query, "fuzzy", candidates[0].record, tuple(candidates)))
        elif candidates:
            results.append(LookupResult(query, "ambiguous", None, tuple(candidates)))
        else:
            results.append(LookupResult(query, "not_found", None, ()))
    return results
