"""Fit an OCR read (character slots with probabilities) to the country grammars (pure).

The text-level rule of :mod:`plates.grammars` (replace a character by its confusable twin only
where a position demands a digit or a letter) becomes probabilistic here: at each position the
OCR's probability of a character the grammar does not allow there is *folded* onto that
character's first allowed twin (``P(O) + P(0) + P(D) + P(Q)`` goes to ``0`` in a digit slot), and
probability of characters without an allowed twin is lost. A position's confidence is the
folded probability of its best allowed character, so a grammar that needs many unlikely
characters scores low instead of being forced.

A plate image can hold more text than the number: a US state name, the "KG" caption, a dealer
frame. So the decoder tries several *line selections* (all lines; the tall ones; the tallest),
takes the grammars' captions out, and, when a selection has more characters than a pattern,
tries every contiguous window of it, with a penalty for each character left out that grows with
how sure the OCR was of it. When it has one character too few (a small region digit lost), the
missing one is put back as a slot shared by the characters the grammar and region allow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from plates.grammars import CompiledPattern, allowed_confusable, fit_pattern, make_read, patterns_for
from plates.types import CharRead, GrammarFit, LineRead, TextRead

#: Line selections tried: keep the lines at least this tall relative to the tallest.
LINE_SELECTIONS: tuple[float, ...] = (0.0, 0.7, 0.95)
#: Log-penalty for each line left out (prefers using every line when both fit).
LINE_DROP_PENALTY = math.log(0.9)
#: Log-penalty per character of a caption ("KG") left out: nearly free, it is expected text.
CAPTION_PENALTY = math.log(0.95)
#: Log-penalty per character replaced by a confusable twin (same folded probability otherwise:
#: "07208OX" beats "072080X" when the OCR read an O).
SUBSTITUTION_PENALTY = math.log(0.9)
#: Log-penalty for a format DOMAIN.md marks uncertain (kg_2016_foreign).
UNCERTAIN_PENALTY = math.log(0.5)
#: Probability mass given to a character the OCR missed (shared by the characters that fit).
INSERTION_PRIOR = 0.8
#: Floor of probabilities in logs.
EPS = 1e-6


def fold_slot(slot: CharRead, allowed: frozenset[str]) -> CharRead | None:
    """The slot's probabilities moved onto the characters ``allowed`` accepts.

    Returns:
        A slot over allowed characters only (not renormalised: the mass of characters without
        an allowed twin is the OCR's evidence against this grammar), or None when nothing of
        the slot's mass can go anywhere.
    """
    folded: dict[str, float] = {}
    for ch, p in slot.probs:
        target = allowed_confusable(ch, allowed)
        if target is not None:
            folded[target] = folded.get(target, 0.0) + p
    if not folded:
        return None
    return CharRead(tuple(sorted(folded.items(), key=lambda cp: -cp[1])))


def _drop_penalty(slot: CharRead) -> float:
    """Log-penalty for leaving a character out: cheap for noise, dear for a confident read."""
    return math.log(max(EPS, 1.0 - 0.9 * slot.confidence))


def _selections(lines: Sequence[LineRead]) -> list[tuple[tuple[LineRead, ...], float]]:
    """(lines, penalty) for each distinct line selection."""
    seen: set[tuple[int, ...]] = set()
    out = []
    for min_ratio in LINE_SELECTIONS:
        keep = tuple(i for i, line in enumerate(lines) if line.height_ratio >= min_ratio)
        if not keep or keep in seen:
            continue
        seen.add(keep)
        out.append((tuple(lines[i] for i in keep), (len(lines) - len(keep)) * LINE_DROP_PENALTY))
    return out


def fit_slots(
    slots: Sequence[CharRead],
    countries: Sequence[str] | None = None,
    penalty: float = 0.0,
    only: CompiledPattern | None = None,
) -> list[GrammarFit]:
    """Every grammar fit of exactly these character slots, best first.

    Args:
        slots: character slots, as many as the pattern has characters.
        countries: grammars to try (see :func:`plates.grammars.patterns_for`).
        penalty: log-penalty already incurred (dropped characters or lines), added to the score.
        only: try this one pattern instead of every pattern of ``countries``.
    """
    fits = []
    for pattern in (only,) if only is not None else patterns_for(countries):
        if pattern.length != len(slots):
            continue
        folded = [fold_slot(slot, allowed) for slot, allowed in zip(slots, pattern.slots, strict=True)]
        if any(f is None for f in folded):
            continue
        text = "".join(f.char for f in folded)
        fitted = fit_pattern(text, pattern)
        if fitted is None:  # region code not allowed
            continue
        logp = sum(math.log(max(EPS, f.confidence)) for f in folded)
        substitutions = sum(a != b for a, b in zip(text, (s.char for s in slots), strict=True))
        # The OCR's own top choice is evidence too, and an uncertain format is less likely.
        logp += substitutions * SUBSTITUTION_PENALTY + (0.0 if pattern.spec.certain else UNCERTAIN_PENALTY)
        fits.append(GrammarFit(make_read(text, pattern, substitutions), tuple(folded), (logp + penalty) / len(slots)))
    fits.sort(key=lambda f: -f.score)
    return fits


def unknown_fit(slots: Sequence[CharRead], penalty: float = 0.0) -> GrammarFit | None:
    """The read as it is, country "unknown" (each slot's own best character)."""
    if not slots:
        return None
    text = "".join(s.char for s in slots)
    logp = sum(math.log(max(EPS, s.confidence)) for s in slots)
    return GrammarFit(make_read(text, None), tuple(slots), (logp + penalty) / len(slots))


def _matches(slots: Sequence[CharRead], text: str) -> bool:
    """Whether the slots' best characters spell ``text`` up to confusables ("K6" spells "KG")."""
    return len(slots) == len(text) and all(
        allowed_confusable(s.char, frozenset(c)) is not None for s, c in zip(slots, text, strict=True)
    )


def _line_variants(line: tuple[CharRead, ...], captions: Sequence[str]) -> list[tuple[tuple[CharRead, ...], float]]:
    """One line as read, with a whole caption taken out anywhere, and with a caption fragment
    taken off its start (the "KG" left of a motorcycle plate's letters, half read)."""
    out = [(line, 0.0)]
    for caption in captions:
        n = len(caption)
        for start in range(0, len(line) - n + 1):
            if _matches(line[start : start + n], caption):
                out.append((line[:start] + line[start + n :], n * CAPTION_PENALTY))
        if len(line) >= n and _matches(line[:n], caption):
            continue  # the whole caption starts the line: taking half of it off is no reading
        fragments = {caption[i:j] for i in range(n) for j in range(i + 1, n + 1) if j - i < n}
        for fragment in sorted(fragments):
            k = len(fragment)
            if len(line) > k and _matches(line[:k], fragment):
                out.append((line[k:], k * CAPTION_PENALTY))
    return out


def _caption_variants(lines: Sequence[LineRead], captions: Sequence[str]) -> list[tuple[tuple[CharRead, ...], float]]:
    """The selected lines' characters joined, for every combination of per-line caption removals."""
    if not captions:
        return [(tuple(c for line in lines for c in line.chars), 0.0)]
    combos: list[tuple[tuple[CharRead, ...], float]] = [((), 0.0)]
    for line in lines:
        combos = [
            (chars + variant, penalty + extra)
            for chars, penalty in combos
            for variant, extra in _line_variants(line.chars, captions)
        ]
    seen: dict[tuple[int, ...], float] = {}
    out = []
    for chars, penalty in combos:
        key = tuple(id(c) for c in chars)
        if key not in seen:
            seen[key] = penalty
            out.append((chars, penalty))
    return out


def _insertion_slot(
    slots: Sequence[CharRead], position: int, pattern_slots: Sequence[frozenset[str]], pattern
) -> CharRead | None:
    """A slot for a character the OCR missed at ``position``: every character that the grammar
    allows there *and* that keeps the region code valid, equally likely, times
    :data:`INSERTION_PRIOR`. A KG region "0N" read as "N" gets its 0 back with high confidence;
    a missing digit of the number gets ten 0.08 choices, i.e. an unreadable plate."""
    tops = [s.char for s in slots]
    valid = []
    for ch in sorted(pattern_slots[position]):
        probe = tops[:position] + [ch] + tops[position:]
        folded = [allowed_confusable(c, allowed) for c, allowed in zip(probe, pattern_slots, strict=True)]
        if None not in folded and pattern.region_ok("".join(folded)):
            valid.append(ch)
    if not valid:
        return None
    return CharRead(tuple((ch, INSERTION_PRIOR / len(valid)) for ch in valid))


def decode(read: TextRead, countries: Sequence[str] | None = None, max_window_drop: int = 6) -> list[GrammarFit]:
    """All grammar fits of an OCR read, best first, then the best "unknown" reading.

    Tried for each line selection: the grammars' captions left out; any contiguous window when
    there are more characters than a pattern has (a state name, a frame); one missed character
    put back when there is one too few.

    Args:
        read: the OCR's lines.
        countries: grammars to try (default KG, KZ, RU).
        max_window_drop: most characters a window may leave out of a line selection.

    Returns:
        Grammar fits sorted by score (one per grammar pattern, its best reading), then one
        ``country="unknown"`` fit of all lines (empty only when the read has no character).
    """
    patterns = patterns_for(countries)
    best: dict[tuple[str | None, int], GrammarFit] = {}

    def keep(fit: GrammarFit) -> None:
        key = (fit.read.grammar, len(fit.read.text))
        if key not in best or fit.score > best[key].score:
            best[key] = fit

    for selected, line_penalty in _selections(read.lines):
        variants: dict[tuple[str, ...], list[tuple[tuple[CharRead, ...], float]]] = {}
        for pattern in patterns:
            captions = pattern.spec.captions  # a KZ caption is no reason to cut a KG read
            if captions not in variants:
                variants[captions] = _caption_variants(selected, captions)
            length = pattern.length
            for slots, caption_penalty in variants[captions]:
                n = len(slots)
                if length <= n <= length + max_window_drop:
                    for start in range(0, n - length + 1):
                        left_out = slots[:start] + slots[start + length :]
                        penalty = line_penalty + caption_penalty + sum(_drop_penalty(s) for s in left_out)
                        for fit in fit_slots(slots[start : start + length], None, penalty, pattern):
                            keep(fit)
                elif n == length - 1:
                    for position in range(length):
                        extra = _insertion_slot(slots, position, pattern.slots, pattern)
                        if extra is None:
                            continue
                        filled = slots[:position] + (extra,) + slots[position:]
                        for fit in fit_slots(filled, None, line_penalty + caption_penalty, pattern):
                            keep(fit)
    fits = sorted(best.values(), key=lambda f: -f.score)
    unknown = unknown_fit(read.chars)
    if unknown is not None:
        fits.append(unknown)
    return fits


def merge_fits(*fit_lists: Sequence[GrammarFit]) -> list[GrammarFit]:
    """The best fit per format (grammar, length) over several reads of one plate, best first;
    the "unknown" fit of the first read that has one goes last."""
    best: dict[tuple[str | None, int], GrammarFit] = {}
    unknown: GrammarFit | None = None
    for fits in fit_lists:
        for fit in fits:
            if fit.read.grammar is None:
                unknown = unknown or fit
                continue
            key = (fit.read.grammar, len(fit.read.text))
            if key not in best or fit.score > best[key].score:
                best[key] = fit
    merged = sorted(best.values(), key=lambda f: -f.score)
    return merged + ([unknown] if unknown is not None else [])
