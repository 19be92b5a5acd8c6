"""Vote a track's frame reads into one plate, character by character (pure).

Each frame read offers grammar fits (:mod:`plates.decode`), each with a probability per
character. The vote:

1. picks the *format* (grammar pattern, or "unknown" of some length) with the most support,
   support = sum over frames of frame weight x the frame's fit probability (exp of its mean
   log-probability); "unknown" fits count at a discount, since a grammar fit is the stronger
   claim;
2. for that format, averages each position's character probabilities over the frames,
   weighted by frame quality (plate size x sharpness), dividing by the weight of *every* frame
   that read anything, so frames that saw another format lower the confidence;
3. reports the weakest position's winning share as the plate's confidence. Under the threshold
   the plate is "unreadable": a person reads it, it never goes into a fine on its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from plates.grammars import fit_pattern, make_read, patterns_for
from plates.types import (
    UNKNOWN_COUNTRY,
    FrameRead,
    GrammarFit,
    PlateCandidate,
    PlateResult,
)

#: Support of an "unknown"-country fit relative to a grammar fit.
UNKNOWN_DISCOUNT = 0.3

FormatKey = tuple[str | None, int]


def _key(fit: GrammarFit) -> FormatKey:
    return fit.read.grammar, len(fit.read.text)


def _pattern_for(fit: GrammarFit):
    if fit.read.grammar is None:
        return None
    for pattern in patterns_for([fit.read.country]):
        if pattern.spec.name == fit.read.grammar and pattern.length == len(fit.read.text):
            return pattern
    raise ValueError(f"no pattern of grammar {fit.read.grammar} has {len(fit.read.text)} characters")


def _vote_format(
    frames: Sequence[FrameRead], key: FormatKey, total_weight: float
) -> tuple[str, list[dict[str, float]], GrammarFit, list[int]]:
    """Per-position vote shares for one format: (text, shares, a template fit, frame indices)."""
    template: GrammarFit | None = None
    shares: list[dict[str, float]] = []
    used = []
    for index, frame in enumerate(frames):
        fit = next((f for f in frame.fits if _key(f) == key), None)
        if fit is None:
            continue
        used.append(index)
        if template is None or fit.score > template.score:
            template = fit
        if not shares:
            shares = [{} for _ in fit.slots]
        for position, slot in enumerate(fit.slots):
            for ch, p in slot.probs:
                shares[position][ch] = shares[position].get(ch, 0.0) + frame.quality * p / total_weight
    if template is None:
        raise ValueError(f"no frame has a fit of format {key}")
    text = "".join(max(share, key=share.get) for share in shares)
    return text, shares, template, used


def vote(
    frames: Sequence[FrameRead],
    min_confidence: float,
    max_alternatives: int = 5,
) -> PlateResult:
    """The plate of a track from its frame reads.

    Args:
        frames: the reads of the track's best frames (any order); frames with no fit are
            counted as seen-but-unread.
        min_confidence: a plate whose weakest character's share is under this is
            "unreadable", in (0, 1].
        max_alternatives: most alternatives listed.

    Returns:
        The voted :class:`PlateResult`; ``"no_plate"`` when ``frames`` is empty.
    """
    if not 0.0 < min_confidence <= 1.0:
        raise ValueError(f"min_confidence: expected a value in (0, 1], got {min_confidence}")
    if not frames:
        return PlateResult("no_plate", None, None, UNKNOWN_COUNTRY, None, 0.0, reason="no plate found in any crop")
    total_weight = sum(f.quality for f in frames)
    support: dict[FormatKey, float] = {}
    for frame in frames:
        for fit in frame.fits:
            weight = frame.quality * math.exp(fit.score) * (UNKNOWN_DISCOUNT if fit.read.grammar is None else 1.0)
            support[_key(fit)] = support.get(_key(fit), 0.0) + weight
    boxes_all = tuple({f.crop_index: f.box for f in frames}.values())
    crops_all = tuple(dict.fromkeys(f.crop_index for f in frames))
    if not support:
        return PlateResult(
            "unreadable",
            None,
            None,
            UNKNOWN_COUNTRY,
            None,
            0.0,
            crops_used=crops_all,
            boxes=boxes_all,
            reason="a plate was found but no character was read",
        )
    ranked = sorted(support, key=lambda k: -support[k])
    text, shares, template, used = _vote_format(frames, ranked[0], total_weight)
    pattern = _pattern_for(template)
    if pattern is not None and fit_pattern(text, pattern) is None:
        text = template.read.text  # the per-position winners broke the region code: trust one frame
    read = make_read(text, pattern, template.read.substitutions)
    confidences = tuple(shares[i].get(ch, 0.0) for i, ch in enumerate(text))
    confidence = min(confidences)

    alternatives: list[PlateCandidate] = []
    seen = {text}

    def add(candidate_text: str, candidate_pattern, conf: float) -> None:
        if candidate_text in seen or len(alternatives) >= max_alternatives * 3:
            return
        if candidate_pattern is not None and fit_pattern(candidate_text, candidate_pattern) is None:
            return
        seen.add(candidate_text)
        candidate = make_read(candidate_text, candidate_pattern)
        alternatives.append(PlateCandidate(candidate.text, candidate.display, candidate.country, conf))

    # Runner-up character at each position, the least sure positions first.
    for position, share in enumerate(shares):
        for ch, p in sorted(share.items(), key=lambda cp: -cp[1])[1:3]:
            if p < 0.02:
                continue
            swapped = text[:position] + ch + text[position + 1 :]
            add(
                swapped,
                pattern,
                min(p, *(c for i, c in enumerate(confidences) if i != position)) if len(confidences) > 1 else p,
            )
    for key in ranked[1:]:
        other_text, other_shares, other_template, _ = _vote_format(frames, key, total_weight)
        other_conf = min(s.get(ch, 0.0) for s, ch in zip(other_shares, other_text, strict=True))
        add(other_text, _pattern_for(other_template), other_conf)
    alternatives.sort(key=lambda c: -c.confidence)

    status = "read" if confidence >= min_confidence else "unreadable"
    reason = "" if status == "read" else f"confidence {confidence:.2f} under the threshold {min_confidence:.2f}"
    return PlateResult(
        status=status,
        text=read.text,
        display=read.display,
        country=read.country,
        grammar=read.grammar,
        confidence=confidence,
        char_confidences=confidences,
        alternatives=tuple(alternatives[:max_alternatives]),
        crops_used=tuple(dict.fromkeys(frames[i].crop_index for i in used)),
        boxes=tuple({frames[i].crop_index: frames[i].box for i in used}.values()),
        reason=reason,
    )
