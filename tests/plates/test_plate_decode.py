"""Grammar decoding of OCR character probabilities and multi-frame voting (pure, no models)."""

from __future__ import annotations

import pytest

from plates.decode import decode, fold_slot, merge_fits
from plates.types import CharRead, FrameRead, LineRead, PlateBox, TextRead
from plates.voting import vote

BOX = PlateBox((0.0, 0.0, 100.0, 25.0), 0.9, "yolo")


def line(
    text: str, p: float = 0.95, ratio: float = 1.0, runner_up: dict[int, tuple[str, float]] | None = None
) -> LineRead:
    """A line whose characters have probability ``p`` (the rest on 'X', or a given runner-up)."""
    slots = []
    for i, ch in enumerate(text):
        other, q = (runner_up or {}).get(i, ("X" if ch != "X" else "Y", 1 - p))
        first = p if i not in (runner_up or {}) else 1 - q
        slots.append(CharRead(((ch, first), (other, q))))
    return LineRead(tuple(slots), ratio)


def read(*lines: LineRead) -> TextRead:
    return TextRead(tuple(lines))


def best(text_read: TextRead, countries=None):
    return decode(text_read, countries)[0]


def test_fold_moves_probability_onto_allowed_twins() -> None:
    """In a digit slot, O's probability goes to 0; a letter without a digit twin is lost."""
    slot = CharRead((("O", 0.7), ("0", 0.2), ("A", 0.1)))
    folded = fold_slot(slot, frozenset("0123456789"))
    assert folded.char == "0" and folded.confidence == pytest.approx(0.9)
    assert fold_slot(CharRead((("A", 1.0),)), frozenset("0123456789")) is None


@pytest.mark.parametrize(
    ("lines", "countries", "text", "grammar"),
    [
        ((line("01123ABC"),), None, "01123ABC", "kg_2016"),
        ((line("O1I23A8C"),), None, "01123ABC", "kg_2016"),  # confusables by position
        ((line("01"), line("KG", ratio=0.5), line("123ABC")), None, "01123ABC", "kg_2016"),  # region field + caption
        (
            (line("07208"), line("KG", ratio=0.5), line("OX", ratio=0.9)),
            None,
            "07208OX",
            "kg_2016_short",
        ),  # two-line moto
        # a half-read, unsure caption left of the letters (with a sure G, 07208GOX is a valid plate)
        ((line("07208"), line("GOX", runner_up={0: ("C", 0.45)})), None, "07208OX", "kg_2016_short"),
        ((line("1123ABC"),), None, "01123ABC", "kg_2016"),  # lost leading region 0 put back
        ((line("A123BC77"),), None, "A123BC77", "ru_1993"),
        ((line("123ABC02"),), None, "123ABC02", "kz_2012"),
        ((line("TEXAS", ratio=0.6), line("CRK4732")), ["US"], "CRK4732", "us_generic"),  # state name dropped
        ((line("NOFAST"),), None, "NOFAST", None),  # fits nothing: unknown, as read
    ],
)
def test_decode_table(lines, countries, text, grammar) -> None:
    """The best fit of typical OCR reads."""
    fit = best(read(*lines), countries)
    assert (fit.read.text, fit.read.grammar) == (text, grammar)


def test_missing_region_zero_is_confident_but_missing_digit_is_not() -> None:
    """Only the region code constrains an inserted character enough to be sure of it."""
    region = best(read(line("1123ABC")))
    assert region.char_confidences[0] == pytest.approx(0.8)
    digit = [f for f in decode(read(line("0112ABC"))) if f.read.grammar == "kg_2016"][0]
    assert min(digit.char_confidences) < 0.1


def test_unknown_fit_is_last_and_decode_of_nothing_is_empty() -> None:
    """A grammar fit always ranks before the unknown reading; no characters, no fits."""
    fits = decode(read(line("01123ABC")))
    assert fits[-1].read.country == "unknown" and fits[0].read.country == "KG"
    assert decode(read()) == []


def test_merge_keeps_the_best_fit_per_format() -> None:
    """merge_fits keeps one fit per (grammar, length), best score, unknown last."""
    weak = decode(read(line("01123ABC", p=0.6)))
    strong = decode(read(line("01123ABC", p=0.99)))
    merged = merge_fits(weak, strong)
    assert merged[0].score == strong[0].score
    assert [f.read.grammar for f in merged].count("kg_2016") == 1
    assert merged[-1].read.grammar is None


def frame(text_read: TextRead, quality: float = 1.0, index: int = 0) -> FrameRead:
    return FrameRead(index, BOX, quality, tuple(decode(text_read)), text_read)


def test_vote_fixes_a_character_one_frame_got_wrong() -> None:
    """Two frames read B, a third reads E (B its runner-up): the weighted vote says B."""
    frames = [
        frame(read(line("01123ABC")), 1.0, 0),
        frame(read(line("01123ABC")), 1.0, 1),
        frame(read(line("01123AEC", runner_up={6: ("B", 0.3)})), 1.0, 2),
    ]
    result = vote(frames, min_confidence=0.5)
    assert (result.status, result.text, result.display, result.country) == ("read", "01123ABC", "01 123 ABC", "KG")
    assert result.crops_used == (0, 1, 2)
    assert 0.5 < result.confidence < 0.95
    assert any(a.text == "01123AEC" for a in result.alternatives)


def test_low_confidence_is_unreadable_with_the_guess_kept() -> None:
    """Under the threshold: status unreadable, text kept for the reviewer, reason given."""
    result = vote([frame(read(line("01123ABC", p=0.5)))], min_confidence=0.6)
    assert result.status == "unreadable" and result.text == "01123ABC"
    assert "under the threshold" in result.reason


def test_disagreeing_formats_lower_the_confidence() -> None:
    """A frame that read another format counts against the winner's confidence."""
    agree = vote([frame(read(line("01123ABC"))), frame(read(line("01123ABC")))], 0.5)
    split = vote([frame(read(line("01123ABC"))), frame(read(line("A123BC77")))], 0.5)
    assert split.confidence < agree.confidence
    assert split.confidence <= 0.5 + 1e-9


def test_no_frames_is_no_plate_and_empty_reads_are_unreadable() -> None:
    """No views: no_plate. Views without characters: unreadable, no text."""
    assert vote([], 0.6).status == "no_plate"
    blank = vote([FrameRead(0, BOX, 1.0, (), read())], 0.6)
    assert (blank.status, blank.text) == ("unreadable", None)


def test_vote_rejects_bad_threshold() -> None:
    """The threshold must be in (0, 1]."""
    with pytest.raises(ValueError, match="min_confidence"):
        vote([], 0.0)
